package memo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// ErrNoExpiry is returned by [Cache.Persist], and by [Cache.Expire] and [Cache.Incr] with
// backend.NoExpiry: a cache never leaves a key without expiry.
var ErrNoExpiry = errors.New("memo: cached keys always expire")

// TTL returns the remaining life in the backend of what is stored for key:
// its hard expiry, which includes the stale windows (a value is fresh for
// Options.TTL and may be served stale after that). An absent key yields an
// error wrapping [ErrNotFound] (and backend.ErrNotFound); a backend
// without expiry reads yields one wrapping errors.ErrUnsupported. Right
// after [Cache.Invalidate] the key holds a short-lived marker, and TTL
// reports its life.
func (c *Cache[V]) TTL(ctx context.Context, key string) (time.Duration, error) {
	if _, ok := c.backend.(backend.Expirer); !ok {
		return backend.TTL(ctx, c.backend, key) // errors.ErrUnsupported; not a breaker failure
	}
	dataKey := c.keys.data(c.generation(), key)
	ttl, err := leaving(c, ctx, func() (ttl time.Duration, err error) {
		err = c.call(ctx, func(ctx context.Context) (err error) {
			ttl, err = backend.TTL(ctx, c.backend, dataKey)
			return err
		})
		return ttl, err
	})
	return ttl, notFound(err)
}

// Expire sets how long what is stored for key stays in the backend (its
// hard expiry; ttl > 0). It does not change when the value stops being
// fresh: a value kept past its freshness is served as Get serves a stale
// one, and reloaded. Expire drops key from this node's L1 (other nodes
// keep theirs for at most Options.L1TTL). backend.NoExpiry is refused with
// [ErrNoExpiry]. An absent key yields an error wrapping [ErrNotFound]; a
// backend without expiry control, one wrapping errors.ErrUnsupported.
func (c *Cache[V]) Expire(ctx context.Context, key string, ttl time.Duration) error {
	if ttl == backend.NoExpiry {
		return ErrNoExpiry
	}
	if err := backend.CheckTTL(ttl); err != nil {
		return err
	}
	if _, ok := c.backend.(backend.Expirer); !ok {
		return backend.Expire(ctx, c.backend, key, ttl) // errors.ErrUnsupported
	}
	err := c.callWrite(ctx, func(ctx context.Context) error {
		return backend.Expire(ctx, c.backend, c.keys.data(c.generation(), key), ttl)
	})
	c.evictL1(key)
	return notFound(err)
}

// Persist is refused: it always returns [ErrNoExpiry], because a cache
// must never leave a key without expiry. It exists so that code ported
// from APIs with PERSIST finds the decision here: extend the key with
// [Cache.Expire] instead, or store what must not expire elsewhere.
func (c *Cache[V]) Persist(ctx context.Context, key string) error {
	return fmt.Errorf("%w: Persist of %q refused", ErrNoExpiry, key)
}

// notFound adds ErrNotFound to a backend not-found error.
func notFound(err error) error {
	if errors.Is(err, backend.ErrNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
