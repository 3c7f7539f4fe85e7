package memo_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

// TestMemoizeHitAllocs: a memoized L1 hit allocates nothing, like a Get
// hit (it used to allocate the per-call load closure and box the key).
func TestMemoizeHitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	be, _ := memory.New(nil)
	c, err := memo.New[string](be, &memo.Options{L1Size: 16, TTL: time.Hour, L1TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	loads := 0
	byString := memo.Memoize(c, func(_ context.Context, k string) (string, error) { loads++; return "v:" + k, nil }, nil)
	byInt := memo.Memoize(c, func(_ context.Context, k int) (string, error) { loads++; return "n", nil }, nil)
	if v, err := byString(ctx, "post:42"); err != nil || v != "v:post:42" {
		t.Fatalf("first call = %q, %v", v, err)
	}
	if _, err := byInt(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = byString(ctx, "post:42") }); n != 0 {
		t.Fatalf("memoized L1 hit (string key) allocates %.0f times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = byInt(ctx, 7) }); n != 0 {
		t.Fatalf("memoized L1 hit (small int key) allocates %.0f times, want 0", n)
	}
	if loads != 2 {
		t.Fatalf("loads = %d, want 2 (every later call an L1 hit)", loads)
	}
}
