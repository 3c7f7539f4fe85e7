package memo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/codec"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

type benchPost struct {
	ID        int64
	Author    string
	Title     string
	Body      string
	Tags      []string
	CreatedAt time.Time
	Likes     int64
	Meta      map[string]string
}

func newBenchPost() benchPost {
	body := make([]byte, 500)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	return benchPost{ID: 42, Author: "ada", Title: "On caching", Body: string(body),
		Tags: []string{"go", "cache", "redis", "perf", "memo"}, CreatedAt: time.Unix(1_800_000_000, 123),
		Likes: 1234, Meta: map[string]string{"lang": "en", "src": "web", "v": "2"}}
}

// BenchmarkL1Hit: a Get answered by the typed L1, against a plain
// sync.Map lookup in the same run (target: ≤ 2×, 0 allocs).
func BenchmarkL1Hit(b *testing.B) {
	be, _ := memory.New(nil)
	c, _ := memo.New[benchPost](be, &memo.Options{L1Size: 1024, TTL: time.Hour, L1TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	load := func(context.Context) (benchPost, error) { return p, nil }
	_, _ = c.Get(ctx, "post:42", load)
	b.Run("memo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, "post:42", load); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The reference: a typed lookup in a sync.Map returning the same V.
	b.Run("syncmap", func(b *testing.B) {
		var m sync.Map
		m.Store("post:42", &p)
		b.ReportAllocs()
		for b.Loop() {
			v, ok := m.Load("post:42")
			if !ok {
				b.Fatal("miss")
			}
			sink = *v.(*benchPost)
		}
	})
}

var sink benchPost

// BenchmarkL1HitParallel is BenchmarkL1Hit from every core.
func BenchmarkL1HitParallel(b *testing.B) {
	be, _ := memory.New(nil)
	c, _ := memo.New[benchPost](be, &memo.Options{L1Size: 1024, TTL: time.Hour, L1TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	load := func(context.Context) (benchPost, error) { return p, nil }
	_, _ = c.Get(ctx, "post:42", load)
	b.Run("memo", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Get(ctx, "post:42", load); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("syncmap", func(b *testing.B) {
		var m sync.Map
		m.Store("post:42", &p)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var local benchPost
			for pb.Next() {
				v, _ := m.Load("post:42")
				local = *v.(*benchPost)
			}
			_ = local
		})
	})
}

// BenchmarkRedisHit: a Get answered by Redis (no L1), against a raw
// go-redis GET plus msgpack decode of the same value (target: ≤ 1.15×).
func BenchmarkRedisHit(b *testing.B) {
	s := redistest.Shared(b)
	client := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	defer client.Close()
	be, err := goredis.New(client, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, _ := memo.New[benchPost](be, &memo.Options{Namespace: redistest.Prefix(b), TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	load := func(context.Context) (benchPost, error) { return p, nil }
	_, _ = c.Get(ctx, "post:42", load)
	raw, _ := msgpack.Marshal(&p)
	if err := client.Set(ctx, "bench:raw:post:42", raw, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.Run("memo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, "post:42", load); err != nil {
				b.Fatal(err)
			}
		}
		if c.Stats().Loads != 1 {
			b.Fatalf("loads = %d: the benchmark measured misses", c.Stats().Loads)
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := client.Get(ctx, "bench:raw:post:42").Bytes()
			if err != nil {
				b.Fatal(err)
			}
			var out benchPost
			if err := msgpack.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRedisHitInterleaved alternates one memo Get (Redis tier) and one
// raw go-redis GET + msgpack decode of the same value in every iteration,
// so machine noise hits both alike, and reports each side's ns/op and
// their ratio (target ≤ 1.15).
func BenchmarkRedisHitInterleaved(b *testing.B) {
	s := redistest.Shared(b)
	client := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	defer client.Close()
	be, err := goredis.New(client, nil)
	if err != nil {
		b.Fatal(err)
	}
	c, _ := memo.New[benchPost](be, &memo.Options{Namespace: redistest.Prefix(b), TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	load := func(context.Context) (benchPost, error) { return p, nil }
	_, _ = c.Get(ctx, "post:42", load)
	raw, _ := msgpack.Marshal(&p)
	if err := client.Set(ctx, "bench-il:raw", raw, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	var memoNs, rawNs time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Get(ctx, "post:42", load); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		data, err := client.Get(ctx, "bench-il:raw").Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var out benchPost
		if err := msgpack.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		memoNs += t1.Sub(t0)
		rawNs += t2.Sub(t1)
	}
	if c.Stats().Loads != 1 {
		b.Fatalf("loads = %d: the benchmark measured misses", c.Stats().Loads)
	}
	b.ReportMetric(float64(memoNs.Nanoseconds())/float64(b.N), "memo-ns/op")
	b.ReportMetric(float64(rawNs.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(memoNs)/float64(rawNs), "memo/raw")
}

// BenchmarkMemoizeL1HitInterleaved alternates one memoized call and one
// Get of the same L1-resident key in every iteration and reports each
// side's ns/op and their ratio (target ≤ 1.1, 0 allocs: Get's L1 hit
// allocates nothing, so allocs/op is the memoized call's).
func BenchmarkMemoizeL1HitInterleaved(b *testing.B) {
	be, _ := memory.New(nil)
	c, _ := memo.New[benchPost](be, &memo.Options{L1Size: 1024, TTL: time.Hour, L1TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	get := memo.Memoize(c, func(context.Context, string) (benchPost, error) { return p, nil }, nil)
	load := func(context.Context) (benchPost, error) { return p, nil }
	if _, err := get(ctx, "post:42"); err != nil {
		b.Fatal(err)
	}
	var memoNs, getNs time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, err := get(ctx, "post:42"); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := c.Get(ctx, "post:42", load); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		memoNs += t1.Sub(t0)
		getNs += t2.Sub(t1)
	}
	if s := c.Stats(); s.Loads != 1 {
		b.Fatalf("loads = %d: the benchmark measured misses", s.Loads)
	}
	b.ReportMetric(float64(memoNs.Nanoseconds())/float64(b.N), "memoize-ns/op")
	b.ReportMetric(float64(getNs.Nanoseconds())/float64(b.N), "get-ns/op")
	b.ReportMetric(float64(memoNs)/float64(getNs), "memoize/get")
}

// BenchmarkBackendHitOverheadInterleaved isolates memo's own cost on a
// backend-tier hit: one memo Get (no L1) over backend/memory alternates
// with the floor, a backend/memory Get of the same enveloped bytes plus
// codec.Envelope.Decode. The backend and the envelope are the same on both
// sides, so memo/floor is what memo adds around them (lookup, shared read,
// breaker, classification, stats). Allocations are the memo side's minus
// nothing: allocs/op counts both sides (the floor's are the backend's copy
// and the decode).
func BenchmarkBackendHitOverheadInterleaved(b *testing.B) {
	be, _ := memory.New(nil)
	defer be.Close()
	c, _ := memo.New[benchPost](be, &memo.Options{TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	load := func(context.Context) (benchPost, error) { return p, nil }
	if _, err := c.Get(ctx, "post:42", load); err != nil {
		b.Fatal(err)
	}
	// The floor reads the very bytes memo stored, under a key of its own.
	var raw []byte
	err := be.Scan(ctx, "*:post%3A42", func(key string) error {
		var err error
		raw, err = be.Get(ctx, key)
		return err
	})
	if err != nil || raw == nil {
		b.Fatalf("memo's entry not found: %v", err)
	}
	var env codec.Envelope
	if err := be.Set(ctx, "floor:post:42", raw, time.Hour); err != nil {
		b.Fatal(err)
	}
	var memoNs, floorNs time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Get(ctx, "post:42", load); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		data, err := be.Get(ctx, "floor:post:42")
		if err != nil {
			b.Fatal(err)
		}
		var out benchPost
		if _, err := env.Decode(data, &out); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		memoNs += t1.Sub(t0)
		floorNs += t2.Sub(t1)
	}
	if s := c.Stats(); s.Loads != 1 || s.HitsL1 != 0 {
		b.Fatalf("loads = %d, L1 hits = %d: the benchmark measured misses or L1 hits", s.Loads, s.HitsL1)
	}
	b.ReportMetric(float64(memoNs.Nanoseconds())/float64(b.N), "memo-ns/op")
	b.ReportMetric(float64(floorNs.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(memoNs)/float64(floorNs), "memo/floor")
}
