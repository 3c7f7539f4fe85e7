package memo

import (
	"context"
	"errors"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// The miss path, in the order it runs: a caller that missed the L1 reads
// the backend (get); on a miss it joins the one flight for the key in this
// process (join); with a Locker that flight takes the distributed lock or
// waits for the holder's value to land (lockOrWait) and re-checks the
// backend (recheckAndLoad); it loads (loadAndStore), stores with
// compare-and-swap and wakes the waiters of other processes in one round
// trip (store) — under a GetLocker's lock, after the release and only if
// someone waited (unlock, in wake.go). Without a Locker a miss waits for
// two round trips, the read and the store: the flight re-checks only when
// this node stored the key's value after the caller's read began
// (landings). One miss value carries the key through all of it.

// miss is one caller's way past the L1 for one key, and then the flight
// that loads it.
type miss[V any] struct {
	c       *Cache[V]
	key     string // the caller's key
	gen     uint64 // the namespace generation the key was read under
	dataKey string // the backend key of key under gen
	// Exactly one of load and fetch is set; a Get's load is adapted only
	// when it is needed, so a hit allocates no adapter.
	load  LoadFunc[V]
	fetch FetchFunc[V]

	// found is what the backend held when last looked at: the stale entry
	// handed to the fetch, and what the store compares against.
	found lookupResult[V]
	// started is when the flight began: a load that took longer than a
	// tombstone lives does not store (see store).
	started time.Time
	// epoch is the invalidation epoch before the first read, then before
	// the load: a value kept on this node is dropped if an invalidation
	// came after it.
	epoch uint64
	// seq is the key's invalidation sequence before the first read: the
	// load does not store if an invalidation this node heard of came after
	// it (see store).
	seq uint64
	// quiet is set while the flight holds a GetLocker's lock: its store
	// sends no "landed" message, and landed then says that a value was
	// stored or found under the lock, for the release to announce if the
	// lock was waited on (see unlock).
	quiet  bool
	landed bool
}

// flight is what one load hands to the callers coalesced on it.
type flight[V any] struct {
	val     V
	info    Info
	private bool // not for sharing: each waiter fetches for itself
}

// fetcher returns the fetch function of the miss.
func (m *miss[V]) fetcher() FetchFunc[V] {
	if m.fetch != nil {
		return m.fetch
	}
	return loadFetch(m.load)
}

// get reads the backend and serves what it holds; on a miss it joins the
// shared load.
func (m *miss[V]) get(ctx context.Context) (V, Info, error) {
	c := m.c
	var zero V
	m.epoch = c.epoch.Load()
	m.seq = c.invals.of(m.key)
	c.lookup(ctx, m.key, m.dataKey, &m.found)
	switch m.found.state {
	case stateFresh:
		c.event(EventHitBackend, m.key, 0, nil)
		c.putL1(m.key, m.gen, m.epoch, m.found.val, m.found.meta)
		if c.opts.Beta > 0 && c.earlyRefreshDue(m.found.meta, c.opts.Now()) {
			c.refreshEarly(ctx, m.key, m.gen, m.load, m.fetch)
		}
		return m.found.val, m.found.meta.info(SourceBackend), nil
	case stateNegative:
		c.event(EventHitNegative, m.key, 0, nil)
		return zero, m.found.meta.info(SourceBackend), ErrNotFound
	case stateStale:
		c.event(EventStaleServed, m.key, 0, nil)
		m.refreshStale(ctx)
		info := m.found.meta.info(SourceStale)
		info.Stale = true
		return m.found.val, info, nil
	case stateUnknown:
		// The backend cannot say: a value this node loaded (maybe by a
		// flight that ended while this caller was reading) is served.
		if e, ok := c.heldValue(m.key, m.gen); ok {
			c.event(EventHitL1, m.key, 0, nil)
			return e.val, e.meta.info(SourceL1), nil
		}
		if c.opts.FailClosed {
			return zero, Info{}, unavailable(m.found.err)
		}
	}
	if err := ctx.Err(); err != nil {
		return zero, Info{}, err
	}
	c.event(EventMiss, m.key, 0, nil)
	return m.join(ctx)
}

// join joins or starts the one load of the key in this process (a Get's
// or a GetMany's) and waits for it on the caller's own context.
func (m *miss[V]) join(ctx context.Context) (V, Info, error) {
	c := m.c
	call, led := c.flights.join(m.dataKey)
	if led {
		leader := *m // the flight's own copy: the caller's miss stays on its stack
		fill := func() (flight[V], error) {
			leader.followRename() // the caller's read may predate a rename: the flight uses the new key
			return leader.fill(ctx)
		}
		if ctx.Done() == nil {
			// A caller that cannot leave waits for the flight anyway: it runs
			// it itself when it leads, instead of on a goroutine of its own.
			c.flights.do(m.dataKey, call, fill)
			return m.joined(ctx, call, led)
		}
		dataKey := m.dataKey // not m: the caller's miss stays on its stack
		c.goFlight(func() { c.flights.do(dataKey, call, fill) })
	}
	select {
	case <-call.done:
		return m.joined(ctx, call, led)
	case <-ctx.Done():
		var zero V
		return zero, Info{}, ctx.Err()
	}
}

// joined is what a caller gets from the flight it joined (or led).
func (m *miss[V]) joined(ctx context.Context, call *flightCall[V], led bool) (V, Info, error) {
	f := call.f
	if !led && f.private {
		// The leader's value may not be shared: load our own.
		return m.fetchAlone(ctx)
	}
	if !led {
		m.c.event(EventCoalesced, m.key, 0, nil)
		f.info.Coalesced = true
	}
	return f.val, f.info, call.err
}

// fill runs as the one flight for the key in this process. It takes the
// distributed lock when there is one; a caller that loses the lock waits
// for the value to land instead of loading.
func (m *miss[V]) fill(callerCtx context.Context) (flight[V], error) {
	c := m.c
	m.started = c.opts.Now()
	if f, ok := m.heldFlight(); ok {
		return f, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(callerCtx), c.opts.LoadTimeout+c.opts.LockWait)
	defer cancel()
	// Degraded: the backend just failed (the caller's read, or the breaker
	// has seen a failure). Fail open within the callers' budget: no lock,
	// no re-check, and the store (if any) happens in the background.
	if m.found.state == stateUnknown || (c.breaker.degraded() && !c.opts.FailClosed) {
		return m.loadAndStore(ctx, true)
	}
	if c.opts.Locker == nil {
		// No re-check of the backend: the caller's read is what the store
		// compares against (a write since makes the store refuse the
		// value), and another process may store meanwhile (without a
		// Locker, processes do not wait for each other's loads). Unless
		// this node stored the key's value after the caller's read began:
		// then the read may have missed it (see landings).
		if c.landed.since(m.dataKey, m.found.mark) {
			return m.recheckAndLoad(ctx)
		}
		return m.loadAndStore(ctx, false)
	}
	var again lookupResult[V]
	lock, rechecked, res, done := m.lockOrWait(ctx, &again)
	if done {
		return res.f, res.err
	}
	if lock.held() {
		// The unlock is not waited for: the value has landed (or the
		// load failed) when the flight returns, and a lock that is not
		// released expires by itself. Nor is the "landed" message that
		// follows a GetLocker's release (see unlock).
		m.quiet = lock.quiet()
		unlock := func() {
			rctx := context.WithoutCancel(callerCtx)
			if sctx, ok := c.detachedTimeout(rctx, &c.timeouts); ok {
				m.unlock(sctx, lock) // bounded by the shared timeout: no timer of its own
				return
			}
			rctx, rcancel := context.WithTimeout(rctx, c.opts.BackendTimeout)
			defer rcancel()
			m.unlock(rctx, lock)
		}
		defer c.releaseLater(unlock)
	}
	// Another process may have stored the value between the caller's read
	// and the lock (its holder released it after the store). A GetLocker
	// read it in the grant's round trip.
	if !rechecked {
		again = c.lookupFresh(ctx, m.key, m.dataKey, m.found.raw)
	}
	return m.loadUnlessLanded(ctx, &again)
}

// recheckAndLoad reads the backend again and serves a value that landed
// since the caller's read; else it loads (see loadUnlessLanded).
func (m *miss[V]) recheckAndLoad(ctx context.Context) (flight[V], error) {
	again := m.c.lookupFresh(ctx, m.key, m.dataKey, m.found.raw)
	return m.loadUnlessLanded(ctx, &again)
}

// loadUnlessLanded serves what the re-check again found if a value landed
// since the caller's read; else it loads. If the backend did not answer,
// it loads anyway (fail-open); the store is then skipped.
func (m *miss[V]) loadUnlessLanded(ctx context.Context, again *lookupResult[V]) (flight[V], error) {
	c := m.c
	switch again.state {
	case stateFresh:
		m.foundLanded()
		return flight[V]{val: again.val, info: again.meta.info(SourceBackend)}, nil
	case stateNegative:
		m.foundLanded()
		return flight[V]{}, ErrNotFound
	case stateUnknown:
		if c.opts.FailClosed {
			return flight[V]{}, unavailable(again.err)
		}
		if m.found.has {
			// Keep the stale value for stale-if-error.
			again.val, again.has, again.meta = m.found.val, true, m.found.meta
		}
	}
	m.found = *again
	return m.loadAndStore(ctx, false)
}

type outcome[V any] struct {
	f   flight[V]
	err error
}

// foundLanded records, for a flight holding a GetLocker's lock, that its
// re-check found the key's value (or not-found) landed: callers refused
// the lock meanwhile wait for it (see unlock).
func (m *miss[V]) foundLanded() {
	if m.quiet {
		m.landed = true
	}
}

// lockOrWait takes the lock for the key, or waits for the holder's value.
// It returns the lock when this caller should load (none held: load
// without the lock), or done=true with the value that landed. rechecked
// says that the grant brought the re-check of the key, into again (see
// acquire).
func (m *miss[V]) lockOrWait(ctx context.Context, again *lookupResult[V]) (lock lockHeld, rechecked bool, res outcome[V], done bool) {
	c := m.c
	// Wake-ups so far: one that comes between a refusal and the waiter's
	// registration below (the holder's release and message can be that
	// quick) would otherwise leave it to its poll.
	woken := c.wakes.Load()
	lock, ok, rechecked, err := m.acquire(ctx, again)
	if err != nil {
		if c.opts.FailClosed {
			return lockHeld{}, false, outcome[V]{err: unavailable(err)}, true
		}
		c.opts.Logger.Warn("memo: lock failed; loading without it", "key", m.key, "err", err)
		return lockHeld{}, false, res, false
	}
	if ok {
		return lock, rechecked, res, false
	}
	c.event(EventLockWait, m.key, 0, nil)
	wake := c.addWaiter(m.dataKey)
	defer c.removeWaiter(m.dataKey, wake)
	if c.wakes.Load() != woken {
		wake <- struct{}{} // look at once (wake is new, with room for one)
	}
	deadline := time.NewTimer(c.opts.LockWait)
	defer deadline.Stop()
	poll := time.NewTicker(c.opts.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-wake:
		case <-poll.C:
		case <-deadline.C:
			c.event(EventLockWaitExpired, m.key, 0, nil)
			return lockHeld{}, false, res, false
		case <-ctx.Done():
			res.err = ctx.Err()
			return lockHeld{}, false, res, true
		}
		landed := c.lookupFresh(ctx, m.key, m.dataKey, m.found.raw)
		switch landed.state {
		case stateFresh, stateStale:
			return lockHeld{}, false, outcome[V]{f: flight[V]{val: landed.val, info: landed.meta.info(SourceBackend)}}, true
		case stateNegative:
			return lockHeld{}, false, outcome[V]{err: ErrNotFound}, true
		case stateUnknown:
			if c.breaker.isOpen() {
				if c.opts.FailClosed {
					return lockHeld{}, false, outcome[V]{err: unavailable(landed.err)}, true
				}
				return lockHeld{}, false, res, false // the backend is down: load (fail-open)
			}
			continue // the backend did not answer: keep waiting
		}
		// Definitely nothing: the holder may have died. Try to take over
		// (a refused attempt renews this caller's mark on the lock, see
		// unlock).
		if lock, ok, rechecked, err := m.acquire(ctx, again); err == nil && ok {
			return lock, rechecked, res, false
		}
	}
}

// acquire makes one attempt at the key's lock, bounded by BackendTimeout.
// With a GetLocker (while the breaker is healthy, so that a read through
// the breaker would have gone through too), a grant brings the re-check of
// the key: its read, made after the grant in the grant's round trip, is
// classified into again as lookupFresh classifies its own (corrupt bytes
// the caller's read counted are not counted again) and recorded in the
// breaker as every read is; rechecked is then true, and the lock is quiet
// (see unlock).
func (m *miss[V]) acquire(ctx context.Context, again *lookupResult[V]) (lock lockHeld, ok, rechecked bool, err error) {
	c := m.c
	actx, cancel := context.WithTimeout(ctx, c.opts.BackendTimeout)
	defer cancel()
	name := lockName(m.dataKey)
	if c.getLocker == nil || c.breaker.degraded() {
		lock.release, ok, err = c.opts.Locker.TryAcquire(actx, name)
		return lock, ok, false, err
	}
	var (
		raw    []byte
		getErr error
	)
	lock.releaseWaited, ok, raw, getErr, err = c.getLocker.TryAcquireGet(actx, name, c.backend, m.dataKey)
	if err != nil || !ok {
		return lockHeld{}, false, false, err
	}
	getErr = c.settle(ctx, getErr)
	c.foundFresh(again, m.key, raw, getErr, m.found.raw)
	return lock, true, true, nil
}

// takeLoadSlot waits on ctx for one of the MaxConcurrentLoads slots;
// callFetch gives it back.
func (c *Cache[V]) takeLoadSlot(ctx context.Context) error {
	select {
	case c.loadSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// callFetch runs the fetch bounded by LoadTimeout under ctx, holding a
// load slot it then gives back. It recovers a panic.
func (m *miss[V]) callFetch(ctx context.Context) (Result[V], time.Duration, error) {
	c := m.c
	defer func() { <-c.loadSlots }()
	lctx, cancel := context.WithTimeout(ctx, c.opts.LoadTimeout)
	defer cancel()
	fetch := m.fetcher()
	t0 := c.opts.Now()
	res, err := safely(func() (Result[V], error) { return fetch(lctx, m.found.entry()) })
	return res, c.opts.Now().Sub(t0), err
}

// fetchAlone runs this caller's own fetch and stores nothing: the result
// of a Private fetch for a key is never shared or stored. The fetch runs
// detached, bounded by LoadTimeout; the caller waits for it on its own
// context.
func (m *miss[V]) fetchAlone(ctx context.Context) (V, Info, error) {
	c := m.c
	var zero V
	if err := c.takeLoadSlot(ctx); err != nil {
		return zero, Info{}, err
	}
	t0 := c.opts.Now()
	type fetched struct {
		res Result[V]
		err error
	}
	done := make(chan fetched, 1)
	own := *m // the caller's miss stays on its stack
	go func() {
		res, d, err := own.callFetch(context.WithoutCancel(ctx))
		if err != nil {
			c.event(EventLoadError, own.key, d, err)
		} else {
			c.event(EventLoad, own.key, d, nil)
		}
		done <- fetched{res, err}
	}()
	select {
	case f := <-done:
		if f.err != nil {
			return zero, Info{}, f.err
		}
		return f.res.Value, Info{Source: SourceLoad, CreatedAt: t0}, nil
	case <-ctx.Done():
		return zero, Info{}, ctx.Err()
	}
}

// loadAndStore calls the fetch, then stores the result unless the key
// changed meanwhile. With storeLater (degraded mode) the store runs in the
// background.
func (m *miss[V]) loadAndStore(ctx context.Context, storeLater bool) (flight[V], error) {
	c := m.c
	if err := c.takeLoadSlot(ctx); err != nil {
		return flight[V]{}, err
	}
	// The value postdates what this node saw before the fetch: a hold of
	// it checks for invalidations from here on, not from the caller's
	// read (which may predate a subscription gap's flush by a whole flight:
	// the held value was dropped and the key loaded a third time).
	m.epoch = c.epoch.Load()
	res, d, err := m.callFetch(ctx)
	m.followRename()
	if err != nil {
		return m.loadFailed(ctx, d, err)
	}
	c.event(EventLoad, m.key, d, nil)
	if clampResult(&res) {
		// Stored for MaxTTL rather than not at all (an envelope cannot
		// hold an expiry past 2262; a cache never keeps keys forever).
		c.opts.Logger.Debug("memo: result durations clamped to MaxTTL", "key", m.key, "max", MaxTTL)
	}

	now := c.opts.Now()
	if res.Private {
		return flight[V]{val: res.Value, info: Info{Source: SourceLoad, CreatedAt: now}, private: true}, nil
	}
	if res.NoStore || res.TTL < 0 {
		return flight[V]{val: res.Value, info: Info{Source: SourceLoad, CreatedAt: now}}, nil
	}
	data, ttl, hard, err := c.encodeResult(res, now, d, m.gen)
	info := Info{Source: SourceLoad, CreatedAt: now, Expires: now.Add(ttl)}
	if err != nil {
		c.opts.Logger.Warn("memo: cannot encode loaded value; not cached", "key", m.key, "err", err)
		return flight[V]{val: res.Value, info: info}, nil
	}
	epoch := c.epoch.Load()
	meta := entryMeta{soft: info.Expires, created: now, load: d,
		staleWindow: res.StaleWhileRevalidate, errorWindow: res.StaleIfError}
	storeIt := func(ctx context.Context) bool {
		switch m.store(ctx, data, hard) {
		case stored:
			c.putL1(m.key, m.gen, epoch, res.Value, meta)
			return true
		case storeFailed:
			// The backend could not take it: keep it here meanwhile.
			c.hold(m.key, m.gen, m.epoch, res.Value, meta)
		}
		return false
	}
	if storeLater && m.found.state != stateUnknown {
		// The flight's context ends when it returns: the store (and its
		// message) gets its own.
		c.background(func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*c.opts.BackendTimeout)
			defer cancel()
			storeIt(sctx)
		})
	} else {
		info.Stored = storeIt(ctx)
	}
	return flight[V]{val: res.Value, info: info}, nil
}

// followRename moves a load that began under a generation this node has
// since renamed (its key vanished from the backend, see renameGeneration)
// to the new one, so that its value is stored and kept where Gets now
// look. The new generation's key held nothing the miss saw: the store
// compares against absence there.
func (m *miss[V]) followRename() {
	g := m.c.renamedGen(m.gen)
	if g == m.gen {
		return
	}
	m.gen, m.dataKey = g, m.c.keys.data(g, m.key)
	m.found.raw = nil
}

// loadFailed handles a failed fetch: not-found is cached negatively, a
// stale value within its stale-if-error window is served, other errors are
// returned (and never cached).
func (m *miss[V]) loadFailed(ctx context.Context, d time.Duration, err error) (flight[V], error) {
	c := m.c
	var pe *PanicError
	if errors.As(err, &pe) {
		c.stats.loadPanics.Add(1)
		c.opts.Logger.Error("memo: loader panicked", "key", m.key, "panic", pe.Value)
	}
	if errors.Is(err, ErrNotFound) || (pe == nil && c.isNotFound(err)) {
		c.event(EventLoad, m.key, d, nil)
		m.storeNotFound(ctx, c.opts.Now(), d)
		return flight[V]{}, ErrNotFound
	}
	c.event(EventLoadError, m.key, d, err)
	stale := m.found
	if stale.has && c.opts.Now().Before(stale.meta.soft.Add(c.errorWindow(stale.meta.errorWindow))) && pe == nil {
		c.event(EventStaleServed, m.key, 0, err)
		info := stale.meta.info(SourceStale)
		info.Stale = true
		return flight[V]{val: stale.val, info: info}, nil
	}
	return flight[V]{}, err
}

// storeNotFound caches a loader's "not found" for NegativeTTL, if set,
// with the same compare-and-swap protection as a value.
func (m *miss[V]) storeNotFound(ctx context.Context, now time.Time, d time.Duration) {
	c := m.c
	if c.opts.NegativeTTL <= 0 {
		return
	}
	neg := c.jitter(c.opts.NegativeTTL)
	data, err := c.env.Encode(nil, codec.Meta{Kind: codec.KindNotFound, CreatedAt: now, SoftExpiry: now.Add(neg), LoadDuration: d, Generation: m.gen})
	if err == nil {
		m.store(ctx, data, neg)
	}
}

// storeOutcome says what became of a store.
type storeOutcome uint8

const (
	stored       storeOutcome = iota // the backend has the value
	storeRefused                     // the key changed since it was read: the value may be outdated
	storeFailed                      // the backend could not take it (failed, or unknown state)
)

// store writes data under the data key only if it still holds what the
// miss found (compare-and-swap), so a load that raced with Set or
// Invalidate never overwrites their result. It wakes waiters in other
// processes when it stored (with a Locker: see wakes), unless the flight
// holds a GetLocker's lock: its release does, if anyone waited (see
// unlock).
func (m *miss[V]) store(ctx context.Context, data []byte, ttl time.Duration) storeOutcome {
	c := m.c
	if m.found.state == stateUnknown {
		// The lookup failed: there is nothing safe to compare against.
		c.event(EventStoreSkipped, m.key, 0, nil)
		return storeFailed
	}
	if c.opts.Now().Sub(m.started) >= c.tombstoneTTL() {
		// An invalidation's tombstone may have expired since the lookup.
		c.event(EventStoreSkipped, m.key, 0, nil)
		return storeRefused
	}
	if c.invals.of(m.key) != m.seq {
		// An invalidation this node heard of overlapped the load: its
		// tombstone may have been evicted, so the compare-and-swap alone
		// cannot be trusted to refuse the value.
		c.event(EventStoreSkipped, m.key, 0, nil)
		return storeRefused
	}
	// The "landed" message wakes the callers of other processes waiting
	// for a lock holder's value: only processes with a Locker wait, and
	// without one this process never holds the lock they wait on. Under a
	// GetLocker's lock (quiet) it waits for the release (see unlock).
	wakes := c.pubsub != nil && c.opts.Locker != nil && !m.quiet
	ok, notified := false, false
	err := c.call(ctx, func(ctx context.Context) error {
		switch c.backend.(type) {
		case backend.FingerprintSwapper, backend.Swapper:
		default:
			ok = true
			return c.backend.Set(ctx, m.dataKey, data, ttl)
		}
		// Compare a fingerprint of what the miss found, not the bytes:
		// the store costs the new value on the wire, not old + new. The
		// "landed" message rides in the same round trip.
		var old *backend.Fingerprint
		if m.found.raw != nil {
			f := backend.FingerprintOf(m.found.raw, fingerprintTail)
			old = &f
		}
		var notice *backend.Notice
		if wakes {
			notice = &backend.Notice{Channel: c.keys.channel(), Payload: message(msgLanded, m.dataKey)}
		}
		var err error
		ok, err = backend.SwapFingerprint(ctx, c.backend, m.dataKey, old, data, ttl, notice)
		notified = true
		return err
	})
	switch {
	case err != nil:
		c.event(EventStoreSkipped, m.key, 0, err)
		if m.quiet {
			// The store may have landed (its reply was lost): the
			// release announces it if anyone waited, as a store's own
			// message would have (a waiter that finds nothing tries the
			// lock again).
			m.landed = true
		}
		return storeFailed
	case !ok:
		c.event(EventStoreSkipped, m.key, 0, nil)
		return storeRefused
	}
	if c.opts.Locker == nil {
		c.landed.landed(m.dataKey, c.nanotime(), int64(landedWindow*c.opts.BackendTimeout))
	}
	if m.quiet {
		m.landed = true
	}
	if wakes && !notified {
		c.publish(ctx, msgLanded, m.dataKey)
	}
	return stored
}

// fingerprintTail is how many trailing bytes of a stored entry its store
// compares (with its length): the envelope's CRC-32C of everything before
// it, and the last payload bytes. Every envelope memo writes has its own
// creation time (a tombstone its own random generation) in the header the
// CRC covers, so an entry rewritten since the lookup keeps the fingerprint
// of the one found only by a 2^-32 accident.
const fingerprintTail = 8
