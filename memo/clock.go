package memo

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is a process-wide clock read with one atomic load, refreshed
// every millisecond by one goroutine that runs only while some Cache uses
// it. The L1 hit path reads it instead of time.Now, which costs 100+ ns on
// some virtual machines — more than the rest of an L1 hit.
var coarseClock struct {
	mu   sync.Mutex
	refs int
	stop chan struct{}
	now  atomic.Int64
}

const coarseResolution = time.Millisecond

// l1ExpirySlack is how long before its expiry an entry stops being served
// from L1 when L1 reads the coarse clock: several ticks of it, so a tick
// delayed by scheduling does not let an expired entry through.
const l1ExpirySlack = 5 * coarseResolution

func acquireCoarseClock() {
	c := &coarseClock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs++
	if c.refs > 1 {
		return
	}
	c.now.Store(time.Now().UnixNano())
	stop := make(chan struct{})
	c.stop = stop
	go func() {
		t := time.NewTicker(coarseResolution)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.now.Store(time.Now().UnixNano())
			case <-stop:
				return
			}
		}
	}()
}

func releaseCoarseClock() {
	c := &coarseClock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs--
	if c.refs == 0 {
		close(c.stop)
	}
}

func coarseNow() int64 { return coarseClock.now.Load() }

// Backend calls are bounded by Options.BackendTimeout. context.WithTimeout
// costs about a microsecond and four allocations here, a noticeable share of
// a 20 µs Redis round trip, so calls whose context can never be cancelled
// (the detached, shared backend reads of the hot path) share one timeout
// context per Cache and millisecond instead: each call's effective timeout
// is between BackendTimeout−1ms and BackendTimeout.

// sharedTimeout is a timeout context reused for a millisecond.
type sharedTimeout struct {
	ctx     context.Context
	cancel  context.CancelFunc // released by the timer; kept for vet
	created int64              // coarse clock, unix nanos
}

// valuesCtx takes its deadline, Done and Err from one context and its
// values (trace ids and the like) from another.
type valuesCtx struct {
	context.Context
	values context.Context
}

func (v valuesCtx) Value(key any) any { return v.values.Value(key) }

// detachedTimeout returns a context for a backend call under parent, which
// cannot be cancelled, bounded by BackendTimeout; ok=false when the shared
// form does not apply (a fake clock, whose time does not move on its own).
func (c *Cache[V]) detachedTimeout(parent context.Context, slot *atomic.Pointer[sharedTimeout]) (context.Context, bool) {
	if parent.Done() != nil {
		return nil, false
	}
	st, ok := c.sharedTimeoutOf(slot)
	if !ok {
		return nil, false
	}
	if parent == context.Background() || parent == context.TODO() {
		return st, true // no values to carry: nothing to wrap
	}
	return valuesCtx{Context: st, values: parent}, true
}

// sharedTimeoutOf returns the shared timeout context of slot, made anew
// once a millisecond; ok=false when the shared form does not apply (see
// detachedTimeout).
func (c *Cache[V]) sharedTimeoutOf(slot *atomic.Pointer[sharedTimeout]) (context.Context, bool) {
	if !c.coarseClock || c.opts.BackendTimeout < 10*coarseResolution {
		return nil, false
	}
	now := coarseNow()
	st := slot.Load()
	if st == nil || now-st.created >= int64(coarseResolution) || st.ctx.Err() != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.BackendTimeout-coarseResolution)
		st = &sharedTimeout{ctx: ctx, cancel: cancel, created: now}
		slot.Store(st)
	}
	return st.ctx, true
}

func randFloat() float64 { return rand.Float64() }
