package middleware

import (
	"context"
	"time"
)

// budget is what is left of one request's backend time. memo bounds each
// of its backend calls by BackendTimeout; the middleware's own calls for a
// request (tag generations, the purge sequence, variant counters, the
// pass marker) share what the request's lookup left, so that a failing
// backend costs a request about one BackendTimeout, not one per call.
// Time spent in the handler does not count. A budget is used by one
// goroutine.
type budget struct {
	full     time.Duration
	deadline time.Time
}

// newBudget returns a budget of full from which spent is already used.
func newBudget(full, spent time.Duration) *budget {
	return &budget{full: full, deadline: time.Now().Add(full - spent)}
}

// ctx bounds ctx by the budget. While most of the budget is left, memo's
// own per-call timeout bounds the call and no context is made (the hot
// path stays free of allocations); cancel must be called.
func (b *budget) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if time.Until(b.deadline) >= b.full-b.full/8 {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, b.deadline)
}

// exclude moves the deadline by d, time spent outside the backend.
func (b *budget) exclude(d time.Duration) { b.deadline = b.deadline.Add(d) }
