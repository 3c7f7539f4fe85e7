package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

func TestFetchPerValueTTLAndRevalidation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache[string](t, newMemory(t, clk), &memo.Options{TTL: time.Hour, Now: clk.Now})
	ctx := t.Context()
	var seen []*memo.Entry[string]
	fetch := func(_ context.Context, stale *memo.Entry[string]) (memo.Result[string], error) {
		seen = append(seen, stale)
		if stale != nil {
			// Revalidated: "304", keep the value, new freshness.
			return memo.Result[string]{Value: stale.Value + "+revalidated", TTL: 10 * time.Second, Retain: time.Minute}, nil
		}
		return memo.Result[string]{Value: "v", TTL: 10 * time.Second, Retain: time.Minute}, nil
	}
	v, info, err := c.Fetch(ctx, "k", fetch)
	if err != nil || v != "v" || info.Source != memo.SourceLoad || !info.Expires.Equal(clk.Now().Add(10*time.Second)) {
		t.Fatalf("Fetch = %q, %+v, %v; want a load fresh for exactly 10s (no jitter on explicit TTLs)", v, info, err)
	}
	clk.Advance(5 * time.Second)
	if v, info, _ = c.Fetch(ctx, "k", fetch); v != "v" || info.Source != memo.SourceBackend || info.CreatedAt.IsZero() {
		t.Fatalf("Fetch after 5s = %q, %+v; want a backend hit with CreatedAt", v, info)
	}
	clk.Advance(10 * time.Second) // expired, but retained for revalidation
	v, info, err = c.Fetch(ctx, "k", fetch)
	if err != nil || v != "v+revalidated" || info.Source != memo.SourceLoad {
		t.Fatalf("Fetch after expiry = %q, %+v, %v; want a revalidation", v, info, err)
	}
	if len(seen) != 2 || seen[0] != nil || seen[1] == nil || seen[1].Value != "v" {
		t.Fatalf("fetch saw stale entries %v, want [nil, v]", seen)
	}
}

func TestFetchStaleIfError(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache[string](t, newMemory(t, clk), &memo.Options{Now: clk.Now, Jitter: -1})
	ctx := t.Context()
	ok := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{Value: "good", TTL: 10 * time.Second, StaleIfError: time.Minute}, nil
	}
	boom := errors.New("origin down")
	failing := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{}, boom
	}
	if _, _, err := c.Fetch(ctx, "k", ok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second) // stale, inside stale-if-error
	v, info, err := c.Fetch(ctx, "k", failing)
	if err != nil || v != "good" || !info.Stale || info.Source != memo.SourceStale {
		t.Fatalf("Fetch with failing origin = %q, %+v, %v; want the stale value", v, info, err)
	}
	clk.Advance(time.Minute) // past the window
	if _, _, err := c.Fetch(ctx, "k", failing); !errors.Is(err, boom) {
		t.Fatalf("Fetch past stale-if-error = %v, want the origin's error", err)
	}
}

func TestFetchPrivateNotShared(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	gate := make(chan struct{})
	var calls atomic.Int32
	fetch := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		n := calls.Add(1)
		if n == 1 {
			<-gate
		}
		return memo.Result[string]{Value: fmt.Sprint("cookie-", n), Private: true}, nil
	}
	const n = 20
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			v, _, err := c.Fetch(t.Context(), "k", fetch)
			if err != nil {
				v = err.Error()
			}
			results <- v
		}()
	}
	waitUntil(t, 5*time.Second, "all callers joined", func() bool { return c.Stats().Misses >= n })
	close(gate)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		v := <-results
		if seen[v] {
			t.Fatalf("value %q handed to two callers; Private results must not be shared", v)
		}
		seen[v] = true
	}
	if calls.Load() != n {
		t.Fatalf("fetch calls = %d, want %d (one per caller)", calls.Load(), n)
	}
	if v, _, _ := c.Fetch(t.Context(), "k", fetch); v == "cookie-1" {
		t.Fatalf("a Private value was stored")
	}
}

func TestFetchNoStoreShared(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	var calls atomic.Int32
	fetch := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{Value: fmt.Sprint(calls.Add(1)), NoStore: true}, nil
	}
	v1, _, _ := c.Fetch(t.Context(), "k", fetch)
	v2, _, _ := c.Fetch(t.Context(), "k", fetch)
	if v1 != "1" || v2 != "2" {
		t.Fatalf("NoStore fetches = %q, %q; want 1 and 2 (not stored)", v1, v2)
	}
}
