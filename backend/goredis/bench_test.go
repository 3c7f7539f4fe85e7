package goredis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// BenchmarkGet compares Backend.Get with the raw go-redis call it wraps,
// on the same server in the same run.
func BenchmarkGet(b *testing.B) {
	be := newStandalone(b)
	ctx := context.Background()
	key := prefix(b) + "k"
	if err := be.Set(ctx, key, make([]byte, 64), time.Minute); err != nil {
		b.Fatal(err)
	}
	b.Run("goredis", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := be.Get(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		c := be.Client()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, key).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetInterleaved alternates Backend.Get and the raw go-redis GET
// (the Backend's Get before its reads were bounded by MaxValueBytes) in
// every iteration, taking turns at going first so neither gains from its
// position, and reports each side's ns/op and their ratio (target ≤ 1.05).
// The hit reads a 64-byte value.
func BenchmarkGetInterleaved(b *testing.B) {
	benchGetInterleaved(b, true)
}

// BenchmarkGetMissInterleaved is BenchmarkGetInterleaved for a missing
// key (the raw GET then pays go-redis' redis.Nil error path).
func BenchmarkGetMissInterleaved(b *testing.B) {
	benchGetInterleaved(b, false)
}

func benchGetInterleaved(b *testing.B, hit bool) {
	be := newStandalone(b)
	ctx := context.Background()
	key := prefix(b) + "k"
	if hit {
		if err := be.Set(ctx, key, make([]byte, 64), time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	c := be.Client()
	ours := func() {
		if _, err := be.Get(ctx, key); (err != nil) == hit {
			b.Fatal(err)
		}
	}
	raw := func() {
		if err := c.Get(ctx, key).Err(); (err != nil) == hit {
			b.Fatal(err)
		}
	}
	interleave(b, ours, raw, "raw")
}

// interleave runs ours and ref once per iteration, taking turns at going
// first so neither gains from its position, and reports each side's
// ns/op and their ratio "goredis/<refName>".
func interleave(b *testing.B, ours, ref func(), refName string) {
	var tOurs, tRef time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		first, second, t1, t2 := ours, ref, &tOurs, &tRef
		if i%2 == 1 {
			first, second, t1, t2 = ref, ours, &tRef, &tOurs
		}
		i++
		t0 := time.Now()
		first()
		mid := time.Now()
		second()
		*t1 += mid.Sub(t0)
		*t2 += time.Since(mid)
	}
	b.ReportMetric(float64(tOurs.Nanoseconds())/float64(b.N), "goredis-ns/op")
	b.ReportMetric(float64(tRef.Nanoseconds())/float64(b.N), refName+"-ns/op")
	b.ReportMetric(float64(tOurs)/float64(tRef), "goredis/"+refName)
}

func benchKeys(b *testing.B, n int) []string {
	be := newStandalone(b)
	keys := make([]string, n)
	items := make([]backend.Item, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%sk%d", prefix(b), i)
		items[i] = backend.Item{Key: keys[i], Value: make([]byte, 64), TTL: time.Minute}
	}
	if err := be.SetMany(context.Background(), items); err != nil {
		b.Fatal(err)
	}
	return keys
}

// BenchmarkGetMany100 reads 100 keys in one round trip.
func BenchmarkGetMany100(b *testing.B) {
	keys := benchKeys(b, 100)
	be := newStandalone(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.GetMany(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetManyCluster100 reads 100 keys spread over 3 masters.
func BenchmarkGetManyCluster100(b *testing.B) {
	be := newCluster(b)
	ctx := context.Background()
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("%sk%d", prefix(b), i)
		if err := be.Set(ctx, keys[i], make([]byte, 64), time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.GetMany(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetSequential100 reads the same 100 keys with one Get each.
func BenchmarkGetSequential100(b *testing.B) {
	keys := benchKeys(b, 100)
	be := newStandalone(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range keys {
			if _, err := be.Get(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkIncr measures the Lua counter (EVALSHA, never retried).
func BenchmarkIncr(b *testing.B) {
	be := newStandalone(b)
	ctx := context.Background()
	key := prefix(b) + "n"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Incr(ctx, key, 1, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetManyInterleaved compares GetMany of 100 present 64-byte
// values (bounded reads: GETRANGE and EXISTS per key, one pipeline) with
// the raw MGET the Backend sent before reads were bounded, taking turns at
// going first.
func BenchmarkGetManyInterleaved(b *testing.B) {
	keys := benchKeys(b, 100)
	be := newStandalone(b)
	ctx := context.Background()
	c := be.Client()
	ours := func() {
		if _, err := be.GetMany(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
	raw := func() {
		if err := c.MGet(ctx, keys...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	interleave(b, ours, raw, "mget")
}

// BenchmarkReadOnlyGuardInterleaved compares a command on a client with
// the READONLY guard a Backend installs ("goredis") and on the same
// server through a client without it ("unguarded"), taking turns at going
// first. A GET skips the guard; a SET goes through it.
func BenchmarkReadOnlyGuardInterleaved(b *testing.B) {
	guarded, plain := guardedPair(b)
	ctx := context.Background()
	key := prefix(b) + "k"
	if err := plain.Set(ctx, key, make([]byte, 64), time.Minute).Err(); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		run  func(c *redis.Client) error
	}{
		{"GET", func(c *redis.Client) error { return c.Get(ctx, key).Err() }},
		{"SET", func(c *redis.Client) error { return c.Set(ctx, key, "v", time.Minute).Err() }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			run := func(c *redis.Client) func() {
				return func() {
					if err := bc.run(c); err != nil {
						b.Fatal(err)
					}
				}
			}
			interleave(b, run(guarded), run(plain), "unguarded")
		})
	}
}
