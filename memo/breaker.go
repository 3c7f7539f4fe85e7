package memo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// call runs one backend operation under BackendTimeout and the circuit
// breaker. Misses are not failures; nor is the caller's own cancellation.
func (c *Cache[V]) call(ctx context.Context, op func(context.Context) error) error {
	if !c.breaker.allow() {
		return errBreakerOpen
	}
	return c.callThrough(ctx, op)
}

// callWrite is call for a write the caller waits for (Set, Invalidate,
// Clear): it is never refused by an open breaker, it is the probe, so a
// backend that is back takes writes at once instead of after a cooldown.
func (c *Cache[V]) callWrite(ctx context.Context, op func(context.Context) error) error {
	return c.callThrough(ctx, op)
}

// callThrough runs op and records its outcome in the breaker (see
// settleRun).
func (c *Cache[V]) callThrough(ctx context.Context, op func(context.Context) error) error {
	return c.settleRun(ctx, func() error {
		if cctx, ok := c.detachedTimeout(ctx, &c.timeouts); ok {
			return op(cctx)
		}
		cctx, cancel := context.WithTimeout(ctx, c.opts.BackendTimeout)
		defer cancel()
		return op(cctx)
	})
}

// settleRun runs call, a backend call under ctx (nil: one that cannot be
// cancelled), and records its outcome in the breaker (see settle). A panic
// of call's (a backend's bug) is recorded as a failure and goes on: a
// probe that panics must not leave the breaker waiting for its outcome,
// open for good.
func (c *Cache[V]) settleRun(ctx context.Context, call func() error) error {
	settled := false
	defer func() {
		if !settled {
			c.settle(nil, errBackendPanicked)
		}
	}()
	err := call()
	settled = true
	return c.settle(ctx, err)
}

// settle records in the breaker the outcome err of a backend call under
// ctx (nil: one that cannot be cancelled) and returns err. callThrough
// uses it for its op; a call made outside callThrough while the breaker is
// healthy (a read folded into a lock grant, see GetLocker) uses it alone.
func (c *Cache[V]) settle(ctx context.Context, err error) error {
	if err != nil && ctx != nil && ctx.Err() != nil {
		c.breaker.abandon() // the caller left; says nothing about the backend
		return err
	}
	failed := err != nil && !errors.Is(err, backend.ErrNotFound) && !errors.Is(err, backend.ErrInvalidTTL)
	switch c.breaker.record(!failed) {
	case +1:
		c.event(EventBreakerOpen, "", 0, err)
		c.opts.Logger.Warn("memo: backend failing; circuit breaker open", "namespace", c.opts.Namespace, "err", err)
	case -1:
		c.event(EventBreakerClose, "", 0, nil)
		c.opts.Logger.Info("memo: backend recovered; circuit breaker closed", "namespace", c.opts.Namespace)
	}
	if failed {
		c.event(EventBackendError, "", 0, err)
	}
	return err
}

// breaker is a consecutive-failure circuit breaker. Closed: every call goes
// through. After threshold consecutive failures it opens: calls are
// skipped until cooldown has passed, then one probe goes through (half
// open); its success closes the breaker, its failure reopens it.
type breaker struct {
	threshold int // ≤ 0 disables
	cooldown  time.Duration
	now       func() time.Time

	// healthy is true while closed with no recent failure: the fast path
	// of allow and record reads only it.
	healthy atomic.Bool

	mu       sync.Mutex
	failures int
	open     bool
	openedAt time.Time
	probing  bool
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	b := &breaker{threshold: threshold, cooldown: cooldown, now: now}
	b.healthy.Store(true)
	return b
}

// allow reports whether a backend call may proceed.
func (b *breaker) allow() bool {
	if b.threshold <= 0 || b.healthy.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.probing || b.now().Sub(b.openedAt) < b.cooldown {
		return false
	}
	b.probing = true
	return true
}

// record reports a call's outcome; it returns +1 if the breaker opened, −1
// if it closed, 0 otherwise.
func (b *breaker) record(ok bool) int {
	if b.threshold <= 0 || (ok && b.healthy.Load()) {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.failures = 0
		b.probing = false
		b.healthy.Store(true)
		if b.open {
			b.open = false
			return -1
		}
		return 0
	}
	b.healthy.Store(false)
	b.failures++
	if b.open {
		// A failed probe: stay open for another cooldown.
		b.probing = false
		b.openedAt = b.now()
		return 0
	}
	if b.failures >= b.threshold {
		b.open = true
		b.openedAt = b.now()
		return +1
	}
	return 0
}

// abandon settles a call that ended without telling anything about the
// backend (its caller left): a probe it may have been is released, so the
// next call can probe again.
func (b *breaker) abandon() {
	if b.threshold <= 0 || b.healthy.Load() {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// degraded reports whether the last backend call failed (or the breaker
// is open): a signal to fail open rather than wait on the backend.
func (b *breaker) degraded() bool {
	return b.threshold > 0 && !b.healthy.Load()
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}
