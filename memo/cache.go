package memo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// LoadFunc loads the value of one key. It receives a context detached from
// the callers' (their cancellation does not stop it) and bounded by
// Options.LoadTimeout. Returning [ErrNotFound] means "no value".
type LoadFunc[V any] func(ctx context.Context) (V, error)

// Cache is a typed read-through cache over a [backend.Backend]. It is safe
// for concurrent use. See the package documentation for the guarantees.
type Cache[V any] struct {
	backend backend.Backend
	opts    Options
	env     codec.Envelope
	keys    *keyspace

	// The namespace generation (generations.go).
	gen          atomic.Uint64
	genCheckedAt atomic.Int64
	genRefresh   atomic.Bool
	genTouchedAt atomic.Int64             // when this node last set the generation key's expiry
	renamed      atomic.Pointer[renaming] // the last renameGeneration
	minted       atomic.Uint64            // the generation this node last tried to create

	// epoch is bumped by every invalidation this node sees; an L1 write
	// that straddles a bump is undone (l1.go).
	epoch atomic.Uint64
	// invals counts invalidations per key; a load that overlapped one
	// does not store (invalseq.go).
	invals *invalSeqs
	l1     *l1[V]
	// held keeps loaded values the backend could not take, for L1TTL,
	// when there is no L1 to keep them in (held.go).
	held *l1[V]

	// getLocker is Options.Locker when it reads the backend in the round
	// trip of a grant (see GetLocker), else nil.
	getLocker GetLocker

	lastCorrupt atomic.Pointer[byte] // the corrupt bytes counted last (read.go)
	landed      landings             // when values landed, for the flights of earlier reads (landed.go)

	flights    flights[V]    // one load per data key, by Get or GetMany (flight.go)
	reads      readGroup     // one backend read per data key (read.go)
	loadSlots  chan struct{} // MaxConcurrentLoads
	breaker    *breaker
	stats      counters
	refreshing sync.Map // data keys with a background refresh running (refresh.go)

	// Pub/sub and the callers waiting for a value to land (notify.go).
	pubsub  backend.PubSub
	sub     backend.Subscription
	waitMu  sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	// wakes counts the wake-ups sent to waiters (wake, wakeAll): a caller
	// refused the lock compares it across its registration, so a wake-up
	// that came before it listened is not lost (see lockOrWait).
	wakes atomic.Uint64

	timeouts    atomic.Pointer[sharedTimeout]
	coarseClock bool // nanotime reads the coarse clock (Options.Now is not set)

	closeOnce sync.Once
	bgMu      sync.RWMutex // orders background starts before Close's Wait
	closed    chan struct{}
	wg        sync.WaitGroup
	releasers workers // run flights' unlocks (workers.go)
	flyers    workers // run flights whose callers can leave
	readers   workers // run shared reads whose first caller can leave (read.go)
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
	if err := checkEviction(b, &o); err != nil {
		return nil, err
	}
	c := &Cache[V]{
		backend:   b,
		opts:      o,
		env:       codec.Envelope{Codec: o.Codec, Accept: o.AcceptCodecs, Compression: o.Compression, Threshold: o.CompressionThreshold},
		keys:      newKeyspace(o.Namespace, o.Version),
		loadSlots: make(chan struct{}, o.MaxConcurrentLoads),
		breaker:   newBreaker(o.BreakerThreshold, o.BreakerCooldown, o.Now),
		waiters:   map[string]map[chan struct{}]struct{}{},
		closed:    make(chan struct{}),
		releasers: newWorkers(),
		flyers:    newWorkers(),
		readers:   newWorkers(),
		invals:    newInvalSeqs(),
	}
	if gl, ok := o.Locker.(GetLocker); ok && gl.GetsFrom(b) {
		c.getLocker = gl
	}
	if o.L1Size > 0 {
		c.l1 = newL1[V](o.L1Size)
	} else {
		c.held = newL1[V](heldSize)
	}
	if opts == nil || opts.Now == nil {
		acquireCoarseClock()
		c.coarseClock = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.BackendTimeout)
	defer cancel()
	c.loadGeneration(ctx)
	c.subscribe(ctx)
	return c, nil
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

// Get returns the value for key, loading it with load on a miss. Callers
// of one key share one load (across processes too with a Locker); each
// caller waits on its own ctx and leaving never fails the others.
//
// WARNING: every load function passed for the same key must compute the
// same value: a caller may receive the result of another caller's load.
func (c *Cache[V]) Get(ctx context.Context, key string, load LoadFunc[V]) (V, error) {
	e, gen, now := c.hitL1(key)
	if e == nil {
		return c.getMiss(ctx, key, gen, load)
	}
	if c.opts.Beta > 0 {
		c.maybeRefreshEarly(ctx, key, gen, e, now, load, nil)
	}
	return e.val, nil
}

// nanotime is the hot-path clock: the coarse clock unless Options.Now is
// set.
func (c *Cache[V]) nanotime() int64 {
	if c.coarseClock {
		return coarseNow()
	}
	return c.optionsNow()
}

// optionsNow is Options.Now in nanoseconds (kept out of nanotime, which
// is inlined on the hot path).
func (c *Cache[V]) optionsNow() int64 { return c.opts.Now().UnixNano() }

// hitL1 reads the hot-path clock (now) and the namespace generation (gen)
// and returns the entry that serves key from the L1, or nil; a hit is
// counted. It allocates nothing, so a caller that needs a load function
// only for a miss builds it after hitL1 (see Memoize); with Options.Beta
// set, the caller then checks for an early refresh (maybeRefreshEarly).
//
// It is every L1 hit's path, written out flat: one call for the map and
// one for the counter.
func (c *Cache[V]) hitL1(key string) (e *l1Entry[V], gen uint64, now int64) {
	if c.coarseClock {
		now = coarseNow()
	} else {
		now = c.optionsNow()
	}
	if now-c.genCheckedAt.Load() > int64(genRefreshEvery) { // generationAt
		c.refreshGeneration()
	}
	gen = c.gen.Load()
	if c.l1 == nil {
		return nil, gen, now
	}
	v, ok := c.l1.m.Load(key)
	if !ok {
		return nil, gen, now
	}
	if e = v.(*l1Entry[V]); !e.serves(gen, now) {
		return nil, gen, now
	}
	c.stats.l1.add(now)
	if c.opts.Observer != nil {
		c.opts.Observer.Observe(Event{Kind: EventHitL1, Key: key})
	}
	return e, gen, now
}

// maybeRefreshEarly starts the early refresh of an L1 hit e when XFetch
// says it is due.
func (c *Cache[V]) maybeRefreshEarly(ctx context.Context, key string, gen uint64, e *l1Entry[V], now int64, load LoadFunc[V], fetch FetchFunc[V]) {
	if c.earlyRefreshDue(e.meta, time.Unix(0, now)) {
		c.refreshEarly(ctx, key, gen, load, fetch)
	}
}

// getMiss is Get past the L1.
func (c *Cache[V]) getMiss(ctx context.Context, key string, gen uint64, load LoadFunc[V]) (V, error) {
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, err
	}
	m := miss[V]{c: c, key: key, gen: gen, dataKey: c.keys.data(gen, key), load: load}
	v, _, err := m.get(ctx)
	return v, err
}

// Fetch is the general form of [Cache.Get]: fetch decides per value how
// long it stays fresh, its stale windows, and whether it may be stored or
// shared, and can revalidate the stale entry it is handed. Fetch reports
// where the value came from. It is the engine behind HTTP response caching.
//
// WARNING: every fetch function passed for the same key must compute the
// same value, unless it marks results Private.
func (c *Cache[V]) Fetch(ctx context.Context, key string, fetch FetchFunc[V]) (V, Info, error) {
	e, gen, now := c.hitL1(key)
	if e != nil {
		c.maybeRefreshEarly(ctx, key, gen, e, now, nil, fetch)
		return e.val, e.meta.info(SourceL1), nil
	}
	if err := ctx.Err(); err != nil {
		var zero V
		return zero, Info{}, err
	}
	m := miss[V]{c: c, key: key, gen: gen, dataKey: c.keys.data(gen, key), fetch: fetch}
	return m.get(ctx)
}
