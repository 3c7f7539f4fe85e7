package memory

import (
	"context"
	"fmt"

	"github.com/cachekit/cachekit/backend"
)

// GetMany returns a copy of the value of each key, in the order of keys: nil
// for a missing or expired key, a non-nil slice (possibly empty) for a
// present one. An empty key yields an error wrapping
// [backend.ErrInvalidKey]. The reads are not one atomic snapshot.
func (b *Backend) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(keys))
	var now int64
	haveNow := false
	clock := func() int64 { // read the clock at most once per batch
		if !haveNow {
			now, haveNow = b.now(), true
		}
		return now
	}
	for i, k := range keys {
		if v, ok := b.shard(k).get(k, clock); ok {
			out[i] = v
		}
	}
	return out, nil
}

// SetMany stores a copy of every item. It first validates all items (key,
// TTL, size), so an invalid batch stores nothing; past validation it stores
// every item. It is not atomic: concurrent readers may see part of the
// batch.
func (b *Backend) SetMany(ctx context.Context, items []backend.Item) error {
	for _, it := range items {
		if err := b.checkWrite(ctx, it.Key, len(it.Value), it.TTL); err != nil {
			return fmt.Errorf("memory: SetMany %q: %w", it.Key, err)
		}
	}
	now := b.now()
	for _, it := range items {
		v := clone(it.Value)
		s := b.shard(it.Key)
		s.mu.Lock()
		if s.m == nil {
			s.mu.Unlock()
			return backend.ErrClosed
		}
		s.put(it.Key, v, deadline(now, it.TTL), now)
		s.mu.Unlock()
	}
	return nil
}
