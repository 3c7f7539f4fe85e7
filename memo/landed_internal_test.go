package memo

import (
	"context"
	"fmt"
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

// TestLandedForgetsNoEarlierRead: the landing record is bounded, but what
// it forgets (past its window, or over its bound) never makes a flight
// whose caller's read began before a landing load without reading the
// backend again: one load per key per process, however many keys landed
// meanwhile and however late the caller reaches the flight group.
func TestLandedForgetsNoEarlierRead(t *testing.T) {
	mb, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mb.Close() })
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	c, err := New[string](mb, &Options{Namespace: "landedbound", TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	var loads atomic.Int32
	load := func(context.Context) (string, error) { loads.Add(1); return "v", nil }
	missSince := func(key string, mark uint64) string {
		t.Helper()
		gen := c.generation()
		m := miss[string]{c: c, key: key, gen: gen, dataKey: c.keys.data(gen, key), load: load,
			found: lookupResult[string]{state: stateMiss, mark: mark},
			epoch: c.epoch.Load(), seq: c.invals.of(key)}
		v, _, err := m.join(ctx)
		if err != nil {
			t.Fatalf("Get(%q) = %v", key, err)
		}
		return v
	}

	t.Run("over the bound", func(t *testing.T) {
		before := c.landed.mark()
		for i := range landedMax + landedMax/2 {
			if _, err := c.Get(ctx, fmt.Sprint("bound", i), load); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(c.landed.m); n > landedMax {
			t.Fatalf("%d landings remembered, bound %d", n, landedMax)
		}
		loads.Store(0)
		for i := range landedMax + landedMax/2 {
			missSince(fmt.Sprint("bound", i), before)
		}
		if n := loads.Load(); n != 0 {
			t.Fatalf("%d keys loaded a second time by flights of reads that began before they landed", n)
		}
	})
	t.Run("past the window", func(t *testing.T) {
		before := c.landed.mark()
		if _, err := c.Get(ctx, "late", load); err != nil {
			t.Fatal(err)
		}
		clock.Add(int64(landedWindow*c.opts.BackendTimeout) + int64(time.Second))
		loads.Store(0)
		missSince("late", before)
		if n := loads.Load(); n != 0 {
			t.Fatalf("loaded %d more times: a caller that reached the flight group late loaded its key again", n)
		}
	})
}
