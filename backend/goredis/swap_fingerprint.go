package goredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// fingerprintScript stores ARGV[4] with expiry ARGV[5] (milliseconds; "0"
// = none) if the current value is ARGV[2] bytes long and ends with ARGV[3],
// or, when ARGV[1] is "absent", if the key does not exist. It reads only
// the length and the tail of the current value (STRLEN, GETRANGE), never
// the value. When it stored and ARGV[6] is not empty, it publishes ARGV[7]
// on channel ARGV[6]. It returns 1 if it stored.
var fingerprintScript = newScript(`
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] == 'absent' then
	if exists then return 0 end
else
	if not exists then return 0 end
	local n = tonumber(ARGV[2])
	if redis.call('STRLEN', KEYS[1]) ~= n then return 0 end
	local t = ARGV[3]
	if #t > 0 and redis.call('GETRANGE', KEYS[1], n - #t, n - 1) ~= t then return 0 end
end
if ARGV[5] == '0' then
	redis.call('SET', KEYS[1], ARGV[4])
else
	redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
if ARGV[6] ~= '' then
	redis.call('PUBLISH', ARGV[6], ARGV[7])
end
return 1`, false)

// SwapFingerprint stores value under key with ttl (> 0 or
// [backend.NoExpiry]) only if the current value matches old (nil: only if
// key is absent), and reports whether it stored. The script reads only the
// current value's length and tail, so the old value never crosses the
// wire; with old nil and no notice it is a SET NX. When it stored and notice is not nil, the same script publishes
// the notice: one round trip for both (on a Cluster the message is sent
// from the key's node and reaches every node over the cluster bus; on a
// Ring it is published on every shard afterwards, as [Backend.Publish]
// does). Like [Backend.CompareAndSwap] it is never re-sent: a lost reply
// yields an error wrapping [backend.ErrOutcomeUnknown].
func (b *Backend) SwapFingerprint(ctx context.Context, key string, old *backend.Fingerprint, value []byte, ttl time.Duration, notice *backend.Notice) (bool, error) {
	if err := backend.CheckFingerprint(old); err != nil {
		return false, err
	}
	if err := b.checkWrite(ctx, key, len(value), ttl); err != nil {
		return false, err
	}
	mode, n, tail := "absent", 0, []byte(nil)
	if old != nil {
		mode, n, tail = "match", old.Len, old.Tail
	}
	var channel string
	var payload []byte
	_, ring := b.c.(*redis.Ring)
	if notice != nil && !ring {
		channel, payload = notice.Channel, notice.Payload
	}
	if old == nil && channel == "" {
		ok, err := b.setAbsent(ctx, key, value, ttl)
		if ok && notice != nil {
			_ = b.Publish(ctx, notice.Channel, notice.Payload)
		}
		return ok, err
	}
	v, err := fingerprintScript.run(ctx, b.c, key, mode, n, tail, value, millis(ttl), channel, payload)
	if err != nil {
		return false, b.failUnsure(ctx, "CAS", key, err)
	}
	ok, isInt := v.(int64)
	if !isInt {
		return false, fmt.Errorf("goredis: CAS %q: unexpected reply %T", key, v)
	}
	if ok == 1 && notice != nil && ring {
		_ = b.Publish(ctx, notice.Channel, notice.Payload)
	}
	return ok == 1, nil
}

// setAbsent stores value under key with ttl only if key does not exist:
// the script's "absent" case as one SET NX, which Redis runs without the
// cost of a script. Like the script it is never re-sent.
func (b *Backend) setAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	args := []any{"set", key, value, "nx"}
	if ms := millis(ttl); ms > 0 {
		args = append(args, "px", ms)
	}
	cmd := redis.NewCmd(ctx, args...)
	err := b.c.Process(ctx, noRetry{cmd})
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, b.failUnsure(ctx, "CAS", key, err)
	}
	return true, nil
}
