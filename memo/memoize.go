package memo

import (
	"context"
	"errors"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// Memoize turns fn into a cached function of the same shape: a call with k
// returns the cached value of key(k), calling fn only on a miss (once per
// key across concurrent callers). key may be nil: [DefaultKey] is used.
//
// WARNING: key must be injective over the arguments fn distinguishes; two
// arguments mapping to one key share one cached value.
func Memoize[K comparable, V any](c *Cache[V], fn func(context.Context, K) (V, error), key func(K) string) func(context.Context, K) (V, error) {
	if key == nil {
		key = DefaultKey[K]
	}
	return func(ctx context.Context, k K) (V, error) {
		return c.Get(ctx, key(k), func(ctx context.Context) (V, error) { return fn(ctx, k) })
	}
}

// BatchLoadFunc loads many keys at once. Keys it leaves out of the result
// are "not found". It gets a context detached from the callers', bounded by
// Options.LoadTimeout.
type BatchLoadFunc[V any] func(ctx context.Context, keys []string) (map[string]V, error)

// batchCall is one key's share of a batch load, joined by overlapping
// batches in this process.
type batchCall[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// GetMany returns the values of keys: L1 first, then one batched backend
// read, then a single call of load for the keys still missing. Keys that
// are not found are absent from the result. Overlapping GetMany calls in
// this process share the loads of the keys they have in common.
//
// GetMany coalesces per process; the distributed Locker applies to [Get].
// Stale values are reloaded, not served.
func (c *Cache[V]) GetMany(ctx context.Context, keys []string, load BatchLoadFunc[V]) (map[string]V, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gen := c.generation()
	now := c.nanotime()
	out := make(map[string]V, len(keys))
	var rest []string
	for _, k := range keys {
		if _, dup := out[k]; dup {
			continue
		}
		if c.l1 != nil {
			if e, ok := c.l1.get(k, gen, now); ok {
				c.event(EventHitL1, k, 0, nil)
				out[k] = e.val
				continue
			}
		}
		rest = append(rest, k)
	}
	if len(rest) == 0 {
		return out, nil
	}

	epoch := c.epoch.Load()
	dks := make([]string, len(rest))
	for i, k := range rest {
		dks[i] = c.keys.data(gen, k)
	}
	var raws [][]byte
	err := c.call(ctx, func(ctx context.Context) (err error) {
		raws, err = backend.GetMany(ctx, c.b, dks)
		return err
	})
	if err != nil && ctx.Err() != nil {
		return out, ctx.Err() // the caller left during the read: load nothing
	}
	results := make([]lookupResult[V], len(rest))
	var missing []int
	for i, k := range rest {
		switch {
		case err != nil:
			results[i] = lookupResult[V]{state: stateUnknown}
		case raws[i] == nil:
			results[i] = lookupResult[V]{state: stateMiss}
		default:
			results[i] = c.classify(k, raws[i])
		}
		switch results[i].state {
		case stateFresh:
			c.event(EventHitBackend, k, 0, nil)
			out[k] = results[i].val
			c.putL1(k, gen, epoch, results[i].val, results[i].meta)
		case stateNegative:
			c.event(EventHitNegative, k, 0, nil)
		default:
			c.event(EventMiss, k, 0, nil)
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}

	// Claim the keys nobody in this process is loading; join the others.
	lead := map[int]*batchCall[V]{}
	joined := map[int]*batchCall[V]{}
	c.batchMu.Lock()
	for _, i := range missing {
		if bc, ok := c.batches[dks[i]]; ok {
			joined[i] = bc
			continue
		}
		bc := &batchCall[V]{done: make(chan struct{})}
		c.batches[dks[i]] = bc
		lead[i] = bc
	}
	c.batchMu.Unlock()

	if len(lead) > 0 {
		// The batch load runs detached, like a single load: this caller
		// waits for it on its own context and may leave; those that joined
		// still get the values.
		run := func() { c.runBatch(context.WithoutCancel(ctx), gen, rest, dks, results, lead, load) }
		if !c.background(run) {
			run()
		}
	}
	for i, bc := range lead {
		select {
		case <-bc.done:
		case <-ctx.Done():
			return out, ctx.Err()
		}
		if bc.err == nil {
			out[rest[i]] = bc.val
		} else if !errors.Is(bc.err, ErrNotFound) {
			return out, bc.err
		}
	}
	for i, bc := range joined {
		c.event(EventCoalesced, rest[i], 0, nil)
		select {
		case <-bc.done:
		case <-ctx.Done():
			return out, ctx.Err()
		}
		if bc.err == nil {
			out[rest[i]] = bc.val
		} else if !errors.Is(bc.err, ErrNotFound) {
			return out, bc.err
		}
	}
	return out, nil
}

// runBatch loads the claimed keys with one call of load and stores them.
func (c *Cache[V]) runBatch(ctx context.Context, gen uint64, rest, dks []string, results []lookupResult[V], lead map[int]*batchCall[V], load BatchLoadFunc[V]) {
	keys := make([]string, 0, len(lead))
	for i := range lead {
		keys = append(keys, rest[i])
	}
	started := c.o.Now()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
	defer cancel()

	var vals map[string]V
	err := func() error {
		select {
		case c.sem <- struct{}{}:
		case <-lctx.Done():
			return lctx.Err()
		}
		defer func() { <-c.sem }()
		var err error
		vals, err = safely(func() (map[string]V, error) { return load(lctx, keys) })
		return err
	}()
	d := c.o.Now().Sub(started)
	if err != nil {
		c.event(EventLoadError, "", d, err)
	} else {
		c.event(EventLoad, "", d, nil)
	}

	epoch := c.epoch.Load()
	now := c.o.Now()
	for i, bc := range lead {
		k := rest[i]
		switch v, ok := vals[k]; {
		case err != nil:
			bc.err = err
		case !ok:
			bc.err = ErrNotFound
			c.storeNotFound(lctx, k, dks[i], results[i], started, now, d, gen)
		default:
			bc.val = v
			data, ttl, hard, eerr := c.encodeResult(Result[V]{Value: v}, now, d, gen)
			if eerr == nil && c.store(lctx, k, dks[i], results[i], started, data, hard) {
				c.putL1(k, gen, epoch, v, entryMeta{soft: now.Add(ttl), created: now, load: d})
			}
		}
	}
	c.batchMu.Lock()
	for i, bc := range lead {
		delete(c.batches, dks[i])
		close(bc.done)
	}
	c.batchMu.Unlock()
}

// MemoizeBatch turns a batch function into a cached batch function: it
// calls fn only for the keys that miss. key may be nil ([DefaultKey]).
// Arguments fn leaves out of its result are "not found" and absent from the
// returned map.
func MemoizeBatch[K comparable, V any](c *Cache[V], fn func(context.Context, []K) (map[K]V, error), key func(K) string) func(context.Context, []K) (map[K]V, error) {
	if key == nil {
		key = DefaultKey[K]
	}
	return func(ctx context.Context, ks []K) (map[K]V, error) {
		byKey := make(map[string]K, len(ks))
		keys := make([]string, 0, len(ks))
		for _, k := range ks {
			s := key(k)
			byKey[s] = k
			keys = append(keys, s)
		}
		got, err := c.GetMany(ctx, keys, func(ctx context.Context, missing []string) (map[string]V, error) {
			args := make([]K, len(missing))
			for i, s := range missing {
				args[i] = byKey[s]
			}
			vals, err := fn(ctx, args)
			if err != nil {
				return nil, err
			}
			out := make(map[string]V, len(vals))
			for k, v := range vals {
				out[key(k)] = v
			}
			return out, nil
		})
		res := make(map[K]V, len(got))
		for s, v := range got {
			res[byKey[s]] = v
		}
		return res, err
	}
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
// > 0 or backend.NoExpiry) through the backend's counter capability, and
// returns the new value. Counters live beside cached values and are not
// affected by Clear. It wraps errors.ErrUnsupported on a backend without
// counters, and backend.ErrOutcomeUnknown when the reply was lost.
func (c *Cache[V]) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	var n int64
	err := c.call(ctx, func(ctx context.Context) (err error) {
		n, err = backend.Incr(ctx, c.b, c.keys.counter(key), delta, ttl)
		return err
	})
	return n, err
}
