package memo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

func TestPeekNeverLoads(t *testing.T) {
	clk := newClock()
	b := newMemory(t, clk)
	c := newCache[string](t, b, &memo.Options{TTL: time.Minute, StaleTTL: time.Minute, NegativeTTL: time.Minute, Now: clk.Now})
	ctx := context.Background()

	if v, ok, err := c.Peek(ctx, "k"); ok || err != nil || v != "" {
		t.Fatalf("Peek of an absent key = %q, %v, %v; want not found", v, ok, err)
	}
	if s := c.Stats(); s.Loads != 0 || s.Misses != 0 {
		t.Fatalf("Peek loaded or counted a miss: %+v", s)
	}
	if err := c.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Peek(ctx, "k"); !ok || err != nil || v != "v1" {
		t.Fatalf("Peek of a fresh key = %q, %v, %v; want v1, true", v, ok, err)
	}
	clk.Advance(90 * time.Second) // stale, within StaleTTL
	if v, ok, err := c.Peek(ctx, "k"); !ok || err != nil || v != "v1" {
		t.Fatalf("Peek of a stale key = %q, %v, %v; want v1, true", v, ok, err)
	}
	clk.Advance(time.Minute) // past the stale window
	if _, ok, err := c.Peek(ctx, "k"); ok || err != nil {
		t.Fatalf("Peek past the stale window = %v, %v; want not found", ok, err)
	}

	// A cached not-found is "not found", not an error.
	if _, err := c.Get(ctx, "neg", func(context.Context) (string, error) { return "", memo.ErrNotFound }); !errors.Is(err, memo.ErrNotFound) {
		t.Fatal(err)
	}
	if _, ok, err := c.Peek(ctx, "neg"); ok || err != nil {
		t.Fatalf("Peek of a cached not-found = %v, %v; want false, nil", ok, err)
	}
	// An invalidated key is not found.
	_ = c.Set(ctx, "inv", "x")
	_ = c.Invalidate(ctx, "inv")
	if _, ok, err := c.Peek(ctx, "inv"); ok || err != nil {
		t.Fatalf("Peek after Invalidate = %v, %v; want false, nil", ok, err)
	}
}

func TestPeekReadsL1AndReportsBackendErrors(t *testing.T) {
	b := newMemory(t, nil)
	c := newCache[string](t, b, &memo.Options{L1Size: 16, BreakerThreshold: 1000})
	ctx := context.Background()
	if _, err := c.Get(ctx, "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	_ = b.Close() // the backend is gone: only L1 answers
	if v, ok, err := c.Peek(ctx, "k"); !ok || err != nil || v != "v" {
		t.Fatalf("Peek from L1 = %q, %v, %v; want v, true, nil", v, ok, err)
	}
	if _, ok, err := c.Peek(ctx, "other"); ok || err == nil {
		t.Fatalf("Peek with a closed backend = %v, %v; want an error", ok, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.Peek(cctx, "other"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Peek with a canceled ctx: %v", err)
	}
}
