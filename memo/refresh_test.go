package memo_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache[int](t, newMemory(t, clk), &memo.Options{TTL: time.Minute, StaleTTL: time.Minute, Jitter: -1, Now: clk.Now})
	var loads atomic.Int32
	refreshed := make(chan struct{}, 10)
	load := func(context.Context) (int, error) {
		n := loads.Add(1)
		if n > 1 {
			refreshed <- struct{}{}
		}
		return int(n), nil
	}
	if v, _ := c.Get(t.Context(), "k", load); v != 1 {
		t.Fatalf("first Get = %d, want 1", v)
	}
	clk.Advance(90 * time.Second) // stale, inside the window
	if v, err := c.Get(t.Context(), "k", load); err != nil || v != 1 {
		t.Fatalf("stale Get = %d, %v; want the stale 1 at once", v, err)
	}
	for i := 0; i < 4; i++ {
		// Later reads get the stale value or, once the refresh landed, the new one.
		if v, err := c.Get(t.Context(), "k", load); err != nil || (v != 1 && v != 2) {
			t.Fatalf("stale Get = %d, %v; want 1 or 2", v, err)
		}
	}
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		t.Fatalf("no background refresh")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := c.Get(t.Context(), "k", load)
		if v == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refreshed value never served")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	if n := loads.Load(); n != 2 {
		t.Fatalf("loads = %d, want 2 (one refresh for many stale reads)", n)
	}
	clk.Advance(3 * time.Minute) // past TTL + StaleTTL: a plain miss
	if v, _ := c.Get(t.Context(), "k", load); v != 3 {
		t.Fatalf("Get past the stale window = %d, want a synchronous reload (3); stats %+v", v, c.Stats())
	}
	if c.Stats().StaleServed == 0 {
		t.Fatalf("StaleServed = 0, want the stale reads counted")
	}
}

func TestEarlyRefreshXFetch(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var r atomic.Uint64 // rand value in 1e-9 units
	r.Store(500_000_000)
	rnd := func() float64 { return float64(r.Load()) / 1e9 }
	c := newCache[int](t, newMemory(t, clk), &memo.Options{TTL: time.Minute, Beta: 1, Jitter: -1, Now: clk.Now, Rand: rnd})
	var loads atomic.Int32
	refreshed := make(chan struct{}, 10)
	load := func(context.Context) (int, error) {
		n := loads.Add(1)
		clk.Advance(2 * time.Second) // the load "takes" 2 s: δ = 2 s
		if n > 1 {
			refreshed <- struct{}{}
		}
		return int(n), nil
	}
	if v, _ := c.Get(t.Context(), "k", load); v != 1 {
		t.Fatalf("first Get = %d", v)
	}
	// δ·β·(−ln 0.5) ≈ 1.39 s: no refresh while more than that remains.
	clk.Advance(50 * time.Second)
	if v, _ := c.Get(t.Context(), "k", load); v != 1 || c.Stats().EarlyRefreshes != 0 {
		t.Fatalf("10 s before expiry: v=%d early=%d, want 1 and no early refresh", v, c.Stats().EarlyRefreshes)
	}
	clk.Advance(9 * time.Second) // 1 s left < 1.39 s
	if v, _ := c.Get(t.Context(), "k", load); v != 1 {
		t.Fatalf("early-refresh Get = %d, want the current value 1", v)
	}
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		t.Fatalf("no early refresh 1 s before expiry with δ=2s, β=1, rand=0.5")
	}
	if c.Stats().EarlyRefreshes != 1 {
		t.Fatalf("EarlyRefreshes = %d, want 1", c.Stats().EarlyRefreshes)
	}
}

// TestXFetchRandEdges: a Rand of exactly 1.0 (ln 0 = −Inf) means "refresh
// now", not an implementation-defined Duration; 0.0 never refreshes a
// value far from expiry.
func TestXFetchRandEdges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rand    float64
		refresh bool
	}{{1.0, true}, {0.0, false}} {
		clk := newClock()
		c := newCache[int](t, newMemory(t, clk), &memo.Options{TTL: time.Hour, Beta: 1, Jitter: -1,
			Now: clk.Now, Rand: func() float64 { return tc.rand }})
		var loads atomic.Int32
		load := func(context.Context) (int, error) {
			clk.Advance(time.Second) // a load time for XFetch to scale
			return int(loads.Add(1)), nil
		}
		if _, err := c.Get(t.Context(), "k", load); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := c.Get(t.Context(), "k", load); err != nil {
				t.Fatal(err)
			}
		}
		if tc.refresh {
			waitUntil(t, 5*time.Second, "an early refresh with Rand 1.0", func() bool { return loads.Load() >= 2 })
		} else {
			_ = c.Close() // waits for any background refresh
			if n := loads.Load(); n != 1 {
				t.Fatalf("Rand 0.0: %d loads, want 1 (no early refresh an hour before expiry)", n)
			}
		}
	}
}
