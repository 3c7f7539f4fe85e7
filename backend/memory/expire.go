package memory

import (
	"context"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// TTL returns the remaining time to live of key, [backend.NoExpiry] if it
// has none, or an error wrapping [backend.ErrNotFound] if it is missing or
// expired.
func (b *Backend) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	s := b.shard(key)
	s.mu.RLock()
	e := s.m[key]
	if e == nil {
		s.mu.RUnlock()
		return 0, backend.ErrNotFound
	}
	expires := e.expires
	s.mu.RUnlock()
	if expires == never {
		return backend.NoExpiry, nil
	}
	now := b.now()
	if now >= expires {
		return 0, backend.ErrNotFound
	}
	return time.Duration(expires - now), nil
}

// Expire sets the expiry of an existing key to ttl (> 0 or
// [backend.NoExpiry]). It returns an error wrapping [backend.ErrNotFound]
// if the key is missing or expired.
func (b *Backend) Expire(ctx context.Context, key string, ttl time.Duration) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := backend.CheckTTL(ttl); err != nil {
		return err
	}
	return b.setExpiry(key, func(now int64) int64 { return deadline(now, ttl) })
}

// Persist removes the expiry of an existing key. It returns an error
// wrapping [backend.ErrNotFound] if the key is missing or expired.
func (b *Backend) Persist(ctx context.Context, key string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	return b.setExpiry(key, func(int64) int64 { return never })
}

func (b *Backend) setExpiry(key string, expiry func(now int64) int64) error {
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return backend.ErrClosed
	}
	now := b.now()
	e := s.live(key, now)
	if e == nil {
		return backend.ErrNotFound
	}
	e.expires = expiry(now)
	return nil
}
