package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// A batch: 100 keys, all hits, returned as a map[string]Post (memo's
// GetMany result; the references build the same map).
const batchSize = 100

var batchKeys = func() []string {
	ks := make([]string, batchSize)
	for i := range ks {
		ks[i] = fmt.Sprintf("post:%d", i)
	}
	return ks
}()

type batchFunc func() map[string]Post

// newMemoBatch returns memo's GetMany of batchKeys over be (with an L1 of
// l1 entries, or none), all stored first by one GetMany; it checks at
// cleanup that nothing was loaded afterwards.
func newMemoBatch(b *testing.B, be backend.Backend, ns string, l1 int) batchFunc {
	c, err := memo.New[Post](be, &memo.Options{Namespace: ns, TTL: time.Hour, BackendTimeout: benchBackendTimeout, L1Size: l1, L1TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p := newPost()
	loaded := 0
	load := func(_ context.Context, ks []string) (map[string]Post, error) {
		loaded += len(ks)
		m := make(map[string]Post, len(ks))
		for _, k := range ks {
			m[k] = p
		}
		return m, nil
	}
	get := func() map[string]Post {
		m, err := c.GetMany(ctx, batchKeys, load)
		if err != nil || len(m) != batchSize {
			b.Fatalf("memo GetMany: %d values, %v", len(m), err)
		}
		return m
	}
	get()
	if loaded != batchSize {
		b.Fatalf("memo GetMany fill loaded %d keys, want %d", loaded, batchSize)
	}
	b.Cleanup(func() {
		if loaded != batchSize {
			b.Errorf("memo loaded %d keys after the fill: the benchmark measured misses", loaded-batchSize)
		}
		c.Close()
	})
	return get
}

// newRawBatch is the Redis floor: one MGET of the 100 keys (stored as
// plain msgpack) and 100 msgpack decodes into the map.
func newRawBatch(b *testing.B, client *redis.Client) batchFunc {
	ctx := context.Background()
	prefix := redistest.Prefix(b)
	p := newPost()
	data, err := msgpack.Marshal(&p)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, batchSize)
	pipe := client.Pipeline()
	for i, k := range batchKeys {
		keys[i] = prefix + k
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
		m := make(map[string]Post, batchSize)
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				b.Fatalf("raw: MGET: %s missing", keys[i])
			}
			var post Post
			if err := msgpack.Unmarshal([]byte(s), &post); err != nil {
				b.Fatal(err)
			}
			m[batchKeys[i]] = post
		}
		return m
	}
}

// newOtterBatch is the in-process floor: 100 GetIfPresent on otter
// holding *Post, copied into the map.
func newOtterBatch(b *testing.B) batchFunc {
	c := otter.Must(&otter.Options[string, *Post]{
		MaximumSize:      1024,
		ExpiryCalculator: otter.ExpiryWriting[string, *Post](time.Hour),
	})
	p := newPost()
	for _, k := range batchKeys {
		c.Set(k, &p)
	}
	return func() map[string]Post {
		m := make(map[string]Post, batchSize)
		for _, k := range batchKeys {
			v, ok := c.GetIfPresent(k)
			if !ok {
				b.Fatal("otter: miss")
			}
			m[k] = *v
		}
		return m
	}
}

// newSturdycBatch: sturdyc's GetOrFetchBatch answered by its in-memory
// tier (the key function is the identity, so no key formatting is paid).
func newSturdycBatch(b *testing.B) batchFunc {
	c := newSturdyc(1024)
	ctx := context.Background()
	p := newPost()
	for _, k := range batchKeys {
		c.Set(k, p)
	}
	keyFn := func(id string) string { return id }
	fetch := func(_ context.Context, ids []string) (map[string]Post, error) {
		b.Errorf("sturdyc: fetched %d ids on a hit", len(ids))
		return nil, nil
	}
	return func() map[string]Post {
		m, err := c.GetOrFetchBatch(ctx, batchKeys, keyFn, fetch)
		if err != nil || len(m) != batchSize {
			b.Fatalf("sturdyc: %d values, %v", len(m), err)
		}
		return m
	}
}

var sinkBatch map[string]Post

// BenchmarkBatchInterleaved: a batch of 100 hits. tier=redis: memo's
// GetMany answered by Redis (no L1) against MGET + 100 decodes (floor).
// go-redis/cache and eko/gocache have no batch read (a caller makes 100
// Gets), so they are not in it. tier=l1: GetMany answered by memo's L1
// against 100 otter lookups (floor) and sturdyc's GetOrFetchBatch.
// Alternating blocks of 4 (Redis) or 16 (in process).
func BenchmarkBatchInterleaved(b *testing.B) {
	b.Run("tier=redis/ref=raw", func(b *testing.B) {
		client, be := newRedis(b)
		ours := newMemoBatch(b, be, redistest.Prefix(b), 0)
		theirs := newRawBatch(b, client)
		interleave(b, 4, "memo", func() { sinkBatch = ours() }, "raw", func() { sinkBatch = theirs() })
	})
	for _, ref := range []struct {
		name string
		new  func(*testing.B) batchFunc
	}{
		{"otter", newOtterBatch},
		{"sturdyc", newSturdycBatch},
	} {
		b.Run("tier=l1/ref="+ref.name, func(b *testing.B) {
			m, err := memory.New(nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			ours := newMemoBatch(b, m, "bench", 1024)
			theirs := ref.new(b)
			interleave(b, 16, "memo", func() { sinkBatch = ours() }, ref.name, func() { sinkBatch = theirs() })
		})
	}
}

// BenchmarkBatch is BenchmarkBatchInterleaved's Redis tier run alone, for
// allocations per batch of 100: memo's GetMany and the MGET + decode floor.
func BenchmarkBatch(b *testing.B) {
	b.Run("tier=redis/impl=memo", func(b *testing.B) {
		_, be := newRedis(b)
		get := newMemoBatch(b, be, redistest.Prefix(b), 0)
		b.ReportAllocs()
		for b.Loop() {
			sinkBatch = get()
		}
	})
	b.Run("tier=redis/impl=raw", func(b *testing.B) {
		client, _ := newRedis(b)
		get := newRawBatch(b, client)
		b.ReportAllocs()
		for b.Loop() {
			sinkBatch = get()
		}
	})
}
