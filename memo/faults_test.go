package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

// flaky is a backend whose calls fail while down is set.
type flaky struct {
	*memory.Backend
	down atomic.Bool
}

var errDown = errors.New("backend down")

func (f *flaky) Get(ctx context.Context, k string) ([]byte, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Backend.Get(ctx, k)
}

func (f *flaky) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.Backend.Set(ctx, k, v, ttl)
}

// TestBreakerProbeAbandoned: a half-open probe whose caller left must not
// keep the breaker open forever.
func TestBreakerProbeAbandoned(t *testing.T) {
	t.Parallel()
	clk := newClock()
	b := &flaky{Backend: newMemory(t, clk)}
	c := newCache[string](t, b, &memo.Options{Now: clk.Now, BreakerThreshold: 2, BreakerCooldown: time.Second, Logger: discardLogger()})
	load := func(context.Context) (string, error) { return "v", nil }
	b.down.Store(true)
	for i := 0; i < 3; i++ {
		_, _ = c.Get(t.Context(), fmt.Sprint("k", i), load)
	}
	if !c.Stats().BreakerOpen {
		t.Fatalf("breaker not open after failures")
	}
	clk.Advance(2 * time.Second) // half-open: the next call is the probe
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	_ = c.Set(cancelled, "probe", "x") // the probe's caller has left
	b.down.Store(false)
	// The abandoned write may still be on its way (Set returns on its
	// caller's context; the write it started finishes on its own budget),
	// so the breaker may stay open for a moment, never for good: poll with
	// a deadline, each Get after another cooldown.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		clk.Advance(2 * time.Second)
		if _, err := c.Get(t.Context(), fmt.Sprint("after", i), load); err != nil {
			t.Fatal(err)
		}
		if !c.Stats().BreakerOpen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker still open %d Gets after the backend recovered: an abandoned probe wedged it", i+1)
		}
		time.Sleep(time.Millisecond) // let the abandoned write finish; polled up to the deadline
	}
}
