package memo

import (
	"bytes"
	"context"
	"errors"
	"math"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// loadShared joins or starts the one load of dk in this process and waits
// for it on the caller's own context.
func (c *Cache[V]) loadShared(ctx context.Context, key string, gen uint64, dk string, r lookupResult[V], load LoadFunc[V]) (V, error) {
	led := false
	ch := c.sf.DoChan(dk, func() (any, error) {
		led = true
		return c.fill(ctx, key, gen, dk, r, load)
	})
	select {
	case res := <-ch:
		if res.Shared && !led {
			c.event(EventCoalesced, key, 0, nil)
		}
		v, _ := res.Val.(V)
		return v, res.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// fill runs as the one flight for dk in this process. It takes the
// distributed lock when there is one; a caller that loses the lock waits
// for the value to land instead of loading.
func (c *Cache[V]) fill(callerCtx context.Context, key string, gen uint64, dk string, r lookupResult[V], load LoadFunc[V]) (V, error) {
	started := c.o.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(callerCtx), c.o.LoadTimeout+c.o.LockWait)
	defer cancel()
	if c.o.Locker != nil {
		release, res, done := c.lockOrWait(ctx, key, dk)
		if done {
			return res.val, res.err
		}
		if release != nil {
			defer func() {
				rctx, rcancel := context.WithTimeout(context.WithoutCancel(callerCtx), c.o.BackendTimeout)
				defer rcancel()
				_ = release(rctx)
			}()
		}
	}
	// Re-check: the value may have landed between the caller's lookup and
	// this flight (a previous flight just finished, or another process
	// stored it before we took the lock).
	if r.state != stateUnknown {
		again := c.lookup(ctx, key, dk)
		switch again.state {
		case stateFresh:
			return again.val, nil
		case stateNegative:
			var zero V
			return zero, ErrNotFound
		}
		r = again
	}
	return c.loadAndStore(ctx, key, gen, dk, r, started, load)
}

type outcome[V any] struct {
	val V
	err error
}

// lockOrWait takes the lock for dk, or waits for the holder's value. It
// returns the release function when this caller should load (nil release:
// load without the lock), or done=true with the value that landed.
func (c *Cache[V]) lockOrWait(ctx context.Context, key, dk string) (release func(context.Context) error, res outcome[V], done bool) {
	name := lockName(dk)
	release, ok, err := c.o.Locker.TryAcquire(ctx, name)
	if err != nil {
		c.o.Logger.Warn("memo: lock failed; loading without it", "key", key, "err", err)
		return nil, res, false
	}
	if ok {
		return release, res, false
	}
	c.event(EventLockWait, key, 0, nil)
	wake := c.addWaiter(dk)
	defer c.removeWaiter(dk, wake)
	deadline := time.NewTimer(c.o.LockWait)
	defer deadline.Stop()
	poll := time.NewTicker(c.o.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-wake:
		case <-poll.C:
		case <-deadline.C:
			c.event(EventLockWaitExpired, key, 0, nil)
			return nil, res, false
		case <-ctx.Done():
			res.err = ctx.Err()
			return nil, res, true
		}
		r := c.lookup(ctx, key, dk)
		switch r.state {
		case stateFresh, stateStale:
			return nil, outcome[V]{val: r.val}, true
		case stateNegative:
			return nil, outcome[V]{err: ErrNotFound}, true
		}
		// Still nothing: the holder may have died. Try to take over.
		if release, ok, err := c.o.Locker.TryAcquire(ctx, name); err == nil && ok {
			return release, res, false
		}
	}
}

// loadAndStore calls the loader (bounded by MaxConcurrentLoads and
// LoadTimeout), then stores the result unless the key changed meanwhile.
func (c *Cache[V]) loadAndStore(ctx context.Context, key string, gen uint64, dk string, r lookupResult[V], started time.Time, load LoadFunc[V]) (V, error) {
	var zero V
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	lctx, cancel := context.WithTimeout(ctx, c.o.LoadTimeout)
	t0 := c.o.Now()
	v, err := safeLoad(lctx, load)
	d := c.o.Now().Sub(t0)
	cancel()
	<-c.sem

	if err != nil {
		var pe *PanicError
		if errors.As(err, &pe) {
			c.stats.loadPanics.Add(1)
			c.o.Logger.Error("memo: loader panicked", "key", key, "panic", pe.Value)
		}
		if errors.Is(err, ErrNotFound) {
			c.event(EventLoad, key, d, nil)
			if c.o.NegativeTTL > 0 {
				now := c.o.Now()
				neg := c.jitter(c.o.NegativeTTL)
				data, eerr := c.env.Encode(nil, codec.Meta{Kind: codec.KindNotFound, CreatedAt: now, SoftExpiry: now.Add(neg), LoadDuration: d, Generation: gen})
				if eerr == nil {
					c.store(ctx, key, dk, r, started, data, neg)
				}
			}
			return zero, ErrNotFound
		}
		c.event(EventLoadError, key, d, err)
		return zero, err
	}
	c.event(EventLoad, key, d, nil)

	now := c.o.Now()
	soft := c.jitter(c.o.TTL)
	m := codec.Meta{CreatedAt: now, SoftExpiry: now.Add(soft), LoadDuration: d, Generation: gen}
	data, err := c.env.Encode(v, m)
	if err != nil {
		c.o.Logger.Warn("memo: cannot encode loaded value; not cached", "key", key, "err", err)
		return v, nil
	}
	epoch := c.epoch.Load()
	if c.store(ctx, key, dk, r, started, data, soft+c.o.StaleTTL) {
		c.putL1(key, gen, epoch, v, entryMeta{soft: m.SoftExpiry, created: now, load: d})
	}
	return v, nil
}

// store writes data under dk only if dk still holds what the lookup saw
// (compare-and-swap), so a load that raced with Set or Invalidate never
// overwrites their result. It reports whether it stored, and wakes
// waiters in other processes when it did.
func (c *Cache[V]) store(ctx context.Context, key, dk string, r lookupResult[V], started time.Time, data []byte, ttl time.Duration) bool {
	if r.state == stateUnknown {
		// The lookup failed: there is nothing safe to compare against.
		c.event(EventStoreSkipped, key, 0, nil)
		return false
	}
	if c.o.Now().Sub(started) >= c.tombstoneTTL() {
		// An invalidation's tombstone may have expired since the lookup.
		c.event(EventStoreSkipped, key, 0, nil)
		return false
	}
	stored := false
	err := c.call(ctx, func(ctx context.Context) error {
		if _, ok := c.b.(backend.Swapper); !ok {
			stored = true
			return c.b.Set(ctx, dk, data, ttl)
		}
		var err error
		stored, err = backend.CompareAndSwap(ctx, c.b, dk, r.raw, data, ttl)
		return err
	})
	if err != nil || !stored {
		c.event(EventStoreSkipped, key, 0, err)
		return false
	}
	c.publish(ctx, msgLanded, dk)
	return true
}

// refreshAsync reloads key in the background (once per process; once
// across processes with a Locker), for stale-while-revalidate and early
// refresh.
func (c *Cache[V]) refreshAsync(ctx context.Context, key string, gen uint64, dk string, raw []byte, load LoadFunc[V]) {
	select {
	case <-c.closed:
		return
	default:
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// A separate flight key: a foreground miss must not join a refresh
		// that may give up when another process holds the lock.
		ch := c.sf.DoChan("refresh\x00"+dk, func() (any, error) {
			c.stats.refreshes.Add(1)
			started := c.o.Now()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
			defer cancel()
			// Refresh only what the caller saw: if the entry changed since
			// (another refresh landed, Set, Invalidate, expiry), skip.
			if again := c.lookup(rctx, key, dk); again.state == stateUnknown || !bytes.Equal(again.raw, raw) {
				return nil, nil
			}
			if c.o.Locker != nil {
				release, ok, err := c.o.Locker.TryAcquire(rctx, lockName(dk))
				if err != nil || !ok {
					return nil, nil // another process is refreshing
				}
				defer func() { _ = release(context.WithoutCancel(rctx)) }()
			}
			return c.loadAndStore(rctx, key, gen, dk, lookupResult[V]{state: stateFresh, raw: raw}, started, load)
		})
		<-ch
	}()
}

// maybeEarlyRefresh implements XFetch: refresh a fresh value early with a
// probability that grows as expiry nears, scaled by the load time δ.
func (c *Cache[V]) maybeEarlyRefresh(ctx context.Context, key string, gen uint64, m entryMeta, now time.Time, load LoadFunc[V]) {
	if c.o.Beta <= 0 || m.soft.IsZero() || m.load <= 0 {
		return
	}
	delta := min(m.load, c.o.LoadTimeout, c.o.TTL)
	r := 1 - c.o.Rand() // (0, 1]
	gap := time.Duration(-float64(delta) * c.o.Beta * math.Log(r))
	if now.Add(gap).Before(m.soft) {
		return
	}
	c.event(EventEarlyRefresh, key, 0, nil)
	dk := c.keys.data(gen, key)
	var raw []byte
	if err := c.call(ctx, func(ctx context.Context) (err error) {
		raw, err = c.b.Get(ctx, dk)
		return err
	}); err != nil && !errors.Is(err, backend.ErrNotFound) {
		return
	}
	c.refreshAsync(ctx, key, gen, dk, raw, load)
}
