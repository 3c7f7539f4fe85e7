package benchmarks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

// The Zipf read/write mix: 10,000 keys drawn with a Zipf distribution
// (s = 1.1, v = 1) from one fixed seed, 90% reads (read-through: a miss
// "loads" the Post and stores it) and 10% writes (a Set of the key), on
// caches bounded at 1,000 entries (10% of the key space), in process.
// Every library walks the same sequence of operations; each reports its
// hit ratio (reads that did not call the loader) next to the time ratio.
const (
	zipfKeys     = 10_000
	zipfCapacity = 1_000
	zipfS        = 1.1
	zipfWrites   = 0.10
	zipfOps      = 1 << 17 // length of the sequence, walked round robin
	zipfWarm     = 2 * zipfKeys
)

type zipfOp struct {
	key   string
	write bool
}

// zipfSeq is the operation sequence every library replays.
var zipfSeq = func() []zipfOp {
	r := rand.New(rand.NewPCG(13, 2026))
	z := rand.NewZipf(r, zipfS, 1, zipfKeys-1)
	names := make([]string, zipfKeys)
	for i := range names {
		names[i] = fmt.Sprintf("item:%d", i)
	}
	ops := make([]zipfOp, zipfOps)
	for i := range ops {
		ops[i] = zipfOp{key: names[z.Uint64()], write: r.Float64() < zipfWrites}
	}
	return ops
}()

// zipfCache is one library under the mix: read is read-through (calls
// load on a miss and stores its result), write replaces the value.
type zipfCache struct {
	read  func(key string, load func() Post) Post
	write func(key string, v Post)
}

// zipfRunner replays zipfSeq on a cache and counts reads and loads.
type zipfRunner struct {
	c            zipfCache
	i            int
	reads, loads int
	p            Post
}

func (z *zipfRunner) step() {
	op := zipfSeq[z.i%zipfOps]
	z.i++
	if op.write {
		z.c.write(op.key, z.p)
		return
	}
	z.reads++
	sinkPost = z.c.read(op.key, func() Post { z.loads++; return z.p })
}

// hitRatio is the share of reads that did not load.
func (z *zipfRunner) hitRatio() float64 {
	if z.reads == 0 {
		return 0
	}
	return 1 - float64(z.loads)/float64(z.reads)
}

// newZipfRunner warms c up with the first zipfWarm operations (not
// counted) and returns the runner positioned after them.
func newZipfRunner(c zipfCache) *zipfRunner {
	z := &zipfRunner{c: c, p: newPost()}
	for range zipfWarm {
		z.step()
	}
	z.reads, z.loads = 0, 0
	return z
}

// newMemoZipf: memo over backend/memory bounded at 1,000 entries, with a
// typed L1 of 1,000 entries (a hit returns the stored Post; an L1 miss
// that hits the backend decodes).
func newMemoZipf(b *testing.B) zipfCache {
	m, err := memory.New(&memory.Options{MaxEntries: zipfCapacity})
	if err != nil {
		b.Fatal(err)
	}
	c, err := memo.New[Post](m, &memo.Options{Namespace: "zipf", TTL: time.Hour, L1Size: zipfCapacity, L1TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); m.Close() })
	ctx := context.Background()
	return zipfCache{
		read: func(k string, load func() Post) Post {
			v, err := c.Get(ctx, k, func(context.Context) (Post, error) { return load(), nil })
			if err != nil {
				b.Fatal(err)
			}
			return v
		},
		write: func(k string, v Post) {
			if err := c.Set(ctx, k, v); err != nil {
				b.Fatal(err)
			}
		},
	}
}

// newOtterZipf: otter v2 of *Post, MaximumSize 1,000, TTL one hour; a
// miss is GetIfPresent + Set.
func newOtterZipf(b *testing.B) zipfCache {
	c := otter.Must(&otter.Options[string, *Post]{
		MaximumSize:      zipfCapacity,
		ExpiryCalculator: otter.ExpiryWriting[string, *Post](time.Hour),
	})
	return zipfCache{
		read: func(k string, load func() Post) Post {
			if v, ok := c.GetIfPresent(k); ok {
				return *v
			}
			v := load()
			c.Set(k, &v)
			return v
		},
		write: func(k string, v Post) { c.Set(k, &v) },
	}
}

// newRistrettoZipf: ristretto v2 of *Post, MaxCost 1,000 at cost 1,
// TTL one hour. Its Sets are asynchronous and may be dropped or refused
// by its admission policy: both show in its hit ratio.
func newRistrettoZipf(b *testing.B) zipfCache {
	c := newRistrettoPost(b, zipfCapacity)
	return zipfCache{
		read: func(k string, load func() Post) Post {
			if v, ok := c.Get(k); ok {
				return *v
			}
			v := load()
			c.SetWithTTL(k, &v, 1, time.Hour)
			return v
		},
		write: func(k string, v Post) { c.SetWithTTL(k, &v, 1, time.Hour) },
	}
}

// newSturdycZipf: sturdyc of Post, capacity 1,000 (10 shards, evicting 10%
// when full), TTL one hour; reads through GetOrFetch.
func newSturdycZipf(b *testing.B) zipfCache {
	c := newSturdyc(zipfCapacity)
	ctx := context.Background()
	return zipfCache{
		read: func(k string, load func() Post) Post {
			v, err := c.GetOrFetch(ctx, k, func(context.Context) (Post, error) { return load(), nil })
			if err != nil {
				b.Fatal(err)
			}
			return v
		},
		write: func(k string, v Post) { c.Set(k, v) },
	}
}

// BenchmarkZipfInterleaved replays the Zipf mix on memo and on a reference
// (otter: floor; ristretto; sturdyc) in alternating blocks of 256
// operations, each from its own position in the same sequence, and
// reports ns per operation, memo/<ref>, and each one's hit ratio
// (<lib>-hit-ratio, higher is better) over the timed operations.
func BenchmarkZipfInterleaved(b *testing.B) {
	for _, ref := range []struct {
		name string
		new  func(*testing.B) zipfCache
	}{
		{"otter", newOtterZipf},
		{"ristretto", newRistrettoZipf},
		{"sturdyc", newSturdycZipf},
	} {
		b.Run("ref="+ref.name, func(b *testing.B) {
			ours, theirs := newZipfRunner(newMemoZipf(b)), newZipfRunner(ref.new(b))
			interleave(b, 256, "memo", ours.step, ref.name, theirs.step)
			if ours.reads != theirs.reads {
				b.Fatalf("memo replayed %d reads, %s %d: not the same sequence", ours.reads, ref.name, theirs.reads)
			}
			b.ReportMetric(ours.hitRatio(), "memo-hit-ratio")
			b.ReportMetric(theirs.hitRatio(), ref.name+"-hit-ratio")
		})
	}
}
