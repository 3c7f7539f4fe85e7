package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

const benchKeys = 10_000

var benchKeyNames = func() []string {
	ks := make([]string, benchKeys)
	for i := range ks {
		ks[i] = fmt.Sprintf("user:%d:profile", i)
	}
	return ks
}()

var benchValue = make([]byte, 128)

func newBench(b *testing.B) *Backend {
	b.Helper()
	m, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	for _, k := range benchKeyNames {
		if err := m.Set(context.Background(), k, benchValue, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// BenchmarkGet measures a hit on a key with a TTL (the common case: the
// clock is read), copying a 128-byte value out.
func BenchmarkGet(b *testing.B) {
	m := newBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Get(ctx, benchKeyNames[i%benchKeys]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetParallel(b *testing.B) {
	m := newBench(b)
	ctx := context.Background()
	var seed atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			if _, err := m.Get(ctx, benchKeyNames[i%benchKeys]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	m := newBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.Set(ctx, benchKeyNames[i%benchKeys], benchValue, time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSetEvict writes new keys into a full backend: every Set evicts.
func BenchmarkSetEvict(b *testing.B) {
	m, err := New(&Options{MaxEntries: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.Set(ctx, benchKeyNames[i%benchKeys], benchValue, time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetMany(b *testing.B) {
	m := newBench(b)
	ctx := context.Background()
	keys := benchKeyNames[:16]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.GetMany(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(keys)), "keys/op")
}

func BenchmarkIncr(b *testing.B) {
	m := newBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Incr(ctx, "ctr", 1, backend.NoExpiry); err != nil {
			b.Fatal(err)
		}
	}
}

func newSyncMap() *sync.Map {
	var m sync.Map
	for _, k := range benchKeyNames {
		m.Store(k, benchValue)
	}
	return &m
}

// BenchmarkSyncMapLoad is the baseline for BenchmarkGet: a sync.Map Load
// (no copy, no TTL, no bounds).
func BenchmarkSyncMapLoad(b *testing.B) {
	m := newSyncMap()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := m.Load(benchKeyNames[i%benchKeys]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkSyncMapLoadParallel(b *testing.B) {
	m := newSyncMap()
	var seed atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			if _, ok := m.Load(benchKeyNames[i%benchKeys]); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// BenchmarkDeletePattern deletes the matching half of n keys (the other
// half shares the shards but not the prefix) and reports ns per key
// stored: flat across n when DeletePattern is linear (one pass over each
// shard, O(1) per removal).
func BenchmarkDeletePattern(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			m, err := New(&Options{MaxEntries: 2 * n})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { m.Close() })
			ctx := context.Background()
			items := make([]backend.Item, n)
			for i := range items {
				p := "a"
				if i%2 == 1 {
					p = "b"
				}
				items[i] = backend.Item{Key: fmt.Sprintf("%s:user:%d", p, i), Value: benchValue[:8], TTL: time.Hour}
			}
			var spent time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := m.SetMany(ctx, items); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				got, err := m.DeletePattern(ctx, "a:*")
				spent += time.Since(t0)
				if err != nil || got != int64(n/2) {
					b.Fatalf("DeletePattern = %d, %v; want %d", got, err, n/2)
				}
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		})
	}
}
