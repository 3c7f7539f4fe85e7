package memory

import (
	"bytes"
	"context"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// CompareAndSwap stores a copy of value under key with ttl only if the
// current value equals old byte for byte, and reports whether it stored.
// A nil old means "only if key is absent" (an expired key is absent); a
// non-nil empty old matches a present empty value. The comparison and the
// store are one atomic step.
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := b.checkWrite(ctx, key, len(value), ttl); err != nil {
		return false, err
	}
	v := clone(value)
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return false, backend.ErrClosed
	}
	now := b.now()
	e := s.live(key, now)
	if old == nil {
		if e != nil {
			return false, nil
		}
	} else if e == nil || !bytes.Equal(e.value, old) {
		return false, nil
	}
	s.put(key, v, deadline(now, ttl), now)
	return true, nil
}
