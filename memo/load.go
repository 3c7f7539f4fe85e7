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

// flight is what one load hands to the callers coalesced on it.
type flight[V any] struct {
	val     V
	info    Info
	private bool // not for sharing: each waiter fetches for itself
}

// slow is the read path past the L1: the backend, then a shared load.
// Exactly one of load and fetch is set; a Get's load is adapted only when
// it is needed, so a hit allocates no adapter.
func (c *Cache[V]) slow(ctx context.Context, key string, gen uint64, load LoadFunc[V], fetch FetchFunc[V]) (V, Info, error) {
	fetcher := func() FetchFunc[V] {
		if fetch != nil {
			return fetch
		}
		return loadFetch(load)
	}
	var zero V
	epoch := c.epoch.Load()
	dk := c.keys.data(gen, key)
	r := c.lookup(ctx, key, dk)
	switch r.state {
	case stateFresh:
		c.event(EventHitBackend, key, 0, nil)
		c.putL1(key, gen, epoch, r.val, r.meta)
		if c.earlyRefreshDue(r.meta, c.o.Now()) {
			c.refreshEarly(ctx, key, gen, fetcher())
		}
		return r.val, r.meta.info(SourceBackend), nil
	case stateNegative:
		c.event(EventHitNegative, key, 0, nil)
		return zero, r.meta.info(SourceBackend), ErrNotFound
	case stateStale:
		c.event(EventStaleServed, key, 0, nil)
		c.refreshAsync(ctx, key, gen, dk, r, fetcher())
		info := r.meta.info(SourceStale)
		info.Stale = true
		return r.val, info, nil
	}
	if err := ctx.Err(); err != nil {
		return zero, Info{}, err
	}
	c.event(EventMiss, key, 0, nil)
	return c.loadShared(ctx, key, gen, dk, r, fetcher())
}

// loadShared joins or starts the one load of dk in this process and waits
// for it on the caller's own context.
func (c *Cache[V]) loadShared(ctx context.Context, key string, gen uint64, dk string, r lookupResult[V], fetch FetchFunc[V]) (V, Info, error) {
	led := false
	ch := c.sf.DoChan(dk, func() (any, error) {
		led = true
		return c.fill(ctx, key, gen, dk, r, fetch)
	})
	select {
	case res := <-ch:
		f, _ := res.Val.(flight[V])
		if !led && f.private {
			// The leader's value may not be shared: load our own.
			return c.fetchAlone(ctx, key, r, fetch)
		}
		if res.Shared && !led {
			c.event(EventCoalesced, key, 0, nil)
			f.info.Coalesced = true
		}
		return f.val, f.info, res.Err
	case <-ctx.Done():
		var zero V
		return zero, Info{}, ctx.Err()
	}
}

// fetchAlone runs this caller's own fetch and stores nothing: the result of
// a Private fetch for a key is never shared or stored.
func (c *Cache[V]) fetchAlone(ctx context.Context, key string, r lookupResult[V], fetch FetchFunc[V]) (V, Info, error) {
	var zero V
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return zero, Info{}, ctx.Err()
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
	defer cancel()
	t0 := c.o.Now()
	res, err := safely(func() (Result[V], error) { return fetch(lctx, r.entry()) })
	<-c.sem
	d := c.o.Now().Sub(t0)
	if err != nil {
		c.event(EventLoadError, key, d, err)
		return zero, Info{}, err
	}
	c.event(EventLoad, key, d, nil)
	return res.Value, Info{Source: SourceLoad, CreatedAt: t0}, nil
}

// fill runs as the one flight for dk in this process. It takes the
// distributed lock when there is one; a caller that loses the lock waits
// for the value to land instead of loading.
func (c *Cache[V]) fill(callerCtx context.Context, key string, gen uint64, dk string, r lookupResult[V], fetch FetchFunc[V]) (flight[V], error) {
	started := c.o.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(callerCtx), c.o.LoadTimeout+c.o.LockWait)
	defer cancel()
	// Degraded: the backend just failed (the caller's read, or the breaker
	// has seen a failure). Fail open within the callers' budget: no lock,
	// no re-check, and the store (if any) happens in the background.
	if r.state == stateUnknown || c.brk.degraded() {
		return c.loadAndStore(ctx, key, gen, dk, r, started, fetch, true)
	}
	if c.o.Locker != nil {
		release, res, done := c.lockOrWait(ctx, key, dk)
		if done {
			return res.f, res.err
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
	// stored it before we took the lock). If the backend does not answer,
	// load anyway (fail-open); the store is then skipped.
	again := c.lookup(ctx, key, dk)
	switch again.state {
	case stateFresh:
		return flight[V]{val: again.val, info: again.meta.info(SourceBackend)}, nil
	case stateNegative:
		return flight[V]{}, ErrNotFound
	case stateUnknown:
		if r.has {
			again.val, again.has, again.meta = r.val, true, r.meta // keep the stale value for stale-if-error
		}
	}
	return c.loadAndStore(ctx, key, gen, dk, again, started, fetch, false)
}

type outcome[V any] struct {
	f   flight[V]
	err error
}

// lockOrWait takes the lock for dk, or waits for the holder's value. It
// returns the release function when this caller should load (nil release:
// load without the lock), or done=true with the value that landed.
func (c *Cache[V]) lockOrWait(ctx context.Context, key, dk string) (release func(context.Context) error, res outcome[V], done bool) {
	name := lockName(dk)
	tryAcquire := func() (func(context.Context) error, bool, error) {
		actx, cancel := context.WithTimeout(ctx, c.o.BackendTimeout)
		defer cancel()
		return c.o.Locker.TryAcquire(actx, name)
	}
	release, ok, err := tryAcquire()
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
			return nil, outcome[V]{f: flight[V]{val: r.val, info: r.meta.info(SourceBackend)}}, true
		case stateNegative:
			return nil, outcome[V]{err: ErrNotFound}, true
		case stateUnknown:
			if c.brk.isOpen() {
				return nil, res, false // the backend is down: load (fail-open)
			}
			continue // the backend did not answer: keep waiting
		}
		// Definitely nothing: the holder may have died. Try to take over.
		if release, ok, err := tryAcquire(); err == nil && ok {
			return release, res, false
		}
	}
}

// loadAndStore calls fetch (bounded by MaxConcurrentLoads and
// LoadTimeout), then stores the result unless the key changed meanwhile.
func (c *Cache[V]) loadAndStore(ctx context.Context, key string, gen uint64, dk string, r lookupResult[V], started time.Time, fetch FetchFunc[V], storeLater bool) (flight[V], error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return flight[V]{}, ctx.Err()
	}
	lctx, cancel := context.WithTimeout(ctx, c.o.LoadTimeout)
	t0 := c.o.Now()
	res, err := safely(func() (Result[V], error) { return fetch(lctx, r.entry()) })
	d := c.o.Now().Sub(t0)
	cancel()
	<-c.sem

	if err != nil {
		return c.loadFailed(ctx, key, gen, dk, r, started, d, err)
	}
	c.event(EventLoad, key, d, nil)

	now := c.o.Now()
	if res.Private {
		return flight[V]{val: res.Value, info: Info{Source: SourceLoad, CreatedAt: now}, private: true}, nil
	}
	if res.NoStore || res.TTL < 0 {
		return flight[V]{val: res.Value, info: Info{Source: SourceLoad, CreatedAt: now}}, nil
	}
	data, ttl, hard, err := c.encodeResult(res, now, d, gen)
	info := Info{Source: SourceLoad, CreatedAt: now, Expires: now.Add(ttl)}
	if err != nil {
		c.o.Logger.Warn("memo: cannot encode loaded value; not cached", "key", key, "err", err)
		return flight[V]{val: res.Value, info: info}, nil
	}
	epoch := c.epoch.Load()
	storeIt := func() {
		if c.store(ctx, key, dk, r, started, data, hard) {
			c.putL1(key, gen, epoch, res.Value, entryMeta{soft: info.Expires, created: now, load: d,
				swr: res.StaleWhileRevalidate, sie: res.StaleIfError})
		}
	}
	if storeLater && r.state != stateUnknown {
		c.background(storeIt)
	} else {
		storeIt()
	}
	return flight[V]{val: res.Value, info: info}, nil
}

// loadFailed handles a failed fetch: not-found is cached negatively, a
// stale value within its stale-if-error window is served, other errors are
// returned (and never cached).
func (c *Cache[V]) loadFailed(ctx context.Context, key string, gen uint64, dk string, r lookupResult[V], started time.Time, d time.Duration, err error) (flight[V], error) {
	var pe *PanicError
	if errors.As(err, &pe) {
		c.stats.loadPanics.Add(1)
		c.o.Logger.Error("memo: loader panicked", "key", key, "panic", pe.Value)
	}
	if errors.Is(err, ErrNotFound) {
		c.event(EventLoad, key, d, nil)
		c.storeNotFound(ctx, key, dk, r, started, c.o.Now(), d, gen)
		return flight[V]{}, ErrNotFound
	}
	c.event(EventLoadError, key, d, err)
	if r.has && c.o.Now().Before(r.meta.soft.Add(c.sie(r.meta.sie))) && pe == nil {
		c.event(EventStaleServed, key, 0, err)
		info := r.meta.info(SourceStale)
		info.Stale = true
		return flight[V]{val: r.val, info: info}, nil
	}
	return flight[V]{}, err
}

// storeNotFound caches a loader's "not found" for NegativeTTL, if set,
// with the same compare-and-swap protection as a value.
func (c *Cache[V]) storeNotFound(ctx context.Context, key, dk string, r lookupResult[V], started, now time.Time, d time.Duration, gen uint64) {
	if c.o.NegativeTTL <= 0 {
		return
	}
	neg := c.jitter(c.o.NegativeTTL)
	data, err := c.env.Encode(nil, codec.Meta{Kind: codec.KindNotFound, CreatedAt: now, SoftExpiry: now.Add(neg), LoadDuration: d, Generation: gen})
	if err == nil {
		c.store(ctx, key, dk, r, started, data, neg)
	}
}

func (c *Cache[V]) swr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return c.o.StaleTTL
}

func (c *Cache[V]) sie(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return c.o.StaleIfError
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
// refresh. r is what the caller saw; the refresh is skipped if the entry
// changed since.
func (c *Cache[V]) refreshAsync(ctx context.Context, key string, gen uint64, dk string, r lookupResult[V], fetch FetchFunc[V]) {
	// One refresh goroutine per key at a time: stale hits that arrive
	// while a refresh runs do not each park a goroutine waiting for it.
	if _, busy := c.refreshing.LoadOrStore(dk, struct{}{}); busy {
		return
	}
	if !c.background(func() {
		defer c.refreshing.Delete(dk)
		c.refresh(ctx, key, gen, dk, &r, fetch)
	}) {
		c.refreshing.Delete(dk)
	}
}

// refresh runs one background refresh of dk. r is what the caller saw, or
// nil to look it up first (early refresh from an L1 hit, which must not
// wait on the backend).
func (c *Cache[V]) refresh(ctx context.Context, key string, gen uint64, dk string, r *lookupResult[V], fetch FetchFunc[V]) {
	c.stats.refreshes.Add(1)
	started := c.o.Now()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
	defer cancel()
	again := c.lookup(rctx, key, dk)
	if r == nil {
		if again.state != stateFresh && again.state != stateMiss {
			return
		}
		r = &again
	} else if again.state == stateUnknown || !bytes.Equal(again.raw, r.raw) {
		// Refresh only what the caller saw: if the entry changed since
		// (another refresh landed, Set, Invalidate, expiry), skip.
		return
	}
	if c.o.Locker != nil {
		release, ok, err := c.o.Locker.TryAcquire(rctx, lockName(dk))
		if err != nil || !ok {
			return // another process is refreshing
		}
		defer func() { _ = release(context.WithoutCancel(rctx)) }()
	}
	_, _ = c.loadAndStore(rctx, key, gen, dk, *r, started, fetch, false)
}

// earlyRefreshDue implements the XFetch test: refresh a fresh value early
// with a probability that grows as expiry nears, scaled by the load time δ.
func (c *Cache[V]) earlyRefreshDue(m entryMeta, now time.Time) bool {
	if c.o.Beta <= 0 || m.soft.IsZero() || m.load <= 0 {
		return false
	}
	delta := min(m.load, c.o.LoadTimeout, c.o.TTL)
	r := 1 - c.o.Rand() // (0, 1]
	gap := time.Duration(-float64(delta) * c.o.Beta * math.Log(r))
	return !now.Add(gap).Before(m.soft)
}

// refreshEarly starts an XFetch refresh of key in the background; the
// caller (often an L1 hit) does not wait on the backend.
func (c *Cache[V]) refreshEarly(ctx context.Context, key string, gen uint64, fetch FetchFunc[V]) {
	dk := c.keys.data(gen, key)
	if _, busy := c.refreshing.LoadOrStore(dk, struct{}{}); busy {
		return
	}
	c.event(EventEarlyRefresh, key, 0, nil)
	if !c.background(func() {
		defer c.refreshing.Delete(dk)
		c.refresh(ctx, key, gen, dk, nil, fetch)
	}) {
		c.refreshing.Delete(dk)
	}
}
