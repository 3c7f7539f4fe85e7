package memory

import (
	"context"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// SwapFingerprint stores a copy of value under key with ttl only if the
// current value matches old (nil: only if key is absent), then publishes
// notice (if any) to this Backend's subscribers before it returns. The
// comparison and the store are one atomic step.
func (b *Backend) SwapFingerprint(ctx context.Context, key string, old *backend.Fingerprint, value []byte, ttl time.Duration, notice *backend.Notice) (bool, error) {
	if err := backend.CheckFingerprint(old); err != nil {
		return false, err
	}
	if err := b.checkWrite(ctx, key, len(value), ttl); err != nil {
		return false, err
	}
	v := clone(value)
	s := b.shard(key)
	s.mu.Lock()
	if s.m == nil {
		s.mu.Unlock()
		return false, backend.ErrClosed
	}
	now := b.now()
	e := s.live(key, now)
	if (old == nil && e != nil) || (old != nil && (e == nil || !old.Matches(e.value))) {
		s.mu.Unlock()
		return false, nil
	}
	s.put(key, v, deadline(now, ttl), now)
	s.mu.Unlock()
	if notice != nil {
		_ = b.Publish(ctx, notice.Channel, notice.Payload)
	}
	return true, nil
}
