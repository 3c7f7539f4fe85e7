package memory

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// Incr adds delta to the integer stored under key and returns the new
// value, atomically. A missing or expired key counts as 0 and is created
// with ttl (> 0 or [backend.NoExpiry]); an existing key keeps its expiry.
// The value is stored as decimal ASCII, as in Redis. A value that is not
// an integer yields an error wrapping [backend.ErrNotInteger]; a result outside
// int64 yields one wrapping [backend.ErrOverflow]; in both cases nothing changes.
func (b *Backend) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := b.checkWrite(ctx, key, 20, ttl); err != nil { // 20 = len("-9223372036854775808")
		return 0, err
	}
	s := b.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return 0, backend.ErrClosed
	}
	now := b.now()
	var n int64
	expires := deadline(now, ttl)
	if e := s.live(key, now); e != nil {
		var ok bool
		if n, ok = parseInt(e.value); !ok {
			return 0, fmt.Errorf("%w: key %q", backend.ErrNotInteger, key)
		}
		expires = e.expires
	}
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return 0, fmt.Errorf("%w: key %q: %d%+d", backend.ErrOverflow, key, n, delta)
	}
	n += delta
	s.put(key, strconv.AppendInt(nil, n, 10), expires, now)
	return n, nil
}

// parseInt parses b by the rules of Redis' string2ll: an optional '-',
// then "0" or digits without a leading zero, within int64 ("-0" is
// rejected).
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true // wraps to MinInt64 for u == 1<<63
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}
