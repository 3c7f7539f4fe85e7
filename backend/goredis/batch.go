package goredis

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// GetMany returns one value per key, in the order of keys: nil for a miss
// (including a value over [Options.MaxValueBytes], counted by
// [Backend.OversizedReads]), a non-nil (possibly empty) slice for a
// present value. It takes one round trip: one pipeline of MGET per group
// of keys ([Options.ScanCount] keys on a standalone server, one hash slot
// on a Cluster, so never CROSSSLOT), whose replies are parsed as they
// stream in and never read more than MaxValueBytes+1 bytes of a value: a
// longer one stops the read (the connection is closed) and the batch is
// read again with bounded GETRANGEs (see "Value size" in the package
// documentation). The values of one call may share memory, each slice's
// capacity ending at its length. On a Ring it reads key by key in one
// pipeline, as [Backend.Get] does. An empty key yields
// [backend.ErrInvalidKey].
func (b *Backend) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	for _, k := range keys {
		if err := b.check(ctx, k); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if b.topo != ring && !b.bigKeys.anyOf(keys) {
		switch ok, err := b.getManyStreamed(ctx, keys, out); {
		case err != nil:
			return nil, err
		case ok:
			return out, nil
		}
	}
	read := b.getManyRanged
	if b.topo == ring {
		read = b.getManyBounded
	}
	if err := read(ctx, keys, out); err != nil {
		return nil, err
	}
	return out, nil
}

// SetMany stores every item in one pipeline of SET commands (split by node
// on a Cluster or Ring). Every item is validated first (key, TTL, size
// against [Options.MaxValueBytes]), so an invalid batch stores nothing
// and sends nothing. It is not atomic: on error some items may have
// been stored. SET is idempotent, so the client may retry it.
func (b *Backend) SetMany(ctx context.Context, items []backend.Item) error {
	for _, it := range items {
		if err := b.checkWrite(ctx, it.Key, len(it.Value), it.TTL); err != nil {
			return fmt.Errorf("goredis: SetMany %q: %w", it.Key, err)
		}
	}
	if len(items) == 0 {
		return nil
	}
	pipe := b.c.Pipeline()
	cmds := make([]*redis.StatusCmd, len(items))
	for i, it := range items {
		cmds[i] = pipe.Set(ctx, it.Key, it.Value, expiration(it.TTL))
	}
	_, _ = pipe.Exec(ctx)
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return b.fail(ctx, "SET", items[i].Key, err)
		}
	}
	return nil
}

// unlink deletes keys and returns how many existed. On a standalone
// server it sends UNLINK with up to ScanCount keys per command; on a
// Cluster one UNLINK per hash slot (never CROSSSLOT; see unlinkSlots for
// half-migrated slots); on a Ring one UNLINK
// per key (a Ring routes a command by its first key). Commands go in one
// pipeline.
func (b *Backend) unlink(ctx context.Context, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	var groups [][]string
	switch b.topo {
	case cluster:
		return b.unlinkSlots(ctx, groupBySlot(keys))
	case ring:
		groups = make([][]string, len(keys))
		for i := range keys {
			groups[i] = keys[i : i+1]
		}
	default:
		for len(keys) > b.opt.ScanCount {
			groups = append(groups, keys[:b.opt.ScanCount])
			keys = keys[b.opt.ScanCount:]
		}
		groups = append(groups, keys)
	}
	if len(groups) == 1 {
		n, err := b.c.Unlink(ctx, groups[0]...).Result()
		if err != nil {
			return 0, b.fail(ctx, "UNLINK", groups[0][0], err)
		}
		return n, nil
	}
	pipe := b.c.Pipeline()
	cmds := make([]*redis.IntCmd, len(groups))
	for i, g := range groups {
		cmds[i] = pipe.Unlink(ctx, g...)
	}
	_, _ = pipe.Exec(ctx)
	var n int64
	for i, cmd := range cmds {
		c, err := cmd.Result()
		if err != nil {
			return n, b.fail(ctx, "UNLINK", groups[i][0], err)
		}
		n += c
	}
	return n, nil
}
