package goredis

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// Scan calls fn for every key matching the Redis glob pattern (checked
// with [backend.CheckPattern]). It runs a SCAN loop with COUNT
// [Options.ScanCount] on every master — a Cluster's masters or a Ring's
// shards, several at once (go-redis' ClusterClient.Scan sees one node
// only) — and never uses KEYS. Keys present for the whole scan are
// reported at least once, possibly more (SCAN semantics). On a Cluster,
// slots that move during the scan are rescanned (see the package
// documentation); when that cannot be proven complete the error wraps
// [backend.ErrIncomplete]. fn is called from one goroutine at a time and
// may use the Backend. An error from fn stops the scan and is returned.
func (b *Backend) Scan(ctx context.Context, pattern string, fn func(key string) error) error {
	if err := b.checkPattern(ctx, pattern); err != nil {
		return err
	}
	_, err := b.walkPattern(ctx, pattern, false, func(keys []string) error {
		for _, k := range keys {
			if err := fn(k); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// DeletePattern deletes every key matching pattern and returns how many
// keys it deleted. It scans every master as [Backend.Scan] does. On a
// Cluster each page is deleted on the master that returned it by the
// script call that scanned it (one UNLINK per key, or per hash slot for
// keys with a {hash tag}: never CROSSSLOT), or, when the master refuses
// the script, by UNLINK commands in the round trip of the next SCAN;
// elsewhere by UNLINKs of up to ScanCount keys in the round trip of the
// next SCAN. Never KEYS, never FLUSHDB. Keys written during the call may
// or may not be deleted. On a Cluster, keys of a half-migrated slot are
// deleted one by one (following ASK), and slots that move during the
// call are rescanned; when that cannot be proven complete the error wraps
// [backend.ErrIncomplete] and the count says what was deleted.
func (b *Backend) DeletePattern(ctx context.Context, pattern string) (int64, error) {
	if err := b.checkPattern(ctx, pattern); err != nil {
		return 0, err
	}
	return b.walkPattern(ctx, pattern, true, nil)
}

func (b *Backend) checkPattern(ctx context.Context, pattern string) error {
	if b.closed.Load() {
		return backend.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return backend.CheckPattern(pattern)
}

// masters returns a client per master: the client itself when standalone,
// every master of a Cluster, every live shard of a Ring, sorted by
// address.
func (b *Backend) masters(ctx context.Context) ([]*redis.Client, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	var (
		mu    sync.Mutex
		nodes []*redis.Client
	)
	collect := func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, c)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := b.c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, collect)
	case *redis.Ring:
		err = c.ForEachShard(ctx, collect)
	case *redis.Client:
		nodes = []*redis.Client{c}
	}
	if err != nil {
		return nil, b.fail(ctx, "CLUSTER NODES", "", err)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("goredis: no reachable master")
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Options().Addr < nodes[j].Options().Addr })
	return nodes, nil
}
