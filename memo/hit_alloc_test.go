package memo_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/codec"
	"github.com/cachekit/cachekit/memo"
)

// TestBackendHitAllocs: a backend-tier hit (no L1) allocates what reading
// and decoding the entry costs (backend/memory's copy, the decoded value)
// plus at most three of memo's own: the data key, the shared read's
// closure and result, singleflight's call. It was seven more (a second
// key string, a detached context, a boxed timeout context).
func TestBackendHitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	be, _ := memory.New(nil)
	defer be.Close()
	c, err := memo.New[benchPost](be, &memo.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	p := newBenchPost()
	load := func(context.Context) (benchPost, error) { return p, nil }
	if _, err := c.Get(ctx, "post:42", load); err != nil {
		t.Fatal(err)
	}
	var dataKey string
	if err := be.Scan(ctx, "*:post%3A42", func(key string) error { dataKey = key; return nil }); err != nil || dataKey == "" {
		t.Fatalf("memo's entry not found: %v", err)
	}
	var env codec.Envelope
	floor := testing.AllocsPerRun(200, func() {
		raw, err := be.Get(ctx, dataKey)
		if err != nil {
			t.Fatal(err)
		}
		var out benchPost
		if _, err := env.Decode(raw, &out); err != nil {
			t.Fatal(err)
		}
	})
	hit := testing.AllocsPerRun(200, func() {
		if _, err := c.Get(ctx, "post:42", load); err != nil {
			t.Fatal(err)
		}
	})
	if s := c.Stats(); s.Loads != 1 || s.HitsBackend < 200 {
		t.Fatalf("loads = %d, backend hits = %d: not measuring backend hits", s.Loads, s.HitsBackend)
	}
	if hit-floor > 3 {
		t.Fatalf("backend hit allocates %.0f times, %.0f more than Get+Decode of its bytes (%.0f); want at most 3 more", hit, hit-floor, floor)
	}
}
