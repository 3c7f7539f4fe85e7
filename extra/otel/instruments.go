package cachekitotel

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// cacheMetric is one series read from memo.Stats. Series that share a
// name differ by one attribute and share one instrument.
type cacheMetric struct {
	name, unit, help string
	key              attribute.Key // optional attribute and its value
	value            string
	get              func(memo.Stats) uint64
}

type cacheInstrument struct {
	cacheMetric
	inst metric.Int64ObservableCounter
}

const loadsHelp = "Loader calls by outcome: ok (memo.Stats.Loads) or error (memo.Stats.LoadErrors, panics included)."

var cacheMetrics = []cacheMetric{
	{"cachekit.cache.hits", "{get}", "Gets answered from the cache, by tier.", TierKey, "l1", func(s memo.Stats) uint64 { return s.HitsL1 }},
	{"cachekit.cache.hits", "{get}", "Gets answered from the cache, by tier.", TierKey, "backend", func(s memo.Stats) uint64 { return s.HitsBackend }},
	{"cachekit.cache.negative_hits", "{get}", "Gets answered with a cached not-found.", "", "", func(s memo.Stats) uint64 { return s.NegativeHits }},
	{"cachekit.cache.misses", "{get}", "Gets that found nothing usable in the cache.", "", "", func(s memo.Stats) uint64 { return s.Misses }},
	{"cachekit.cache.loads", "{call}", loadsHelp, OutcomeKey, "ok", func(s memo.Stats) uint64 { return s.Loads }},
	{"cachekit.cache.loads", "{call}", loadsHelp, OutcomeKey, "error", func(s memo.Stats) uint64 { return s.LoadErrors }},
	{"cachekit.cache.load_panics", "{call}", "Loader calls that panicked (also counted as loads with outcome error).", "", "", func(s memo.Stats) uint64 { return s.LoadPanics }},
	{"cachekit.cache.coalesced", "{get}", "Gets that shared another caller's load.", "", "", func(s memo.Stats) uint64 { return s.Coalesced }},
	{"cachekit.cache.stale_served", "{get}", "Stale values returned while a refresh ran.", "", "", func(s memo.Stats) uint64 { return s.StaleServed }},
	{"cachekit.cache.refreshes", "{refresh}", "Background refreshes run (trigger any), of which started by early refresh (early).", TriggerKey, "any", func(s memo.Stats) uint64 { return s.Refreshes }},
	{"cachekit.cache.refreshes", "{refresh}", "Background refreshes run (trigger any), of which started by early refresh (early).", TriggerKey, "early", func(s memo.Stats) uint64 { return s.EarlyRefreshes }},
	{"cachekit.cache.lock_waits", "{wait}", "Loads that waited for another process's value (outcome all), of which gave up and loaded themselves (expired).", OutcomeKey, "all", func(s memo.Stats) uint64 { return s.LockWaits }},
	{"cachekit.cache.lock_waits", "{wait}", "Loads that waited for another process's value (outcome all), of which gave up and loaded themselves (expired).", OutcomeKey, "expired", func(s memo.Stats) uint64 { return s.LockWaitExpired }},
	{"cachekit.cache.stores_skipped", "{store}", "Loaded values not stored because the key was invalidated or set meanwhile.", "", "", func(s memo.Stats) uint64 { return s.StoresSkipped }},
	{"cachekit.cache.backend_errors", "{error}", "Backend calls that failed or timed out.", "", "", func(s memo.Stats) uint64 { return s.BackendErrors }},
	{"cachekit.cache.corrupt_entries", "{entry}", "Stored entries that failed to decode (treated as misses).", "", "", func(s memo.Stats) uint64 { return s.CorruptEntries }},
	{"cachekit.cache.l1_invalidations", "{entry}", "L1 entries evicted by messages from other nodes.", "", "", func(s memo.Stats) uint64 { return s.L1Invalidations }},
	{"cachekit.cache.breaker.trips", "{trip}", "Times the circuit breaker opened.", "", "", func(s memo.Stats) uint64 { return s.BreakerTrips }},
}

type lockMetric struct {
	name, unit, help string
	seconds          bool // a float counter in seconds
	get              func(lockx.Stats) float64
}

type lockInstrument struct {
	lockMetric
	int   metric.Int64ObservableCounter
	float metric.Float64ObservableCounter
}

var lockMetrics = []lockMetric{
	{"cachekit.lock.acquired", "{lock}", "Locks granted.", false, func(s lockx.Stats) float64 { return float64(s.Acquired) }},
	{"cachekit.lock.contended", "{attempt}", "Lock attempts that found the lock held elsewhere.", false, func(s lockx.Stats) float64 { return float64(s.Contended) }},
	{"cachekit.lock.retry_waits", "{call}", "Lock calls that had to retry at least once.", false, func(s lockx.Stats) float64 { return float64(s.Waits) }},
	{"cachekit.lock.wait_time", "s", "Time Lock calls spent waiting between attempts.", true, func(s lockx.Stats) float64 { return s.WaitTime.Seconds() }},
	{"cachekit.lock.failed", "{call}", "Lock and TryLock calls that returned an error.", false, func(s lockx.Stats) float64 { return float64(s.Failed) }},
	{"cachekit.lock.lost", "{lock}", "Held locks that ended other than by Unlock.", false, func(s lockx.Stats) float64 { return float64(s.Lost) }},
}

// middlewareMetric is one series read from middleware.InvalidationStats beyond its
// engine counters.
type middlewareMetric struct {
	name, unit, help string
	gauge            bool // an up-down counter of a current amount
	get              func(middleware.InvalidationStats) int64
}

type mwInstrument struct {
	middlewareMetric
	counter metric.Int64ObservableCounter
	gauge   metric.Int64ObservableUpDownCounter
}

var middlewareMetrics = []middlewareMetric{
	{"cachekit.http.invalidation.failures", "{invalidation}", "Failed attempts to invalidate a URL after an unsafe request.", false, func(s middleware.InvalidationStats) int64 { return int64(s.Failures) }},
	{"cachekit.http.invalidation.landed", "{invalidation}", "URL invalidations that landed on a retry.", false, func(s middleware.InvalidationStats) int64 { return int64(s.Landed) }},
	{"cachekit.http.invalidation.dropped", "{invalidation}", "URL invalidations given up.", false, func(s middleware.InvalidationStats) int64 { return int64(s.Dropped) }},
	{"cachekit.http.invalidation.pending", "{url}", "URLs whose requests bypass this node's cache until their invalidation lands.", true, func(s middleware.InvalidationStats) int64 { return int64(s.Pending) }},
}
