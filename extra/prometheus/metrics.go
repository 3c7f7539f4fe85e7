package cachekitprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// cacheMetric is one counter series read from memo.Stats. Series that
// share a name (hits by tier, loads by outcome) differ by label value and
// share one Desc.
type cacheMetric struct {
	name, help   string
	label, value string // optional second label and its value
	get          func(memo.Stats) uint64
}

type cacheDesc struct {
	cacheMetric
	desc *prometheus.Desc
}

const loadsHelp = "Loader calls by outcome: ok (memo.Stats.Loads) or error (memo.Stats.LoadErrors, panics included)."

var cacheMetrics = []cacheMetric{
	{"hits_total", "Gets answered from the cache, by tier.", "tier", "l1", func(s memo.Stats) uint64 { return s.HitsL1 }},
	{"hits_total", "Gets answered from the cache, by tier.", "tier", "backend", func(s memo.Stats) uint64 { return s.HitsBackend }},
	{"negative_hits_total", "Gets answered with a cached not-found.", "", "", func(s memo.Stats) uint64 { return s.NegativeHits }},
	{"misses_total", "Gets that found nothing usable in the cache.", "", "", func(s memo.Stats) uint64 { return s.Misses }},
	{"loads_total", loadsHelp, "outcome", "ok", func(s memo.Stats) uint64 { return s.Loads }},
	{"loads_total", loadsHelp, "outcome", "error", func(s memo.Stats) uint64 { return s.LoadErrors }},
	{"load_panics_total", "Loader calls that panicked (also counted as loads with outcome error).", "", "", func(s memo.Stats) uint64 { return s.LoadPanics }},
	{"coalesced_total", "Gets that shared another caller's load.", "", "", func(s memo.Stats) uint64 { return s.Coalesced }},
	{"stale_served_total", "Stale values returned while a refresh ran.", "", "", func(s memo.Stats) uint64 { return s.StaleServed }},
	{"refreshes_total", "Background refreshes run (trigger any), of which started by early refresh (early).", "trigger", "any", func(s memo.Stats) uint64 { return s.Refreshes }},
	{"refreshes_total", "Background refreshes run (trigger any), of which started by early refresh (early).", "trigger", "early", func(s memo.Stats) uint64 { return s.EarlyRefreshes }},
	{"lock_waits_total", "Loads that waited for another process's value (outcome all), of which gave up and loaded themselves (expired).", "outcome", "all", func(s memo.Stats) uint64 { return s.LockWaits }},
	{"lock_waits_total", "Loads that waited for another process's value (outcome all), of which gave up and loaded themselves (expired).", "outcome", "expired", func(s memo.Stats) uint64 { return s.LockWaitExpired }},
	{"stores_skipped_total", "Loaded values not stored because the key was invalidated or set meanwhile.", "", "", func(s memo.Stats) uint64 { return s.StoresSkipped }},
	{"backend_errors_total", "Backend calls that failed or timed out.", "", "", func(s memo.Stats) uint64 { return s.BackendErrors }},
	{"corrupt_entries_total", "Stored entries that failed to decode (treated as misses).", "", "", func(s memo.Stats) uint64 { return s.CorruptEntries }},
	{"l1_invalidations_total", "L1 entries evicted by messages from other nodes.", "", "", func(s memo.Stats) uint64 { return s.L1Invalidations }},
	{"breaker_trips_total", "Times the circuit breaker opened.", "", "", func(s memo.Stats) uint64 { return s.BreakerTrips }},
}

type lockMetric struct {
	name, help string
	get        func(lockx.Stats) float64
}

type lockDesc struct {
	lockMetric
	desc *prometheus.Desc
}

var lockMetrics = []lockMetric{
	{"lock_acquired_total", "Locks granted.", func(s lockx.Stats) float64 { return float64(s.Acquired) }},
	{"lock_contended_total", "Lock attempts that found the lock held elsewhere.", func(s lockx.Stats) float64 { return float64(s.Contended) }},
	{"lock_retry_waits_total", "Lock calls that had to retry at least once.", func(s lockx.Stats) float64 { return float64(s.Waits) }},
	{"lock_wait_seconds_total", "Time Lock calls spent waiting between attempts.", func(s lockx.Stats) float64 { return s.WaitTime.Seconds() }},
	{"lock_failed_total", "Lock and TryLock calls that returned an error.", func(s lockx.Stats) float64 { return float64(s.Failed) }},
	{"lock_lost_total", "Held locks that ended other than by Unlock.", func(s lockx.Stats) float64 { return float64(s.Lost) }},
}

// middlewareMetric is one series read from middleware.InvalidationStats beyond its
// engine counters.
type middlewareMetric struct {
	name, help string
	kind       prometheus.ValueType
	get        func(middleware.InvalidationStats) float64
}

type mwDesc struct {
	middlewareMetric
	desc *prometheus.Desc
}

var middlewareMetrics = []middlewareMetric{
	{"invalidation_failures_total", "Failed attempts to invalidate a URL after an unsafe request.", prometheus.CounterValue, func(s middleware.InvalidationStats) float64 { return float64(s.Failures) }},
	{"invalidations_landed_total", "URL invalidations that landed on a retry.", prometheus.CounterValue, func(s middleware.InvalidationStats) float64 { return float64(s.Landed) }},
	{"invalidations_dropped_total", "URL invalidations given up.", prometheus.CounterValue, func(s middleware.InvalidationStats) float64 { return float64(s.Dropped) }},
	{"invalidations_pending", "URLs whose requests bypass this node's cache until their invalidation lands.", prometheus.GaugeValue, func(s middleware.InvalidationStats) float64 { return float64(s.Pending) }},
}
