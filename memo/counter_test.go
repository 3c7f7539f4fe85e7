package memo_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

func testCounter(t *testing.T, b backend.Backend, ns string, advance func(time.Duration)) {
	t.Helper()
	ctx := context.Background()
	c := newCache[string](t, b, &memo.Options{Namespace: ns})
	n, err := c.Counter("hits", &memo.CounterOptions{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := n.Get(ctx); v != 0 || err != nil {
		t.Fatalf("Get of a new counter = %d, %v", v, err)
	}
	if _, err := n.TTL(ctx); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("TTL of an absent counter: %v; want ErrNotFound", err)
	}
	if v, err := n.Incr(ctx, 5); v != 5 || err != nil {
		t.Fatalf("Incr = %d, %v", v, err)
	}
	if v, err := n.Decr(ctx, 2); v != 3 || err != nil {
		t.Fatalf("Decr = %d, %v", v, err)
	}
	if v, err := n.Get(ctx); v != 3 || err != nil {
		t.Fatalf("Get = %d, %v", v, err)
	}
	// The rule: a counter key always expires, and changes keep the window.
	ttl, err := n.TTL(ctx)
	if err != nil || ttl <= 0 || ttl > time.Hour || ttl == backend.NoExpiry {
		t.Fatalf("TTL = %v, %v; want (0, 1h]", ttl, err)
	}
	advance(30 * time.Minute)
	if _, err := n.Incr(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if ttl, err := n.TTL(ctx); err != nil || ttl > 31*time.Minute {
		t.Fatalf("TTL after Incr = %v, %v; an Incr must keep the counter's expiry", ttl, err)
	}
	// The same name through Cache.Incr is the same counter.
	if v, err := c.Incr(ctx, "hits", 10, time.Hour); v != 14 || err != nil {
		t.Fatalf("Cache.Incr on the counter's name = %d, %v; want 14", v, err)
	}
	if err := n.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := n.Get(ctx); v != 0 || err != nil {
		t.Fatalf("Get after Reset = %d, %v", v, err)
	}
	// Namespaced: another namespace's counter of the same name is apart.
	other, err := memo.NewCounter(b, "hits", &memo.CounterOptions{Namespace: ns + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = n.Incr(ctx, 1)
	if v, err := other.Get(ctx); v != 0 || err != nil {
		t.Fatalf("a counter of another namespace = %d, %v; want 0", v, err)
	}
	if _, err := n.Decr(ctx, math.MinInt64); !errors.Is(err, backend.ErrOverflow) {
		t.Fatalf("Decr(MinInt64): %v; want ErrOverflow", err)
	}
}

func TestCounterMemory(t *testing.T) {
	clk := newClock()
	testCounter(t, newMemory(t, clk), "ctr", clk.Advance)
}

func TestCounterRedis(t *testing.T) {
	s := redistest.Shared(t)
	ns := redistest.Prefix(t)
	nd := newNode[string](t, s.Addr, memo.Options{Namespace: ns})
	// Redis' clock cannot be advanced: shorten the key's life instead.
	ctx := context.Background()
	testCounter(t, nd.b, ns, func(d time.Duration) {
		n, _ := memo.NewCounter(nd.b, "hits", &memo.CounterOptions{Namespace: ns})
		if err := backend.Expire(ctx, nd.b, n.Key(), time.Hour-d); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCounterOptions(t *testing.T) {
	b := newMemory(t, nil)
	if _, err := memo.NewCounter(b, "x", &memo.CounterOptions{TTL: backend.NoExpiry}); err == nil {
		t.Fatal("a counter without expiry was accepted")
	}
	if _, err := memo.NewCounter(nil, "x", nil); err == nil {
		t.Fatal("nil backend accepted")
	}
	n, err := memo.NewCounter(b, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Incr(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if ttl, err := n.TTL(context.Background()); err != nil || ttl <= 0 || ttl > memo.DefaultCounterTTL {
		t.Fatalf("default TTL = %v, %v; want (0, %v]", ttl, err, memo.DefaultCounterTTL)
	}
}

// TestCounterOutcomeUnknown: an Incr whose reply is lost (frozen server)
// reports backend.ErrOutcomeUnknown, not a plain failure to retry.
func TestCounterOutcomeUnknown(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	nd := newNode[string](t, s.Addr, memo.Options{Namespace: redistest.Prefix(t)})
	n, err := nd.cache.Counter("n", &memo.CounterOptions{BackendTimeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Incr(t.Context(), 1); err != nil { // load the script
		t.Fatal(err)
	}
	s.Pause(t)
	if _, err := n.Incr(t.Context(), 1); !errors.Is(err, backend.ErrOutcomeUnknown) {
		t.Fatalf("Incr on a paused server = %v; want ErrOutcomeUnknown", err)
	}
}
