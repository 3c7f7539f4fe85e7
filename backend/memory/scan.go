package memory

import (
	"context"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/glob"
)

// Scan calls fn for every live key matching the Redis glob pattern
// (checked with [backend.CheckPattern]). It visits one shard at a time,
// copying the shard's matching keys under its read lock and calling fn
// with no lock held, so fn may use the Backend (even delete keys). Keys
// present for the whole scan are reported exactly once; keys written during
// the scan may or may not be. An error from fn, or the end of ctx, stops
// the scan and is returned.
func (b *Backend) Scan(ctx context.Context, pattern string, fn func(key string) error) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := backend.CheckPattern(pattern); err != nil {
		return err
	}
	if !glob.HasMeta(pattern) { // a literal pattern names one key
		key := glob.LiteralPrefix(pattern)
		if !b.shard(key).exists(key, b.now()) {
			return nil
		}
		return fn(key)
	}
	var keys []string
	for i := range b.shards {
		if err := b.check(ctx); err != nil {
			return err
		}
		keys = b.shards[i].match(pattern, b.now(), keys[:0])
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// exists reports whether key is live, without marking it referenced.
func (s *shard) exists(key string, now int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.m[key]
	return e != nil && !e.expired(now)
}

// match appends to keys the live keys of s matching pattern.
func (s *shard) match(pattern string, now int64, keys []string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for k, e := range s.m {
		if !e.expired(now) && glob.Match(pattern, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// DeletePattern deletes every live key matching the Redis glob pattern
// (checked with [backend.CheckPattern]), one shard at a time, and returns
// how many it deleted. Expired matching keys are reclaimed but not
// counted. It is not atomic: keys written meanwhile may survive.
func (b *Backend) DeletePattern(ctx context.Context, pattern string) (int64, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	if err := backend.CheckPattern(pattern); err != nil {
		return 0, err
	}
	literal := ""
	if !glob.HasMeta(pattern) {
		literal = glob.LiteralPrefix(pattern)
	}
	var n int64
	for i := range b.shards {
		if err := b.check(ctx); err != nil {
			return n, err
		}
		s := &b.shards[i]
		if literal != "" && s != b.shard(literal) {
			continue
		}
		s.mu.Lock()
		now := b.now()
		if literal != "" {
			if e := s.live(literal, now); e != nil {
				s.remove(e)
				n++
			}
		} else {
			for k, e := range s.m {
				if !glob.Match(pattern, k) {
					continue
				}
				if !e.expired(now) {
					n++
				} else {
					s.expirations++
				}
				s.remove(e)
			}
		}
		s.mu.Unlock()
	}
	return n, nil
}
