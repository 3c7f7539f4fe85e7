package benchmarks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"

	"github.com/cachekit/cachekit/backend/memory"
)

// The in-process backend comparison: 10,000 keys holding 128-byte values,
// read round-robin (all hits), with a one-hour TTL where the library has
// TTLs. backend/memory copies the value out on every Get (its contract: a
// caller may modify what it got); otter and sync.Map hand out the stored
// slice itself.
const nKeys = 10_000

var (
	keyNames = func() []string {
		ks := make([]string, nKeys)
		for i := range ks {
			ks[i] = fmt.Sprintf("user:%d:profile", i)
		}
		return ks
	}()
	value128 = make([]byte, 128)
)

type getter func(key string) []byte

func newMemoryGetter(b *testing.B) getter {
	m, err := memory.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	ctx := context.Background()
	for _, k := range keyNames {
		if err := m.Set(ctx, k, value128, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return func(k string) []byte {
		v, err := m.Get(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
}

func newOtterGetter(b *testing.B) getter {
	c := otter.Must(&otter.Options[string, []byte]{
		MaximumSize:      2 * nKeys,
		ExpiryCalculator: otter.ExpiryWriting[string, []byte](time.Hour),
	})
	for _, k := range keyNames {
		c.Set(k, value128)
	}
	return func(k string) []byte {
		v, ok := c.GetIfPresent(k)
		if !ok {
			b.Fatal("otter: miss")
		}
		return v
	}
}

func newRistrettoGetter(b *testing.B) getter {
	c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters: 10 * 2 * nKeys, MaxCost: 2 * nKeys, BufferItems: 64, IgnoreInternalCost: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	for _, k := range keyNames {
		c.SetWithTTL(k, value128, 1, time.Hour)
		c.Wait() // Sets are asynchronous and dropped when the buffer is full
	}
	return func(k string) []byte {
		v, ok := c.Get(k)
		if !ok {
			b.Fatal("ristretto: miss")
		}
		return v
	}
}

func newSyncMapGetter(b *testing.B) getter {
	var m sync.Map
	for _, k := range keyNames {
		m.Store(k, value128)
	}
	return func(k string) []byte {
		v, ok := m.Load(k)
		if !ok {
			b.Fatal("sync.Map: miss")
		}
		return v.([]byte)
	}
}

// BenchmarkBackendGet: one hit, sequential. Issue 2's target for
// backend/memory: ≈200 ns/op or better with 0–1 allocs (otter ~60 ns).
func BenchmarkBackendGet(b *testing.B) {
	for _, bc := range []struct {
		name string
		new  func(*testing.B) getter
	}{
		{"impl=memory", newMemoryGetter},
		{"impl=otter", newOtterGetter},
		{"impl=ristretto", newRistrettoGetter},
		{"impl=syncmap", newSyncMapGetter},
	} {
		b.Run(bc.name, func(b *testing.B) {
			get := bc.new(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				sinkBytes = get(keyNames[i%nKeys])
				i++
			}
		})
	}
}

// BenchmarkBackendGetParallel is BenchmarkBackendGet from every core.
func BenchmarkBackendGetParallel(b *testing.B) {
	for _, bc := range []struct {
		name string
		new  func(*testing.B) getter
	}{
		{"impl=memory", newMemoryGetter},
		{"impl=otter", newOtterGetter},
		{"impl=ristretto", newRistrettoGetter},
		{"impl=syncmap", newSyncMapGetter},
	} {
		b.Run(bc.name, func(b *testing.B) {
			get := bc.new(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				var local []byte
				for pb.Next() {
					local = get(keyNames[i%nKeys])
					i += 7
				}
				_ = local
			})
		})
	}
}

// BenchmarkBackendGetInterleaved runs backend/memory and a reference in
// alternating blocks of 256 Gets and reports both ns/call and the ratio.
func BenchmarkBackendGetInterleaved(b *testing.B) {
	for _, ref := range []struct {
		name string
		new  func(*testing.B) getter
	}{
		{"otter", newOtterGetter},
		{"ristretto", newRistrettoGetter},
		{"syncmap", newSyncMapGetter},
	} {
		b.Run("ref="+ref.name, func(b *testing.B) {
			ours, theirs := newMemoryGetter(b), ref.new(b)
			i, j := 0, 0
			interleave(b, 256,
				"memory", func() { sinkBytes = ours(keyNames[i%nKeys]); i++ },
				ref.name, func() { sinkBytes = theirs(keyNames[j%nKeys]); j++ })
		})
	}
}
