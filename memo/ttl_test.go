package memo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// plainBackend hides every optional capability of a backend.
type plainBackend struct{ backend.Backend }

func testKeyTTL(t *testing.T, c *memo.Cache[string]) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.TTL(ctx, "k"); !errors.Is(err, memo.ErrNotFound) || !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("TTL of an absent key: %v; want ErrNotFound", err)
	}
	if err := c.Expire(ctx, "k", time.Minute); !errors.Is(err, memo.ErrNotFound) {
		t.Fatalf("Expire of an absent key: %v; want ErrNotFound", err)
	}
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.TTL(ctx, "k")
	if err != nil || ttl <= 0 || ttl == backend.NoExpiry {
		t.Fatalf("TTL = %v, %v; want a positive expiry", ttl, err)
	}
	if err := c.Expire(ctx, "k", 10*time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c.TTL(ctx, "k"); err != nil || ttl <= 9*time.Hour || ttl > 10*time.Hour {
		t.Fatalf("TTL after Expire(10h) = %v, %v", ttl, err)
	}
	if err := c.Expire(ctx, "k", backend.NoExpiry); !errors.Is(err, memo.ErrNoExpiry) {
		t.Fatalf("Expire(NoExpiry): %v; want ErrNoExpiry", err)
	}
	if err := c.Persist(ctx, "k"); !errors.Is(err, memo.ErrNoExpiry) {
		t.Fatalf("Persist: %v; want ErrNoExpiry", err)
	}
	if ttl, err := c.TTL(ctx, "k"); err != nil || ttl == backend.NoExpiry || ttl <= 0 {
		t.Fatalf("after refused Persist, TTL = %v, %v; the key must still expire", ttl, err)
	}
	if err := c.Expire(ctx, "k", 0); !errors.Is(err, backend.ErrInvalidTTL) {
		t.Fatalf("Expire(0): %v; want ErrInvalidTTL", err)
	}
}

func TestKeyTTLMemory(t *testing.T) {
	clk := newClock()
	b := newMemory(t, clk)
	c := newCache[string](t, b, &memo.Options{TTL: time.Minute, L1Size: 16, L1TTL: time.Hour, Now: clk.Now})
	testKeyTTL(t, c)

	// Expire shortens the key's life and drops it from this node's L1 (this
	// fails if Expire leaves the L1 entry).
	ctx := context.Background()
	if v, err := c.Get(ctx, "k", nil); v != "v" || err != nil { // in L1 now
		t.Fatal(v, err)
	}
	if err := c.Expire(ctx, "k", time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if _, ok, err := c.Peek(ctx, "k"); ok || err != nil {
		t.Fatalf("Peek after the key expired = %v, %v; want not found (L1 must not keep it)", ok, err)
	}
}

func TestKeyTTLRedis(t *testing.T) {
	s := redistest.Shared(t)
	nd := newNode[string](t, s.Addr, memo.Options{Namespace: redistest.Prefix(t), TTL: time.Minute})
	testKeyTTL(t, nd.cache)
}

func TestKeyTTLUnsupported(t *testing.T) {
	c := newCache[string](t, plainBackend{newMemory(t, nil)}, nil)
	ctx := context.Background()
	_ = c.Set(ctx, "k", "v")
	if _, err := c.TTL(ctx, "k"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("TTL without Expirer: %v", err)
	}
	if err := c.Expire(ctx, "k", time.Minute); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Expire without Expirer: %v", err)
	}
}
