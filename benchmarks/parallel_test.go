package benchmarks

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// parallelWorkers is how many goroutines the parallel benchmarks run at
// once: more than go-redis's default pool (10 per GOMAXPROCS) would make
// them measure the pool's queue, fewer would leave Redis idle between
// round trips.
const parallelWorkers = 16

// parallelKeys is how many keys the parallel Redis benchmark spreads its
// Gets over: with one hot key memo would answer most concurrent Gets with
// one shared backend read (it coalesces reads of a key in flight), which
// the peers do not do; over 1,024 keys that rarely happens.
const parallelKeys = 1024

// nthKey is the i-th key of a parallel benchmark's key set.
func nthKey(i int) string { return fmt.Sprintf("post:%d", i%parallelKeys) }

// newMemoSpreadGetter returns a postGetter over memo (Redis tier only,
// no L1) reading the parallelKeys keys round robin, all stored first with
// one GetMany.
func newMemoSpreadGetter(b *testing.B, be backend.Backend, ns string) postGetter {
	c, err := memo.New[Post](be, &memo.Options{Namespace: ns, TTL: time.Hour, BackendTimeout: benchBackendTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	p := newPost()
	keys := make([]string, parallelKeys)
	for i := range keys {
		keys[i] = nthKey(i)
	}
	loadAll := func(_ context.Context, ks []string) (map[string]Post, error) {
		m := make(map[string]Post, len(ks))
		for _, k := range ks {
			m[k] = p
		}
		return m, nil
	}
	if got, err := c.GetMany(ctx, keys, loadAll); err != nil || len(got) != len(keys) {
		b.Fatalf("memo GetMany: %d values, %v", len(got), err)
	}
	loads := c.Stats().Loads
	b.Cleanup(func() {
		if l := c.Stats().Loads; l != loads {
			b.Errorf("memo loaded %d times after the fill: the benchmark measured misses", l-loads)
		}
	})
	load := func(context.Context) (Post, error) { return p, nil }
	var n atomic.Uint64
	return func() Post {
		v, err := c.Get(ctx, nthKey(int(n.Add(1))), load)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// fillMsgpack stores the Post as plain msgpack under prefix+nthKey(i) for
// every i, one hour TTL, in one pipeline: the format raw GET+decode,
// go-redis/cache with plain msgpack and eko/gocache's Marshaler all read.
func fillMsgpack(b *testing.B, client *redis.Client, prefix string) {
	p := newPost()
	data, err := msgpack.Marshal(&p)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	pipe := client.Pipeline()
	for i := range parallelKeys {
		pipe.Set(ctx, prefix+nthKey(i), data, time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

// newPeerSpreadGetter is newMemoSpreadGetter for a Redis-tier reference
// ("raw", "gocache", "eko").
func newPeerSpreadGetter(b *testing.B, client *redis.Client, ref string) postGetter {
	prefix := redistest.Prefix(b)
	fillMsgpack(b, client, prefix)
	ctx := context.Background()
	var n atomic.Uint64
	key := func() string { return prefix + nthKey(int(n.Add(1))) }
	switch ref {
	case "raw":
		return func() Post {
			data, err := client.Get(ctx, key()).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			var v Post
			if err := msgpack.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
			return v
		}
	case "gocache":
		c := gocache.New(&gocache.Options{Redis: client,
			Marshal:   func(v any) ([]byte, error) { return msgpack.Marshal(v) },
			Unmarshal: func(data []byte, v any) error { return msgpack.Unmarshal(data, v) }})
		return func() Post {
			var v Post
			if err := c.Get(ctx, key(), &v); err != nil {
				b.Fatal(err)
			}
			return v
		}
	case "eko":
		c := newEkoCache(client)
		return func() Post {
			var v Post
			if _, err := c.Get(ctx, key(), &v); err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("unknown reference %q", ref)
	return nil
}

// BenchmarkRedisHitParallelInterleaved is BenchmarkRedisHitInterleaved
// from 16 goroutines at once, over 1,024 keys: each round, 16 goroutines
// make 4 Gets each through memo, then 4 each through the reference (order
// alternating), on one client and connection pool. Reports wall ns per
// call (1 / throughput) and memo/<ref>.
func BenchmarkRedisHitParallelInterleaved(b *testing.B) {
	for _, ref := range []string{"raw", "gocache", "eko"} {
		b.Run("ref="+ref, func(b *testing.B) {
			client, be := newRedis(b)
			ours := newMemoSpreadGetter(b, be, redistest.Prefix(b))
			theirs := newPeerSpreadGetter(b, client, ref)
			interleaveParallel(b, parallelWorkers, 4, "memo", func() { _ = ours() }, ref, func() { _ = theirs() })
		})
	}
}
