package goredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// incrScript adds ARGV[1] and, only when it created the key, sets the
// expiry ARGV[2] (milliseconds; "0" = none), in one atomic step: the key
// is never left without its TTL between two commands. It returns the new
// value as the stored decimal string, not INCRBY's reply: Lua holds
// numbers as doubles, so a value above 2^53 would come back rounded (a
// counter at 1.8e18 returned the same value for several increments).
var incrScript = newScript(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '0' then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])`, false)

// casScript stores ARGV[3] with expiry ARGV[4] (milliseconds; "0" = none)
// if the current value equals ARGV[2], or, when ARGV[1] is "absent", if
// the key does not exist. It returns 1 if it stored.
var casScript = newScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == 'absent' then
	if cur then return 0 end
elseif (not cur) or cur ~= ARGV[2] then
	return 0
end
if ARGV[4] == '0' then
	redis.call('SET', KEYS[1], ARGV[3])
else
	redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1`, false)

// Incr adds delta to the integer stored under key and returns the new
// value. A missing key counts as 0 and is created with ttl (> 0 or
// [backend.NoExpiry]); an existing key keeps its expiry. INCRBY and the
// expiry run in one Lua script, so they are atomic.
//
// Incr is never re-sent by go-redis: when its reply is lost (a timeout, a
// broken connection) the error wraps [backend.ErrOutcomeUnknown] and the
// cause (often context.DeadlineExceeded): the increment may or may not
// have been applied. A value that is not an integer yields [backend.ErrNotInteger],
// an overflow [backend.ErrOverflow]; in both cases nothing changes.
func (b *Backend) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := b.check(ctx, key); err != nil {
		return 0, err
	}
	if err := backend.CheckTTL(ttl); err != nil {
		return 0, err
	}
	v, err := incrScript.run(ctx, b.c, key, delta, millis(ttl))
	return b.incrResult(ctx, key, v, err)
}

// incrResult translates the reply of incrScript and its error.
func (b *Backend) incrResult(ctx context.Context, key string, reply any, err error) (int64, error) {
	if err != nil {
		switch msg := err.Error(); {
		case strings.Contains(msg, "not an integer"):
			return 0, fmt.Errorf("%w: key %q", backend.ErrNotInteger, key)
		case strings.Contains(msg, "overflow"):
			return 0, fmt.Errorf("%w: key %q", backend.ErrOverflow, key)
		}
		return 0, b.failUnsure(ctx, "INCRBY", key, err)
	}
	switch r := reply.(type) {
	case string: // incrScript's reply: the stored value, exact
		n, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("goredis: INCRBY %q: unexpected reply %q", key, r)
		}
		return n, nil
	case int64:
		return r, nil
	}
	return 0, fmt.Errorf("goredis: INCRBY %q: unexpected reply %T", key, reply)
}

// CompareAndSwap stores value under key with ttl (> 0 or
// [backend.NoExpiry]) only if the current value equals old byte for byte;
// a nil old means "only if key is absent". It reports whether it stored.
// The comparison and the store run in one Lua script on the key's node, so
// it works on a Cluster. A value over [Options.MaxValueBytes] yields an
// error wrapping [backend.ErrTooLarge] before any I/O. Like [Backend.Incr] it is never re-sent: a lost
// reply yields an error wrapping [backend.ErrOutcomeUnknown].
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := b.checkWrite(ctx, key, len(value), ttl); err != nil {
		return false, err
	}
	mode := "equal"
	if old == nil {
		mode = "absent"
	}
	v, err := casScript.run(ctx, b.c, key, mode, old, value, millis(ttl))
	if err != nil {
		return false, b.failUnsure(ctx, "CAS", key, err)
	}
	n, ok := v.(int64)
	if !ok {
		return false, fmt.Errorf("goredis: CAS %q: unexpected reply %T", key, v)
	}
	return n == 1, nil
}
