package memo

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
)

// TestLandedReadAgainOnlyAfterEarlierReads: without a Locker a flight
// reads the backend again before it loads only if its caller's read began
// before this node stored the key's value; then it serves what the backend
// holds now (the value, or nothing after an invalidation or a delete).
// The callers are built as a read that began at a chosen mark and missed.
func TestLandedReadAgainOnlyAfterEarlierReads(t *testing.T) {
	mb, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mb.Close() })
	b := &countingGets{Backend: mb}
	c, err := New[string](b, &Options{Namespace: "landed", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	var loads atomic.Int32
	load := func(v string) LoadFunc[string] {
		return func(context.Context) (string, error) { loads.Add(1); return v, nil }
	}
	// missSince is a Get whose read began at mark and found nothing.
	missSince := func(key string, mark uint64, l LoadFunc[string]) (string, Info) {
		t.Helper()
		gen := c.generation()
		m := miss[string]{c: c, key: key, gen: gen, dataKey: c.keys.data(gen, key), load: l,
			found: lookupResult[string]{state: stateMiss, mark: mark},
			epoch: c.epoch.Load(), seq: c.invals.of(key)}
		v, info, err := m.join(ctx)
		if err != nil {
			t.Fatalf("Get(%q) = %v", key, err)
		}
		return v, info
	}
	check := func(what, v string, info Info, want string, source Source, wantLoads, wantGets int32) {
		t.Helper()
		if v != want || info.Source != source || loads.Load() != wantLoads {
			t.Fatalf("%s: Get = %q from %v after %d loads; want %q from %v after %d", what, v, info.Source, loads.Load(), want, source, wantLoads)
		}
		if g := b.gets.Swap(0); g != wantGets {
			t.Fatalf("%s: %d backend reads, want %d", what, g, wantGets)
		}
	}

	before := c.landed.mark()
	if v, err := c.Get(ctx, "k", load("v1")); err != nil || v != "v1" {
		t.Fatalf("Get = %q, %v; want v1", v, err)
	}
	b.gets.Store(0)
	v, info := missSince("k", before, load("v2"))
	check("read began before the value landed", v, info, "v1", SourceBackend, 1, 1)

	// A read that began after the landing found the key empty: the
	// backend is right, the key is loaded.
	dataKey := c.keys.data(c.generation(), "k")
	if err := b.Delete(ctx, dataKey); err != nil {
		t.Fatal(err)
	}
	v, info = missSince("k", c.landed.mark(), load("v2"))
	check("read began after the value landed", v, info, "v2", SourceLoad, 2, 0)

	// Began before the landing, but the value is gone since: what the
	// backend holds now decides, never the value that landed.
	before = c.landed.mark()
	if _, err := c.Get(ctx, "j", load("v1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Invalidate(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	b.gets.Store(0)
	v, info = missSince("j", before, load("v2"))
	check("invalidated after it landed", v, info, "v2", SourceLoad, 4, 1)
}

// countingGets counts the backend reads.
type countingGets struct {
	*memory.Backend
	gets atomic.Int32
}

func (b *countingGets) Get(ctx context.Context, key string) ([]byte, error) {
	b.gets.Add(1)
	return b.Backend.Get(ctx, key)
}
