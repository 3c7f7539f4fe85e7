package memo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// Errors returned by a [Cache].
var (
	// ErrNotFound is returned by a loader to say the key has no value. The
	// Cache passes it on to callers and, with Options.NegativeTTL, caches
	// the answer. Other loader errors are never cached.
	ErrNotFound = errors.New("memo: not found")

	// ErrLoaderPanic is returned to every caller waiting on a load that
	// panicked. The error is a *[PanicError] carrying the value and stack.
	ErrLoaderPanic = errors.New("memo: loader panicked")

	// ErrClosed is returned by operations on a closed Cache.
	ErrClosed = errors.New("memo: cache closed")

	errBreakerOpen = errors.New("memo: backend circuit breaker open")
)

// PanicError is the error for a loader that panicked. It wraps
// [ErrLoaderPanic].
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the loader goroutine's stack at the panic
}

// Error returns the panic value and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("memo: loader panicked: %v\n%s", e.Value, e.Stack)
}

// Unwrap returns ErrLoaderPanic.
func (e *PanicError) Unwrap() error { return ErrLoaderPanic }

// LoadFunc loads the value of one key. It receives a context detached from
// the callers' (their cancellation does not stop it) and bounded by
// Options.LoadTimeout. Returning [ErrNotFound] means "no value".
type LoadFunc[V any] func(ctx context.Context) (V, error)

// Cache is a typed read-through cache over a [backend.Backend]. It is safe
// for concurrent use. See the package documentation for the guarantees.
type Cache[V any] struct {
	b    backend.Backend
	o    Options
	env  codec.Envelope
	keys *keyspace

	gen          atomic.Uint64
	genCheckedAt atomic.Int64
	genRefresh   atomic.Bool
	epoch        atomic.Uint64 // bumped by every invalidation seen; guards L1 writes

	l1      *l1[V]
	sf      singleflight.Group // loads
	lookups singleflight.Group // backend reads
	sem     chan struct{}
	brk     *breaker
	stats   counters

	ps      backend.PubSub
	sub     backend.Subscription
	waitMu  sync.Mutex
	waiters map[string]map[chan struct{}]struct{}

	refreshing sync.Map // data keys with a background refresh running

	batchMu sync.Mutex
	batches map[string]*batchCall[V]

	nanotime    func() int64 // the hot-path clock: coarse unless Options.Now is set
	timeouts    atomic.Pointer[sharedTimeout]
	coarseClock bool

	closeOnce sync.Once
	bgMu      sync.RWMutex // orders background starts before Close's Wait
	closed    chan struct{}
	wg        sync.WaitGroup
}

// entryMeta is what the read path needs from an envelope.
type entryMeta struct {
	soft     time.Time
	created  time.Time
	load     time.Duration
	swr, sie time.Duration // the entry's own stale windows (0: defaults)
}

// New returns a Cache over b. Options may be nil. If b implements
// [backend.PubSub], the Cache subscribes to its namespace channel (for L1
// invalidation across nodes and waking waiters); call [Cache.Close] to
// stop it.
func New[V any](b backend.Backend, opts *Options) (*Cache[V], error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil backend", errOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache[V]{
		b:       b,
		o:       o,
		env:     codec.Envelope{Codec: o.Codec, Accept: o.AcceptCodecs, Compression: o.Compression, Threshold: o.CompressionThreshold},
		keys:    newKeyspace(o.Namespace, o.Version),
		sem:     make(chan struct{}, o.MaxConcurrentLoads),
		brk:     newBreaker(o.BreakerThreshold, o.BreakerCooldown, o.Now),
		waiters: map[string]map[chan struct{}]struct{}{},
		batches: map[string]*batchCall[V]{},
		closed:  make(chan struct{}),
	}
	if o.L1Size > 0 {
		c.l1 = newL1[V](o.L1Size)
	}
	if opts == nil || opts.Now == nil {
		acquireCoarseClock()
		c.coarseClock = true
		c.nanotime = coarseNow
	} else {
		c.nanotime = func() int64 { return o.Now().UnixNano() }
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.BackendTimeout)
	defer cancel()
	c.loadGeneration(ctx)
	if ps, ok := b.(backend.PubSub); ok {
		c.ps = ps
		sub, err := ps.Subscribe(ctx, c.keys.channel())
		if err != nil {
			o.Logger.Warn("memo: subscribe failed; retrying in the background (until then L1 entries are trusted only for L1TTL)", "namespace", o.Namespace, "err", err)
			c.background(c.resubscribe)
		} else {
			c.setSub(sub)
		}
	}
	return c, nil
}

// setSub installs a subscription and starts its listener, unless the
// Cache closed meanwhile.
func (c *Cache[V]) setSub(sub backend.Subscription) {
	c.bgMu.RLock()
	defer c.bgMu.RUnlock()
	select {
	case <-c.closed:
		_ = sub.Close()
		return
	default:
	}
	c.sub = sub
	c.wg.Add(1)
	go c.listen(sub)
}

// resubscribe retries a failed Subscribe with backoff until it succeeds or
// the Cache closes; messages missed meanwhile are a gap (L1 flushed).
func (c *Cache[V]) resubscribe() {
	delay := 100 * time.Millisecond
	for {
		select {
		case <-c.closed:
			return
		case <-time.After(delay):
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.o.BackendTimeout)
		sub, err := c.ps.Subscribe(ctx, c.keys.channel())
		cancel()
		if err == nil {
			c.epoch.Add(1)
			if c.l1 != nil {
				c.l1.flush()
			}
			c.setSub(sub)
			return
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// Close stops the Cache's subscription and waits for background refreshes
// to finish. The Cache must not be used afterwards. Close does not close
// the backend.
func (c *Cache[V]) Close() error {
	c.closeOnce.Do(func() {
		c.bgMu.Lock() // no background goroutine or listener starts after this
		close(c.closed)
		sub := c.sub
		c.bgMu.Unlock()
		if sub != nil {
			_ = sub.Close()
		}
		if c.coarseClock {
			releaseCoarseClock()
		}
	})
	c.wg.Wait()
	return nil
}

// forgetFlights makes reads and loads of dk that start from now on begin
// afresh instead of joining ones that started before a write to dk (their
// results predate it; their stores are refused by compare-and-swap).
func (c *Cache[V]) forgetFlights(dk string) {
	c.lookups.Forget(dk)
	c.sf.Forget(dk)
}

// background runs f on a goroutine that Close waits for, unless the Cache
// is closed; it reports whether f was started.
func (c *Cache[V]) background(f func()) bool {
	c.bgMu.RLock()
	defer c.bgMu.RUnlock()
	select {
	case <-c.closed:
		return false
	default:
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

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
		BreakerTrips: s.breakerTrips.Load(), BreakerOpen: c.brk.isOpen(), L1Invalidations: s.l1Invalidations.Load(),
	}
}

func (c *Cache[V]) event(k EventKind, key string, d time.Duration, err error) {
	if k == EventHitL1 {
		c.stats.l1.add()
	} else if ctr := c.stats.counter(k); ctr != nil {
		ctr.Add(1)
	}
	if c.o.Observer != nil {
		c.o.Observer.Observe(Event{Kind: k, Key: key, Duration: d, Err: err})
	}
}

// Get returns the value for key, loading it with load on a miss. Callers
// of one key share one load (across processes too with a Locker); each
// caller waits on its own ctx and leaving never fails the others.
//
// WARNING: every load function passed for the same key must compute the
// same value: a caller may receive the result of another caller's load.
func (c *Cache[V]) Get(ctx context.Context, key string, load LoadFunc[V]) (V, error) {
	now := c.nanotime()
	gen := c.generationAt(now)
	if c.l1 != nil {
		if e, ok := c.l1.get(key, gen, now); ok {
			c.stats.l1.add()
			if c.o.Observer != nil {
				c.o.Observer.Observe(Event{Kind: EventHitL1, Key: key})
			}
			if c.o.Beta > 0 && c.earlyRefreshDue(e.meta, time.Unix(0, now)) {
				c.refreshEarly(ctx, key, gen, loadFetch(load))
			}
			return e.val, nil
		}
	}
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, err
	}
	v, _, err := c.slow(ctx, key, gen, load, nil)
	return v, err
}

// Set stores v under key, replacing any value, and evicts key from the L1
// of every node. A load of key that started before Set is not stored after
// it.
func (c *Cache[V]) Set(ctx context.Context, key string, v V) error {
	return c.Put(ctx, key, Result[V]{Value: v})
}

// Put is [Cache.Set] with per-value caching parameters: r.TTL, its stale
// windows and Retain, exactly as a [FetchFunc] result would be stored. A
// result marked NoStore or Private, or with a negative TTL, removes the key
// instead (like Invalidate).
func (c *Cache[V]) Put(ctx context.Context, key string, r Result[V]) error {
	if r.NoStore || r.Private || r.TTL < 0 {
		return c.Invalidate(ctx, key)
	}
	gen := c.generation()
	now := c.o.Now()
	data, _, hard, err := c.encodeResult(r, now, 0, gen)
	if err != nil {
		return err
	}
	c.epoch.Add(1)
	if c.l1 != nil {
		c.l1.delete(key)
	}
	dk := c.keys.data(gen, key)
	err = c.call(ctx, func(ctx context.Context) error {
		return c.b.Set(ctx, dk, data, hard)
	})
	c.forgetFlights(dk)
	if err != nil {
		return err
	}
	c.publish(ctx, msgInvalidate, key)
	c.publish(ctx, msgLanded, dk)
	return nil
}

// encodeResult encodes r as stored at now, and returns the envelope, the
// freshness TTL and the backend TTL (freshness plus the longest window the
// entry must be kept for).
func (c *Cache[V]) encodeResult(r Result[V], now time.Time, load time.Duration, gen uint64) (data []byte, ttl, hard time.Duration, err error) {
	ttl = r.TTL
	if ttl == 0 {
		ttl = c.jitter(c.o.TTL)
	}
	m := codec.Meta{CreatedAt: now, SoftExpiry: now.Add(ttl), LoadDuration: load, Generation: gen,
		StaleWhileRevalidate: r.StaleWhileRevalidate, StaleIfError: r.StaleIfError}
	data, err = c.env.Encode(r.Value, m)
	hard = ttl + max(c.swr(r.StaleWhileRevalidate), c.sie(r.StaleIfError), r.Retain)
	return data, ttl, hard, err
}

// Invalidate removes keys so the next Get loads them again, on every node:
// it writes a short-lived tombstone (so that a load which started before
// Invalidate is not stored after it), evicts the local L1 entries and
// publishes an eviction for the L1 of other nodes.
func (c *Cache[V]) Invalidate(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	gen := c.generation()
	now := c.o.Now()
	c.epoch.Add(1)
	items := make([]backend.Item, 0, len(keys))
	for _, k := range keys {
		data, err := c.env.Encode(nil, codec.Meta{Kind: codec.KindTombstone, CreatedAt: now, Generation: rand.Uint64()})
		if err != nil {
			return err
		}
		items = append(items, backend.Item{Key: c.keys.data(gen, k), Value: data, TTL: c.tombstoneTTL()})
		c.forgetFlights(items[len(items)-1].Key)
		if c.l1 != nil {
			c.l1.delete(k)
		}
	}
	err := c.call(ctx, func(ctx context.Context) error { return backend.SetMany(ctx, c.b, items) })
	for _, k := range keys {
		c.publish(ctx, msgInvalidate, k)
	}
	return err
}

// Forget evicts key from this node's L1 only; the backend and other nodes
// are untouched. It is for a caller that found an L1 value outdated by its
// own rules while the backend may already hold a newer one.
func (c *Cache[V]) Forget(key string) {
	c.epoch.Add(1)
	if c.l1 != nil {
		c.l1.delete(key)
	}
}

// InvalidatePrefix removes every key that starts with prefix, on every
// node: one pattern delete in the backend (it must implement
// backend.Scanner: it walks the keyspace with SCAN, never KEYS) and an
// eviction of the matching L1 entries of every node. It returns how many
// backend keys it deleted.
//
// Keys longer than the hashing threshold (200 bytes escaped) are stored
// under their hash and are not matched. Unlike Invalidate, a load that
// started before InvalidatePrefix and found nothing stored may still store
// its value after it.
func (c *Cache[V]) InvalidatePrefix(ctx context.Context, prefix string) (int64, error) {
	gen := c.generation()
	c.epoch.Add(1)
	if c.l1 != nil {
		c.l1.deletePrefix(prefix)
	}
	pattern := backend.QuoteGlob(c.keys.data(gen, prefix)) + "*"
	// A pattern delete walks the whole keyspace: it runs under the
	// caller's context, not BackendTimeout, and outside the breaker.
	n, err := backend.DeletePattern(ctx, c.b, pattern)
	c.publish(ctx, msgInvalidatePrefix, prefix)
	return n, err
}

// tombstoneTTL outlives every load that can still store: a load that
// observed the state before an invalidation gives up storing after this
// long (see store).
func (c *Cache[V]) tombstoneTTL() time.Duration {
	return c.o.LockWait + c.o.LoadTimeout + 4*c.o.BackendTimeout
}

// Clear invalidates every key of the namespace in O(1): it moves the
// namespace to a new generation, so old keys are no longer read and expire
// by their TTL. Other nodes follow through pub/sub, or within a second
// without it.
func (c *Cache[V]) Clear(ctx context.Context) error {
	gen := rand.Uint64() | 1 // never 0, the generation of a fresh namespace
	c.epoch.Add(1)
	err := c.call(ctx, func(ctx context.Context) error {
		return c.b.Set(ctx, c.keys.gen(), []byte(strconv.FormatUint(gen, 10)), backend.NoExpiry)
	})
	if err != nil {
		return err
	}
	c.gen.Store(gen)
	c.genCheckedAt.Store(c.nanotime())
	if c.l1 != nil {
		c.l1.flush()
	}
	c.publish(ctx, msgClear, strconv.FormatUint(gen, 10))
	return nil
}

// generation returns the namespace generation, refreshing it in the
// background when it was last read from the backend over a second ago.
func (c *Cache[V]) generation() uint64 { return c.generationAt(c.nanotime()) }

// generationAt is generation with the hot-path clock already read.
func (c *Cache[V]) generationAt(now int64) uint64 {
	const refreshEvery = int64(time.Second)
	if now-c.genCheckedAt.Load() > refreshEvery && c.genRefresh.CompareAndSwap(false, true) {
		c.background(func() {
			defer c.genRefresh.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), c.o.BackendTimeout)
			defer cancel()
			c.loadGeneration(ctx)
		})
	}
	return c.gen.Load()
}

func (c *Cache[V]) loadGeneration(ctx context.Context) {
	var raw []byte
	err := c.call(ctx, func(ctx context.Context) (err error) {
		raw, err = c.b.Get(ctx, c.keys.gen())
		return err
	})
	switch {
	case errors.Is(err, backend.ErrNotFound):
		c.setGeneration(0)
	case err == nil:
		g, perr := strconv.ParseUint(string(raw), 10, 64)
		if perr != nil {
			c.o.Logger.Warn("memo: corrupt namespace generation; ignoring", "key", c.keys.gen(), "err", perr)
			return
		}
		c.setGeneration(g)
	default:
		return // keep the last known generation; retry later
	}
	c.genCheckedAt.Store(c.nanotime())
}

func (c *Cache[V]) setGeneration(g uint64) {
	if old := c.gen.Swap(g); old != g && c.l1 != nil {
		c.epoch.Add(1)
		c.l1.flush()
	}
}

// lookupState classifies what the backend holds for a key.
type lookupState uint8

const (
	stateMiss     lookupState = iota // nothing usable; raw says what is there
	stateFresh                       // a fresh value
	stateStale                       // a stale value within the stale window
	stateNegative                    // a cached ErrNotFound
	stateUnknown                     // the backend failed: the state is unknown
)

type lookupResult[V any] struct {
	state lookupState
	val   V
	has   bool // val holds a decoded value (possibly expired)
	meta  entryMeta
	raw   []byte // the bytes found (nil for none); compared on store
}

// entry returns the value found as an Entry for revalidation, or nil.
func (r *lookupResult[V]) entry() *Entry[V] {
	if !r.has {
		return nil
	}
	return &Entry[V]{Value: r.val, CreatedAt: r.meta.created, Expires: r.meta.soft}
}

// lookup reads dk from the backend. Concurrent lookups of one key in this
// process share one backend read (a hot key costs one GET per process at a
// time, not one per caller); the shared read is detached from the callers'
// contexts and bounded by BackendTimeout, so a caller whose context ends
// waits at most that long.
func (c *Cache[V]) lookup(ctx context.Context, key, dk string) lookupResult[V] {
	v, err, _ := c.lookups.Do(dk, func() (any, error) {
		var raw []byte
		err := c.call(context.WithoutCancel(ctx), func(ctx context.Context) (err error) {
			raw, err = c.b.Get(ctx, dk)
			return err
		})
		return raw, err
	})
	raw, _ := v.([]byte)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return lookupResult[V]{state: stateMiss}
	case err != nil:
		return lookupResult[V]{state: stateUnknown}
	}
	return c.classify(key, raw)
}

func (c *Cache[V]) classify(key string, raw []byte) lookupResult[V] {
	var v V
	m, err := c.env.Decode(raw, &v)
	if err != nil {
		c.event(EventCorrupt, key, 0, err)
		return lookupResult[V]{state: stateMiss, raw: raw}
	}
	meta := entryMeta{soft: m.SoftExpiry, created: m.CreatedAt, load: m.LoadDuration,
		swr: m.StaleWhileRevalidate, sie: m.StaleIfError}
	r := lookupResult[V]{raw: raw, meta: meta}
	now := c.o.Now()
	switch m.Kind {
	case codec.KindTombstone:
		r.state = stateMiss
	case codec.KindNotFound:
		r.state = stateNegative
		if !m.SoftExpiry.IsZero() && !now.Before(m.SoftExpiry) {
			r.state = stateMiss
		}
	default:
		r.val, r.has = v, true
		switch {
		case m.SoftExpiry.IsZero() || now.Before(m.SoftExpiry):
			r.state = stateFresh
		case now.Before(m.SoftExpiry.Add(c.swr(meta.swr))):
			r.state = stateStale
		default:
			r.state = stateMiss
		}
	}
	return r
}

func (c *Cache[V]) putL1(key string, gen, epoch uint64, v V, m entryMeta) {
	if c.l1 == nil {
		return
	}
	now := c.o.Now()
	exp := now.Add(c.jitter(c.o.L1TTL))
	if !m.soft.IsZero() && m.soft.Before(exp) {
		exp = m.soft
	}
	// L1 hits read a clock of millisecond resolution: stop serving an entry
	// from L1 a little before it expires, and keep values with less
	// freshness than that out of L1 altogether.
	slack := int64(0)
	if c.coarseClock {
		slack = int64(l1ExpirySlack)
	}
	e := &l1Entry[V]{val: v, gen: gen, soft: m.soft.UnixNano() - slack, expires: exp.UnixNano() - slack, meta: m}
	if m.soft.IsZero() {
		e.soft = math.MaxInt64
	}
	if e.soft <= now.UnixNano() || e.expires <= now.UnixNano() {
		return
	}
	c.l1.set(key, e)
	if c.epoch.Load() != epoch {
		// An invalidation raced with this write: it may predate v.
		c.l1.delete(key)
	}
}

// jitter spreads d by ±Jitter.
func (c *Cache[V]) jitter(d time.Duration) time.Duration {
	if c.o.Jitter <= 0 || d <= 0 {
		return d
	}
	f := 1 + c.o.Jitter*(2*c.o.Rand()-1)
	j := time.Duration(float64(d) * f)
	if j <= 0 {
		return d
	}
	return j
}

// call runs one backend operation under BackendTimeout and the circuit
// breaker. Misses are not failures; nor is the caller's own cancellation.
func (c *Cache[V]) call(ctx context.Context, op func(context.Context) error) error {
	if !c.brk.allow() {
		return errBreakerOpen
	}
	var err error
	if cctx, ok := c.detachedTimeout(ctx, &c.timeouts); ok {
		err = op(cctx)
	} else {
		cctx, cancel := context.WithTimeout(ctx, c.o.BackendTimeout)
		err = op(cctx)
		cancel()
	}
	if err != nil && ctx.Err() != nil {
		c.brk.abandon() // the caller left; says nothing about the backend
		return err
	}
	failed := err != nil && !errors.Is(err, backend.ErrNotFound) && !errors.Is(err, backend.ErrInvalidTTL)
	switch c.brk.record(!failed) {
	case +1:
		c.event(EventBreakerOpen, "", 0, err)
		c.o.Logger.Warn("memo: backend failing; circuit breaker open", "namespace", c.o.Namespace, "err", err)
	case -1:
		c.event(EventBreakerClose, "", 0, nil)
		c.o.Logger.Info("memo: backend recovered; circuit breaker closed", "namespace", c.o.Namespace)
	}
	if failed {
		c.event(EventBackendError, "", 0, err)
	}
	return err
}

// safely runs f, turning a panic into a *PanicError: the one place
// loaders, fetches and batch loaders are recovered.
func safely[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return f()
}

func randFloat() float64 { return rand.Float64() }
