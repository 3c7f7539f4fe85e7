package memo

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
	"unsafe"
)

// Stats counts what a [Cache] did since it was created. All counters only
// grow, except BreakerOpen. Every event is counted exactly once, HitsL1
// included (it is spread over per-goroutine stripes so that parallel hits
// do not contend, and summed when read); a snapshot taken while Gets run
// may or may not include the events in flight.
type Stats struct {
	HitsL1          uint64 // Gets answered from the in-process L1
	HitsBackend     uint64 // Gets answered from the backend
	NegativeHits    uint64 // Gets answered with a cached ErrNotFound
	Misses          uint64 // Gets that found nothing usable
	Loads           uint64 // loader calls
	LoadErrors      uint64 // loader calls that failed (including panics)
	LoadPanics      uint64 // loader calls that panicked
	Coalesced       uint64 // Gets that shared another caller's load
	StaleServed     uint64 // stale values returned while refreshing
	EarlyRefreshes  uint64 // background refreshes started by XFetch
	Refreshes       uint64 // background refreshes run (stale or early)
	LockWaits       uint64 // loads that waited for another process's value
	LockWaitExpired uint64 // waits that gave up and loaded themselves
	StoresSkipped   uint64 // loaded values not stored: invalidated or set meanwhile
	BackendErrors   uint64 // backend calls that failed or timed out
	CorruptEntries  uint64 // stored entries that failed to decode
	BreakerTrips    uint64 // times the circuit breaker opened
	BreakerOpen     bool   // whether the breaker is open now
	L1Invalidations uint64 // L1 entries evicted by messages from other nodes
}

// EventKind names a cache event reported to an [Observer].
type EventKind uint8

// Event kinds.
const (
	EventHitL1 EventKind = iota
	EventHitBackend
	EventHitNegative
	EventMiss
	EventLoad
	EventLoadError
	EventCoalesced
	EventStaleServed
	EventEarlyRefresh
	EventLockWait
	EventLockWaitExpired
	EventStoreSkipped
	EventBackendError
	EventCorrupt
	EventBreakerOpen
	EventBreakerClose
)

var eventNames = [...]string{"hit_l1", "hit_backend", "hit_negative", "miss", "load", "load_error",
	"coalesced", "stale_served", "early_refresh", "lock_wait", "lock_wait_expired", "store_skipped",
	"backend_error", "corrupt", "breaker_open", "breaker_close"}

// String returns the event's snake_case name, such as "hit_l1".
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one thing a [Cache] did.
type Event struct {
	Kind     EventKind
	Key      string        // the caller's key (not the backend key); empty for breaker events
	Duration time.Duration // load duration for EventLoad/EventLoadError
	Err      error         // the error for error events
}

// Observer receives cache events, for metrics. Observe is called
// synchronously on the request path and must be fast and safe for
// concurrent use.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

// Stats returns a snapshot of the Cache's counters.
func (c *Cache[V]) Stats() Stats {
	s := &c.stats
	return Stats{
		HitsL1: s.l1.load(), HitsBackend: s.hitsBackend.Load(), NegativeHits: s.negativeHits.Load(),
		Misses: s.misses.Load(), Loads: s.loads.Load(), LoadErrors: s.loadErrors.Load(),
		LoadPanics: s.loadPanics.Load(), Coalesced: s.coalesced.Load(), StaleServed: s.staleServed.Load(),
		EarlyRefreshes: s.earlyRefreshes.Load(), Refreshes: s.refreshes.Load(), LockWaits: s.lockWaits.Load(),
		LockWaitExpired: s.lockWaitExpired.Load(), StoresSkipped: s.storesSkipped.Load(),
		BackendErrors: s.backendErrors.Load(), CorruptEntries: s.corrupt.Load(),
		BreakerTrips: s.breakerTrips.Load(), BreakerOpen: c.breaker.isOpen(), L1Invalidations: s.l1Invalidations.Load(),
	}
}

// event counts one event and reports it to the Observer.
func (c *Cache[V]) event(k EventKind, key string, d time.Duration, err error) {
	if k == EventHitL1 {
		c.stats.l1.add(c.nanotime())
	} else if ctr := c.stats.counter(k); ctr != nil {
		ctr.Add(1)
	}
	if c.opts.Observer != nil {
		c.opts.Observer.Observe(Event{Kind: k, Key: key, Duration: d, Err: err})
	}
}

type counters struct {
	l1 hitCounter // the hottest counter: striped so cores do not fight over one cache line

	hitsBackend, negativeHits, misses, loads, loadErrors, loadPanics, coalesced,
	staleServed, earlyRefreshes, refreshes, lockWaits, lockWaitExpired, storesSkipped,
	backendErrors, corrupt, breakerTrips, l1Invalidations atomic.Uint64
}

func (c *counters) counter(k EventKind) *atomic.Uint64 {
	switch k {
	case EventHitBackend:
		return &c.hitsBackend
	case EventHitNegative:
		return &c.negativeHits
	case EventMiss:
		return &c.misses
	case EventLoad:
		return &c.loads
	case EventLoadError:
		return &c.loadErrors
	case EventCoalesced:
		return &c.coalesced
	case EventStaleServed:
		return &c.staleServed
	case EventEarlyRefresh:
		return &c.earlyRefreshes
	case EventLockWait:
		return &c.lockWaits
	case EventLockWaitExpired:
		return &c.lockWaitExpired
	case EventStoreSkipped:
		return &c.storesSkipped
	case EventBackendError:
		return &c.backendErrors
	case EventCorrupt:
		return &c.corrupt
	case EventBreakerOpen:
		return &c.breakerTrips
	}
	return nil
}

// hitCounter counts L1 hits, the hottest event of all: two cores must not
// take turns owning one cache line for it, which can double the cost of a
// parallel hit. It is an exact counter spread over cache-line-padded
// stripes. An increment picks its stripe by hashing the address of its own
// stack frame with a salt: the address is stable for a goroutine and
// different for every live goroutine (each has its own stack, 2 KiB or
// more, aligned to its size), so the goroutines running at one time mostly
// use different stripes. When two of them do share one, the increments
// collide and a compare-and-swap fails; the counter then picks a new salt
// (at most once per millisecond), which spreads them again. An increment
// costs one uncontended atomic operation and no runtime call.
//
// Stats reads the sum of the stripes: every hit is counted exactly once;
// a Stats that runs during hits may or may not include those in flight.
type hitCounter struct {
	_       [cacheLine]byte // off the cache line of what precedes it
	salt    atomic.Uint64   // changed only when stripes collide
	rerolls atomic.Int64    // when salt last changed (the hot-path clock)
	_       [cacheLine - 16]byte
	stripes [hitStripes]struct {
		n atomic.Uint64
		_ [cacheLine - 8]byte
	}
}

const (
	cacheLine      = 64
	hitStripeBits  = 5 // 32 stripes, 2 KiB: room for many cores
	hitStripes     = 1 << hitStripeBits
	goroutineShift = 11 // the smallest goroutine stack is 2 KiB
)

// add counts one hit; now is the hot-path clock, in nanoseconds.
func (s *hitCounter) add(now int64) {
	var frame byte
	g := uint64(uintptr(unsafe.Pointer(&frame)) >> goroutineShift)
	// Fibonacci hashing: the top bits of the product depend on every bit
	// of g, whatever the stack sizes (their low bits are zero).
	stripe := &s.stripes[((g^s.salt.Load())*0x9e3779b97f4a7c15)>>(64-hitStripeBits)].n
	if n := stripe.Load(); !stripe.CompareAndSwap(n, n+1) {
		s.collided(stripe, now)
	}
}

// collided counts the hit whose compare-and-swap on stripe failed: another
// core incremented it between the load and the swap, so two running
// goroutines share it.
func (s *hitCounter) collided(stripe *atomic.Uint64, now int64) {
	stripe.Add(1)
	s.reroll(now)
}

// reroll picks a new salt, unless one was picked in the last millisecond.
func (s *hitCounter) reroll(now int64) {
	last := s.rerolls.Load()
	if now-last < int64(time.Millisecond) && now >= last {
		return
	}
	if s.rerolls.CompareAndSwap(last, now) {
		s.salt.Store(rand.Uint64())
	}
}

func (s *hitCounter) load() uint64 {
	var n uint64
	for i := range s.stripes {
		n += s.stripes[i].n.Load()
	}
	return n
}
