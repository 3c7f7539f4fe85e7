package memo

import (
	"context"
	"time"
	"unsafe"
)

// Memoize turns fn into a cached function of the same shape: a call with k
// returns the cached value of key(k), calling fn only on a miss (once per
// key across concurrent callers). key may be nil: [DefaultKey] is used.
//
// WARNING: key must be injective over the arguments fn distinguishes; two
// arguments mapping to one key share one cached value.
func Memoize[K comparable, V any](c *Cache[V], fn func(context.Context, K) (V, error), key func(K) string) func(context.Context, K) (V, error) {
	// A string argument with the default key is its own key: read in
	// place rather than through a call of DefaultKey per hit.
	var zero K
	_, self := any(&zero).(*string)
	self = self && key == nil
	if key == nil {
		key = DefaultKey[K]
	}
	return func(ctx context.Context, k K) (V, error) {
		var s string
		if self {
			// K is string. A copy, so that k (captured by the load
			// closures below) is not addressed and stays off the heap.
			arg := k
			s = *(*string)(unsafe.Pointer(&arg))
		} else {
			s = key(k)
		}
		// The L1 is tried before the load closure exists: a hit allocates
		// nothing.
		e, gen, now := c.hitL1(s)
		if e == nil {
			return c.getMiss(ctx, s, gen, func(ctx context.Context) (V, error) { return fn(ctx, k) })
		}
		if c.opts.Beta > 0 && c.earlyRefreshDue(e.meta, time.Unix(0, now)) {
			c.refreshEarly(ctx, s, gen, func(ctx context.Context) (V, error) { return fn(ctx, k) }, nil)
		}
		return e.val, nil
	}
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
