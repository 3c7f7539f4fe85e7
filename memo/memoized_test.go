package memo_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

func testMemoized(t *testing.T, c *memo.Cache[string]) {
	t.Helper()
	ctx := context.Background()
	version := map[int]int{}
	calls := 0
	m := memo.NewMemoized(c, func(_ context.Context, id int) (string, error) {
		calls++
		return string(rune('a'+id)) + string(rune('0'+version[id])), nil
	}, nil)
	get := m.Func()
	for range 2 {
		if v, err := get(ctx, 1); v != "b0" || err != nil {
			t.Fatalf("get(1) = %q, %v", v, err)
		}
		if v, err := m.Get(ctx, 2); v != "c0" || err != nil {
			t.Fatalf("Get(2) = %q, %v", v, err)
		}
	}
	if calls != 2 {
		t.Fatalf("function called %d times; want 2", calls)
	}
	version[1], version[2] = 1, 1
	if err := m.Invalidate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Get(ctx, 1); v != "b1" {
		t.Fatalf("after Invalidate(1), Get(1) = %q; want b1", v)
	}
	if v, _ := m.Get(ctx, 2); v != "c0" {
		t.Fatalf("Invalidate(1) changed key 2: %q", v)
	}
	if m.Key(7) != memo.DefaultKey(7) {
		t.Fatalf("Key(7) = %q", m.Key(7))
	}
	if v, ok, err := m.Peek(ctx, 2); v != "c0" || !ok || err != nil {
		t.Fatalf("Peek(2) = %q, %v, %v", v, ok, err)
	}
	// The same key as Memoize with the same key function.
	old := memo.Memoize(c, func(context.Context, int) (string, error) { return "loaded", nil }, nil)
	if v, _ := old(ctx, 2); v != "c0" {
		t.Fatalf("Memoize and NewMemoized disagree on keys: %q", v)
	}
}

func TestMemoizedMemory(t *testing.T) {
	testMemoized(t, newCache[string](t, newMemory(t, nil), &memo.Options{TTL: time.Minute, L1Size: 16}))
}

func TestMemoizedRedis(t *testing.T) {
	s := redistest.Shared(t)
	testMemoized(t, newNode[string](t, s.Addr, memo.Options{Namespace: redistest.Prefix(t)}).cache)
}
