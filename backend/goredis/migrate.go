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

// unlinkSlots deletes groups of same-slot keys on a Cluster: one UNLINK
// per group, in one pipeline. A multi-key UNLINK is sent once (go-redis
// would re-send it up to four times on TRYAGAIN, which a half-finished
// migration of its slot answers until the migration ends); when it fails,
// its keys are deleted one by one with [Backend.unlinkEach], which follows
// ASK to the importing node and keeps the client's retries.
func (b *Backend) unlinkSlots(ctx context.Context, groups [][]string) (int64, error) {
	pipe := b.c.Pipeline()
	cmds := make([]*redis.IntCmd, len(groups))
	for i, g := range groups {
		if len(g) == 1 {
			cmds[i] = pipe.Unlink(ctx, g[0])
			continue
		}
		args := make([]any, 0, len(g)+1)
		args = append(args, "unlink")
		for _, k := range g {
			args = append(args, k)
		}
		cmds[i] = redis.NewIntCmd(ctx, args...)
		_ = pipe.Process(ctx, noRetryInt{cmds[i]})
	}
	_, _ = pipe.Exec(ctx)
	var (
		n     int64
		retry []string
	)
	for i, cmd := range cmds {
		c, err := cmd.Result()
		switch {
		case err == nil:
			n += c
		case len(groups[i]) > 1:
			retry = append(retry, groups[i]...)
		default:
			return n, b.fail(ctx, "UNLINK", groups[i][0], err)
		}
	}
	c, err := b.unlinkEach(ctx, retry)
	return n + c, err
}

// noRetryInt is [noRetry] for an IntCmd.
type noRetryInt struct{ *redis.IntCmd }

// NoRetry reports true: go-redis does not re-send the command.
func (noRetryInt) NoRetry() bool { return true }
