package memo

import (
	"context"
)

// Memoized is a memoized function that also knows its keys: Get calls it
// through the cache, Invalidate forgets the values of typed arguments, and
// Func gives the plain function. Build one with [NewMemoized].
//
// [Memoize] is unchanged and returns a plain func, so existing callers
// keep compiling; a func cannot carry methods that reach its cache and key
// function, so the handle is a separate type.
type Memoized[K comparable, V any] struct {
	c   *Cache[V]
	fn  func(context.Context, K) (V, error)
	key func(K) string
}

// NewMemoized wraps fn like [Memoize]: a Get with k returns the cached
// value of key(k), calling fn only on a miss. key may be nil ([DefaultKey]).
//
// WARNING: key must be injective over the arguments fn distinguishes; two
// arguments mapping to one key share one cached value.
func NewMemoized[K comparable, V any](c *Cache[V], fn func(context.Context, K) (V, error), key func(K) string) *Memoized[K, V] {
	if key == nil {
		key = DefaultKey[K]
	}
	return &Memoized[K, V]{c: c, fn: fn, key: key}
}

// Get returns the cached value for k, calling the function on a miss.
func (m *Memoized[K, V]) Get(ctx context.Context, k K) (V, error) {
	return m.c.Get(ctx, m.key(k), func(ctx context.Context) (V, error) { return m.fn(ctx, k) })
}

// Peek returns the cached value for k without calling the function (see
// [Cache.Peek]).
func (m *Memoized[K, V]) Peek(ctx context.Context, k K) (V, bool, error) {
	return m.c.Peek(ctx, m.key(k))
}

// Invalidate forgets the cached values of ks (see [Cache.Invalidate]).
func (m *Memoized[K, V]) Invalidate(ctx context.Context, ks ...K) error {
	keys := make([]string, len(ks))
	for i, k := range ks {
		keys[i] = m.key(k)
	}
	return m.c.Invalidate(ctx, keys...)
}

// Key returns the cache key of k.
func (m *Memoized[K, V]) Key(k K) string { return m.key(k) }

// Func returns Get as a plain function, the shape [Memoize] returns.
func (m *Memoized[K, V]) Func() func(context.Context, K) (V, error) { return m.Get }
