// Package cachekitprom exports cachekit's counters to Prometheus: the
// read-through engine ([memo.Cache] Stats and load latency), the HTTP
// middleware ([middleware.Cache] Stats) and distributed locks
// ([lockx.Locker] Stats). It lives in its own module
// (github.com/cachekit/cachekit/extra/prometheus), as go-redis's
// extra/redisprometheus does, so the core never depends on a metrics
// client.
//
// A [Collector] reads each registered source's Stats when Prometheus
// scrapes it (no work on the request path), plus a load-latency histogram
// fed by the [memo.Observer] returned from [Collector.Observer].
//
// Metrics, with Options.Namespace "cachekit" (the default); every cache
// metric has the label namespace (the name given to AddMemo/AddMiddleware)
// and every lock metric the label locker:
//
//	cachekit_hits_total{namespace,tier="l1"|"backend"}  counter
//	cachekit_negative_hits_total{namespace}             counter: cached "not found" answers
//	cachekit_misses_total{namespace}                    counter
//	cachekit_loads_total{namespace,outcome="ok"|"error"}  counter: loader calls
//	cachekit_load_panics_total{namespace}               counter: loader panics (also outcome error)
//	cachekit_load_duration_seconds{namespace,outcome="ok"|"error"} histogram (via Observer)
//	cachekit_coalesced_total{namespace}                 counter: callers that shared a load
//	cachekit_stale_served_total{namespace}              counter
//	cachekit_refreshes_total{namespace,trigger="any"|"early"} counter: background refreshes
//	cachekit_lock_waits_total{namespace,outcome="all"|"expired"} counter: loads that waited for another process
//	cachekit_stores_skipped_total{namespace}            counter: loaded values not stored (invalidated meanwhile)
//	cachekit_backend_errors_total{namespace}            counter
//	cachekit_corrupt_entries_total{namespace}           counter
//	cachekit_l1_invalidations_total{namespace}          counter
//	cachekit_breaker_trips_total{namespace}             counter
//	cachekit_breaker_open{namespace}                    gauge: 1 while the circuit breaker is open
//	cachekit_invalidation_failures_total{namespace}     counter (middleware): failed URL invalidations after unsafe requests
//	cachekit_invalidations_landed_total{namespace}      counter (middleware): of those, landed on a retry
//	cachekit_invalidations_dropped_total{namespace}     counter (middleware): of those, given up
//	cachekit_invalidations_pending{namespace}           gauge (middleware): URLs bypassing this node's cache meanwhile
//	cachekit_lock_acquired_total{locker}                counter
//	cachekit_lock_contended_total{locker}               counter: attempts that found the lock held
//	cachekit_lock_retry_waits_total{locker}             counter: Lock calls that had to retry
//	cachekit_lock_wait_seconds_total{locker}            counter
//	cachekit_lock_failed_total{locker}                  counter
//	cachekit_lock_lost_total{locker}                    counter
//
// Where a series has an "all" or "any" label value, that series is the
// total and the other values are subsets of it. Every series is read from
// one counter (none is derived by subtraction), so none can step
// backwards.
package cachekitprom
