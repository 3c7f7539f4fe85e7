package goredis

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redirected reports a server reply that means "this slot is not (only)
// here": MOVED (the slot has another owner), ASK (the slot is being
// migrated and the keys are on the importing node) or TRYAGAIN (a
// multi-key command whose keys are split between the two nodes of a
// half-finished migration).
func redirected(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK ") || strings.HasPrefix(msg, "TRYAGAIN ")
}

// unlinkEach deletes keys with one single-key UNLINK each, in one
// pipeline through the client. go-redis follows MOVED and ASK for a
// single-key command, so this reaches every key of a slot whose migration
// is half finished, where a multi-key UNLINK answers TRYAGAIN.
func (b *Backend) unlinkEach(ctx context.Context, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	pipe := b.c.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Unlink(ctx, k)
	}
	_, _ = pipe.Exec(ctx)
	var n int64
	for i, cmd := range cmds {
		c, err := cmd.Result()
		if err != nil {
			return n, b.fail(ctx, "UNLINK", keys[i], err)
		}
		n += c
	}
	return n, nil
}
