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
// plus at most three of memo's own (the data key, the shared read; it was
// seven more: a second key string, a detached context, a boxed timeout
// context), and at most four or seven more with a context that can end.
func TestBackendHitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	be, _ := memory.New(nil)
	defer be.Close()
	c, err := memo.New[benchPost](be, &memo.Options{TTL: time.Hour, BackendTimeout: time.Second})
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
	// A caller whose context can end hands the read to a kept goroutine
	// and waits for it on its context (it allocated 10 to 13 more than the
	// floor with singleflight's DoChan: a new goroutine, a timer, a
	// detached context). With a context that can only be cancelled: the
	// read's channel and the job's closure. With a deadline, near or far,
	// a timer for its fair share too: the read has not started when the
	// caller waits, so its end is not known yet (a far deadline ran the
	// read itself and allocated no more than context.Background's until
	// 085f0fa, which hands it off so that a cancellation is honoured at
	// once).
	far, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	cancellable, cancel := context.WithCancel(ctx)
	defer cancel()
	near, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		max  float64
	}{{"far deadline", far, 7}, {"cancel only", cancellable, 4}, {"near deadline", near, 7}} {
		hit := testing.AllocsPerRun(200, func() {
			if _, err := c.Get(tc.ctx, "post:42", load); err != nil {
				t.Fatal(err)
			}
		})
		if hit-floor > tc.max {
			t.Errorf("backend hit with a %s context allocates %.0f times, %.0f more than Get+Decode of its bytes (%.0f); want at most %.0f more", tc.name, hit, hit-floor, floor, tc.max)
		}
	}
	if s := c.Stats(); s.Loads != 1 {
		t.Fatalf("loads = %d: not measuring backend hits", s.Loads)
	}
}
