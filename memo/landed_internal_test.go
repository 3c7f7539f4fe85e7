package memo

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
)

// TestLandedValueOnlyForEarlierReads: a flight takes a value this node
// stored only if its caller's read began before the value landed and no
// invalidation of the key was seen since; otherwise it loads. The callers
// are built as a read that began at a chosen mark and then missed.
func TestLandedValueOnlyForEarlierReads(t *testing.T) {
	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	c, err := New[string](b, &Options{Namespace: "landed", TTL: time.Hour, NegativeTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	var loads atomic.Int32
	load := func(v string) LoadFunc[string] {
		return func(context.Context) (string, error) {
			loads.Add(1)
			if v == "" {
				return "", ErrNotFound
			}
			return v, nil
		}
	}
	// missSince is a Get whose read began at mark and found nothing.
	missSince := func(key string, mark uint64, l LoadFunc[string]) (string, Info, error) {
		gen := c.generation()
		m := miss[string]{c: c, key: key, gen: gen, dataKey: c.keys.data(gen, key), load: l,
			found: lookupResult[string]{state: stateMiss, mark: mark},
			epoch: c.epoch.Load(), seq: c.invals.of(key)}
		return m.join(ctx)
	}
	check := func(what string, v string, info Info, err error, want string, wantLoads int32) {
		t.Helper()
		if err != nil || v != want || loads.Load() != wantLoads {
			t.Fatalf("%s: Get = %q, %v (%v) after %d loads; want %q after %d", what, v, err, info.Source, loads.Load(), want, wantLoads)
		}
	}

	before := c.landed.mark()
	if v, err := c.Get(ctx, "k", load("v1")); err != nil || v != "v1" {
		t.Fatalf("Get = %q, %v; want v1", v, err)
	}
	v, info, err := missSince("k", before, load("v2"))
	check("read began before the value landed", v, info, err, "v1", 1)
	if info.Source != SourceBackend {
		t.Fatalf("Source = %v, want SourceBackend (the stored value)", info.Source)
	}

	// Gone from the backend behind this node's back: a read that began
	// after the landing found it missing, and the backend is right.
	if err := b.Delete(ctx, c.keys.data(c.generation(), "k")); err != nil {
		t.Fatal(err)
	}
	v, info, err = missSince("k", c.landed.mark(), load("v2"))
	check("read began after the value landed", v, info, err, "v2", 2)

	// Invalidated since it landed: loaded again, whenever the read began.
	before = c.landed.mark()
	if _, err := c.Get(ctx, "j", load("v1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Invalidate(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	v, info, err = missSince("j", before, load("v2"))
	check("invalidated after it landed", v, info, err, "v2", 4)

	// Set on this node since it landed: the same.
	before = c.landed.mark()
	if err := c.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k", load("v3")); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "v4"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, c.keys.data(c.generation(), "k")); err != nil {
		t.Fatal(err)
	}
	v, info, err = missSince("k", before, load("v5"))
	check("Set after it landed", v, info, err, "v5", 6)

	// A cached not-found lands too.
	before = c.landed.mark()
	if _, err := c.Get(ctx, "gone", load("")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	if _, _, err := missSince("gone", before, load("v1")); !errors.Is(err, ErrNotFound) || loads.Load() != 7 {
		t.Fatalf("Get of a landed not-found = %v after %d loads, want ErrNotFound after 7", err, loads.Load())
	}
}
