package goredis

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// persistScript removes the expiry of an existing key: -1 if the key is
// missing, otherwise PERSIST's reply (0 if it had no expiry). One script,
// so a key deleted between EXISTS and PERSIST cannot be misreported.
var persistScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('PERSIST', KEYS[1])`, true)

// TTL returns the remaining time to live of key (PTTL, millisecond
// precision), [backend.NoExpiry] if it has none, or
// [backend.ErrNotFound] if it does not exist.
func (b *Backend) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := b.check(ctx, key); err != nil {
		return 0, err
	}
	cmd := redis.NewIntCmd(ctx, "pttl", key)
	if err := b.c.Process(ctx, cmd); err != nil {
		return 0, b.fail(ctx, "PTTL", key, err)
	}
	return ttlOf(cmd.Val())
}

// ttlOf translates a PTTL reply.
func ttlOf(ms int64) (time.Duration, error) {
	switch ms {
	case -2:
		return 0, backend.ErrNotFound
	case -1:
		return backend.NoExpiry, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Expire sets the expiry of an existing key to ttl (> 0, rounded up to a
// whole millisecond as [backend.RoundTTL] does, with PEXPIRE), or removes it for [backend.NoExpiry]. It
// returns [backend.ErrNotFound] if the key does not exist.
func (b *Backend) Expire(ctx context.Context, key string, ttl time.Duration) error {
	if err := b.check(ctx, key); err != nil {
		return err
	}
	if err := backend.CheckTTL(ttl); err != nil {
		return err
	}
	if ttl == backend.NoExpiry {
		return b.Persist(ctx, key)
	}
	cmd := redis.NewIntCmd(ctx, "pexpire", key, millis(ttl))
	if err := b.c.Process(ctx, cmd); err != nil {
		return b.fail(ctx, "PEXPIRE", key, err)
	}
	if cmd.Val() == 0 {
		return backend.ErrNotFound
	}
	return nil
}

// Persist removes the expiry of an existing key. It returns
// [backend.ErrNotFound] if the key does not exist and nil if it exists
// without an expiry.
func (b *Backend) Persist(ctx context.Context, key string) error {
	if err := b.check(ctx, key); err != nil {
		return err
	}
	v, err := persistScript.run(ctx, b.c, key)
	if err != nil {
		return b.fail(ctx, "PERSIST", key, err)
	}
	return persistResult(v, nil)
}

// persistResult translates the reply of persistScript, or returns err.
func persistResult(reply any, err error) error {
	if err != nil {
		return err
	}
	if n, _ := reply.(int64); n == -1 {
		return backend.ErrNotFound
	}
	return nil
}
