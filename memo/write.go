package memo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// Set stores v under key, replacing any value, and evicts key from the L1
// of every node. A load of key that started before Set is not stored after
// it. See [Cache.Invalidate] for the budget of the call and what holds when
// it returns.
func (c *Cache[V]) Set(ctx context.Context, key string, v V) error {
	return c.Put(ctx, key, Result[V]{Value: v})
}

// Put is [Cache.Set] with per-value caching parameters: r.TTL, its stale
// windows and Retain, exactly as a [FetchFunc] result would be stored. A
// result marked NoStore or Private, or with a negative TTL, removes the key
// instead (like Invalidate). A duration longer than [MaxTTL] (or
// backend.NoExpiry) is refused with [ErrTTLTooLong] and nothing is written.
func (c *Cache[V]) Put(ctx context.Context, key string, r Result[V]) error {
	if err := checkResult(r); err != nil {
		return fmt.Errorf("memo: Put %q: %w", key, err)
	}
	if r.NoStore || r.Private || r.TTL < 0 {
		return c.Invalidate(ctx, key)
	}
	gen := c.generation()
	now := c.opts.Now()
	data, _, hard, err := c.encodeResult(r, now, 0, gen)
	if err != nil {
		return err
	}
	ctx, cancel := c.writeBudget(ctx)
	defer cancel()
	dataKey := c.keys.data(gen, key)
	c.forgetLocally(key, dataKey)
	err = c.callWrite(ctx, func(ctx context.Context) error {
		return c.backend.Set(ctx, dataKey, data, hard)
	})
	// Again after the write: a Get of this node that ran meanwhile may have
	// read the old bytes and kept them in L1 or in a flight.
	c.forgetLocally(key, dataKey)
	if err != nil {
		return err
	}
	c.publish(ctx, msgInvalidate, key) // also wakes the waiters for the value
	return nil
}

// encodeResult encodes r as stored at now, and returns the envelope, the
// freshness TTL and the backend TTL (freshness plus the longest window the
// entry must be kept for).
func (c *Cache[V]) encodeResult(r Result[V], now time.Time, load time.Duration, gen uint64) (data []byte, ttl, hard time.Duration, err error) {
	ttl = r.TTL
	if ttl == 0 {
		ttl = c.jitter(c.opts.TTL)
	}
	m := codec.Meta{CreatedAt: now, SoftExpiry: now.Add(ttl), LoadDuration: load, Generation: gen,
		StaleWhileRevalidate: r.StaleWhileRevalidate, StaleIfError: r.StaleIfError}
	data, err = c.env.Encode(r.Value, m)
	hard = ttl + max(c.staleWindow(r.StaleWhileRevalidate), c.errorWindow(r.StaleIfError), r.Retain)
	return data, ttl, hard, err
}

// jitter spreads d by ±Jitter.
func (c *Cache[V]) jitter(d time.Duration) time.Duration {
	if c.opts.Jitter <= 0 || d <= 0 {
		return d
	}
	f := 1 + c.opts.Jitter*(2*c.opts.Rand()-1)
	j := time.Duration(float64(d) * f)
	if j <= 0 {
		return d
	}
	return j
}

// Invalidate removes keys so the next Get loads them again, on every node:
// it writes a short-lived tombstone (so that a load which started before
// Invalidate is not stored after it), evicts the local L1 entries and
// publishes an eviction for the L1 of other nodes.
//
// The whole call (the backend write and the message to other nodes) runs
// within ctx and at most BackendTimeout; it is sent even while the circuit
// breaker is open (the write is then the breaker's probe). When it returns
// nil, no Get that starts afterwards on this node returns a value from
// before the call. Other nodes evict their L1 copies when the message
// reaches them; if it cannot be sent in time (ctx ended, pub/sub down),
// they serve them for at most L1TTL. When Invalidate returns an error
// (ctx's own when it ended first), the keys may or may not have been
// invalidated in the backend; this node's L1 copies are evicted in any
// case. Retry to be sure.
func (c *Cache[V]) Invalidate(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	gen := c.generation()
	now := c.opts.Now()
	items := make([]backend.Item, 0, len(keys))
	for _, k := range keys {
		data, err := c.env.Encode(nil, codec.Meta{Kind: codec.KindTombstone, CreatedAt: now, Generation: rand.Uint64()})
		if err != nil {
			return err
		}
		items = append(items, backend.Item{Key: c.keys.data(gen, k), Value: data, TTL: c.tombstoneKeep()})
	}
	ctx, cancel := c.writeBudget(ctx)
	defer cancel()
	for i, k := range keys {
		c.forgetLocally(k, items[i].Key)
	}
	err := c.callWrite(ctx, func(ctx context.Context) error { return backend.SetMany(ctx, c.backend, items) })
	for i, k := range keys {
		c.forgetLocally(k, items[i].Key) // again: see Put
	}
	for _, k := range keys {
		c.publish(ctx, msgInvalidate, k)
	}
	return err
}

// writeBudget bounds a write the caller waits for, the backend call and
// the messages that follow it together: ctx, and at most BackendTimeout.
func (c *Cache[V]) writeBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.BackendTimeout)
}

// forgetLocally makes this node forget what it holds or is reading of key:
// its L1 entry, and the backend reads and loads in flight (later Gets
// start afresh instead of joining them).
func (c *Cache[V]) forgetLocally(key, dataKey string) {
	c.invals.bump(key) // a load that read the backend before now does not store
	c.forgetFlights(dataKey)
	c.evictL1(key)
}

// tombstoneTTL outlives every load that can still store: a load that
// observed the state before an invalidation gives up storing after this
// long (see miss.store).
func (c *Cache[V]) tombstoneTTL() time.Duration {
	return c.opts.LockWait + c.opts.LoadTimeout + 4*c.opts.BackendTimeout
}

// tombstoneKeep is how long a tombstone is kept in the backend: at least
// tombstoneTTL, and no shorter than a value lives, so that an evicting
// policy that picks the keys nearest expiry (volatile-ttl) does not take
// tombstones first.
func (c *Cache[V]) tombstoneKeep() time.Duration {
	return max(c.tombstoneTTL(), c.opts.TTL)
}

// forgetFlights makes reads and loads of dataKey that start from now on
// begin afresh instead of joining ones that started before a write to
// dataKey (their results predate it; their stores are refused by
// compare-and-swap).
func (c *Cache[V]) forgetFlights(dataKey string) {
	c.reads.forget(dataKey)
	c.flights.forget(dataKey)
}

// Forget evicts key from this node's L1 only; the backend and other nodes
// are untouched. It is for a caller that found an L1 value outdated by its
// own rules while the backend may already hold a newer one.
func (c *Cache[V]) Forget(key string) {
	c.evictL1(key)
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
	c.evictL1Prefix(prefix)
	pattern := backend.QuoteGlob(c.keys.data(gen, prefix)) + "*"
	// A pattern delete walks the whole keyspace: it runs under the
	// caller's context, not BackendTimeout, and outside the breaker.
	n, err := backend.DeletePattern(ctx, c.backend, pattern)
	c.evictL1Prefix(prefix) // again: see Put
	c.publish(ctx, msgInvalidatePrefix, prefix)
	return n, err
}

// Clear invalidates every key of the namespace in O(1): it moves the
// namespace to a new generation, so old keys are no longer read and expire
// by their TTL. Other nodes follow through pub/sub, or within a second
// without it. Its budget is that of [Cache.Invalidate].
func (c *Cache[V]) Clear(ctx context.Context) error {
	gen := rand.Uint64() | 1 // never 0, the generation of a fresh namespace
	c.epoch.Add(1)           // L1 writes in flight may predate the new generation
	ctx, cancel := c.writeBudget(ctx)
	defer cancel()
	err := c.callWrite(ctx, func(ctx context.Context) error {
		return c.backend.Set(ctx, c.keys.gen(), []byte(strconv.FormatUint(gen, 10)), c.generationTTL())
	})
	if err != nil {
		return err
	}
	c.gen.Store(gen)
	c.genCheckedAt.Store(c.nanotime())
	c.genTouchedAt.Store(c.nanotime())
	c.flushL1()
	c.publish(ctx, msgClear, strconv.FormatUint(gen, 10))
	return nil
}

// WriteThrough persists v with persist (the source of truth) and, only if
// that succeeds, caches it under key. If caching fails after persist
// succeeded, the key is invalidated so no stale value survives, and the
// caching error is returned.
func (c *Cache[V]) WriteThrough(ctx context.Context, key string, v V, persist func(context.Context, V) error) error {
	if err := persist(ctx, v); err != nil {
		return err
	}
	if err := c.Set(ctx, key, v); err != nil {
		return errors.Join(err, c.Invalidate(ctx, key))
	}
	return nil
}

// Incr adds delta to the counter key in the namespace (created with ttl,
// which must be > 0) through the backend's counter capability, and
// returns the new value. Counters live beside cached values and are not
// affected by Clear. Like every key a cache writes, a counter expires:
// backend.NoExpiry is refused with [ErrNoExpiry] before any I/O (use
// [Cache.Counter] for a typed counter with a default TTL). It wraps
// errors.ErrUnsupported on a backend without counters, and
// backend.ErrOutcomeUnknown when the reply was lost.
func (c *Cache[V]) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if ttl == backend.NoExpiry {
		return 0, fmt.Errorf("memo: Incr(%q): %w", key, ErrNoExpiry)
	}
	var n int64
	err := c.call(ctx, func(ctx context.Context) (err error) {
		n, err = backend.Incr(ctx, c.backend, c.keys.counter(key), delta, ttl)
		return err
	})
	return n, err
}
