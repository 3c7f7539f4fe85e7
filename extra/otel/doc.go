// Package cachekitotel reports cachekit's counters as OpenTelemetry
// metrics through the go.opentelemetry.io/otel/metric API: the same
// instruments as extra/prometheus, for the read-through engine
// ([memo.Cache]), the HTTP middleware ([middleware.Cache]) and distributed
// locks ([lockx.Locker]). It lives in its own module
// (github.com/cachekit/cachekit/extra/otel), as go-redis's extra/redisotel
// does, so the core never depends on OpenTelemetry.
//
// Counters are asynchronous instruments observed from each source's Stats
// at collection time (no work on the request path); load latency is a
// histogram fed by the [memo.Observer] returned from [Metrics.Observer].
//
// Instruments (meter "github.com/cachekit/cachekit/extra/otel"). Cache
// instruments carry the attribute cachekit.namespace (the name given to
// AddCache or AddMiddleware), lock instruments cachekit.locker:
//
//	cachekit.cache.hits            counter {get}  cachekit.tier = l1 | backend
//	cachekit.cache.negative_hits   counter {get}  cached "not found" answers
//	cachekit.cache.misses          counter {get}
//	cachekit.cache.loads           counter {call} cachekit.outcome = ok | error
//	cachekit.cache.load_panics     counter {call} (also counted as outcome error)
//	cachekit.cache.load.duration   histogram s    cachekit.outcome = ok | error (via Observer)
//	cachekit.cache.coalesced       counter {get}  callers that shared a load
//	cachekit.cache.stale_served    counter {get}
//	cachekit.cache.refreshes       counter {refresh} cachekit.trigger = any | early
//	cachekit.cache.lock_waits      counter {wait} cachekit.outcome = all | expired
//	cachekit.cache.stores_skipped  counter {store} loaded values not stored (invalidated meanwhile)
//	cachekit.cache.backend_errors  counter {error}
//	cachekit.cache.corrupt_entries counter {entry}
//	cachekit.cache.l1_invalidations counter {entry}
//	cachekit.cache.breaker.trips   counter {trip}
//	cachekit.cache.breaker.open    gauge   {1}    1 while the circuit breaker is open
//	cachekit.http.invalidation.failures counter {invalidation} (middleware) failed URL invalidations after unsafe requests
//	cachekit.http.invalidation.landed   counter {invalidation} (middleware) of those, landed on a retry
//	cachekit.http.invalidation.dropped  counter {invalidation} (middleware) of those, given up
//	cachekit.http.invalidation.pending  updowncounter {url} (middleware) URLs bypassing this node's cache meanwhile
//	cachekit.lock.acquired         counter {lock}
//	cachekit.lock.contended        counter {attempt} attempts that found the lock held
//	cachekit.lock.retry_waits      counter {call} Lock calls that had to retry
//	cachekit.lock.wait_time        counter s
//	cachekit.lock.failed           counter {call}
//	cachekit.lock.lost             counter {lock}
//
// Where an attribute has the value "all" or "any", that series is the
// total and the other values are subsets of it.
package cachekitotel
