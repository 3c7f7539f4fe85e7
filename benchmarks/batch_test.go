package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// batchSize is how many keys each GetMany benchmark call reads.
const batchSize = 100

// postBatchGetter reads batchSize Posts; it fails the benchmark on a miss.
type postBatchGetter func() map[string]Post

var sinkPosts map[string]Post

// newMemoBatchGetter returns a memo GetMany of batchSize keys answered by
// Redis (no L1), with the values stored first by the GetMany itself.
func newMemoBatchGetter(b *testing.B, be *goredis.Backend) postBatchGetter {
	c, err := memo.New[Post](be, &memo.Options{Namespace: redistest.Prefix(b), TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var warm uint64
	b.Cleanup(func() {
		if loads := c.Stats().Loads; loads != warm {
			b.Errorf("memo loaded %d times during the benchmark: it measured misses", loads-warm)
		}
		c.Close()
	})
	keys := make([]string, batchSize)
	for i := range keys {
		keys[i] = fmt.Sprintf("post:%d", i)
	}
	p := newPost()
	load := func(_ context.Context, keys []string) (map[string]Post, error) {
		out := make(map[string]Post, len(keys))
		for _, k := range keys {
			out[k] = p
		}
		return out, nil
	}
	ctx := context.Background()
	get := func() map[string]Post {
		m, err := c.GetMany(ctx, keys, load)
		if err != nil || len(m) != batchSize {
			b.Fatalf("GetMany = %d values, %v", len(m), err)
		}
		return m
	}
	// Warm up until every value is stored (a store can time out on a
	// loaded machine).
	for range 5 {
		warm = c.Stats().Loads
		get()
		if c.Stats().Loads == warm {
			break
		}
	}
	return get
}

// newMGetBatchGetter returns the floor: one MGET of batchSize keys holding
// plain msgpack Posts, each decoded into the result map.
func newMGetBatchGetter(b *testing.B, client *redis.Client) postBatchGetter {
	ctx := context.Background()
	p := newPost()
	data, err := msgpack.Marshal(&p)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, batchSize)
	pipe := client.Pipeline()
	for i := range keys {
		keys[i] = fmt.Sprintf("%sraw:post:%d", redistest.Prefix(b), i)
		pipe.Set(ctx, keys[i], data, time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	return func() map[string]Post {
		vals, err := client.MGet(ctx, keys...).Result()
		if err != nil {
			b.Fatal(err)
		}
		out := make(map[string]Post, len(keys))
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				b.Fatalf("MGET %s: %T", keys[i], v)
			}
			var p Post
			if err := msgpack.Unmarshal([]byte(s), &p); err != nil {
				b.Fatal(err)
			}
			out[keys[i]] = p
		}
		return out
	}
}

// BenchmarkGetMany: a GetMany of 100 Posts answered by Redis, against the
// floor of one raw MGET plus a msgpack decode of each value into a map.
// For allocations per batch; the ratio is BenchmarkGetManyInterleaved's.
func BenchmarkGetMany(b *testing.B) {
	b.Run("impl=memo", func(b *testing.B) {
		_, be := newRedis(b)
		get := newMemoBatchGetter(b, be)
		b.ReportAllocs()
		for b.Loop() {
			sinkPosts = get()
		}
	})
	b.Run("impl=mget", func(b *testing.B) {
		client, _ := newRedis(b)
		get := newMGetBatchGetter(b, client)
		b.ReportAllocs()
		for b.Loop() {
			sinkPosts = get()
		}
	})
}

// BenchmarkGetManyInterleaved alternates memo's GetMany of 100 Redis-tier
// hits and the MGET + decode floor on one connection pool and reports the
// ratio (issue 11 item 4's target: ≤ 1.1).
func BenchmarkGetManyInterleaved(b *testing.B) {
	client, be := newRedis(b)
	ours, floor := newMemoBatchGetter(b, be), newMGetBatchGetter(b, client)
	interleave(b, 1, "memo", func() { sinkPosts = ours() }, "mget", func() { sinkPosts = floor() })
}
