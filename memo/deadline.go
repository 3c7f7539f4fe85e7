package memo

import (
	"context"
	"sync/atomic"
)

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
	if !c.coarseClock || parent.Done() != nil || c.o.BackendTimeout < 10*coarseResolution {
		return nil, false
	}
	now := coarseNow()
	st := slot.Load()
	if st == nil || now-st.created >= int64(coarseResolution) || st.ctx.Err() != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.o.BackendTimeout-coarseResolution)
		st = &sharedTimeout{ctx: ctx, cancel: cancel, created: now}
		slot.Store(st)
	}
	return valuesCtx{Context: st.ctx, values: parent}, true
}
