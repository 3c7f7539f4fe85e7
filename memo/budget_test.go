package memo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// A caller never waits past its own context, and a write the caller waits
// for runs under one budget: these tests freeze a real Redis.

// TestWritesHonourContextOnFrozenRedis: Set and Invalidate on a frozen
// server return when the caller's context ends (the message to other
// nodes included), and with a long context take one BackendTimeout for
// the whole call, not one per step.
func TestWritesHonourContextOnFrozenRedis(t *testing.T) {
	checkGoroutines(t)
	s := redistest.Start(t)
	const backendTimeout = 250 * time.Millisecond
	n := newNode[string](t, s.Addr, memo.Options{Namespace: "frozen-writes", BreakerThreshold: -1,
		Locker: memo.LockerFunc(noLock), Logger: discardLogger()})
	ctx := t.Context()
	s.Pause(t)
	writes := map[string]func(context.Context) error{
		"Invalidate": func(ctx context.Context) error { return n.cache.Invalidate(ctx, "a", "b") },
		"Set":        func(ctx context.Context) error { return n.cache.Set(ctx, "a", "v") },
		"Clear":      func(ctx context.Context) error { return n.cache.Clear(ctx) },
	}
	for name, write := range writes {
		for _, budget := range []time.Duration{20 * time.Millisecond, time.Second} {
			wctx, cancel := context.WithTimeout(ctx, budget)
			start := time.Now()
			err := write(wctx)
			took := time.Since(start)
			cancel()
			limit := min(budget, backendTimeout) + 60*time.Millisecond
			if err == nil || took > limit {
				t.Errorf("%s with a %v context on frozen Redis = %v after %v, want an error within %v", name, budget, err, took, limit)
			}
			if budget < backendTimeout && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s error = %v, want it to wrap context.DeadlineExceeded", name, err)
			}
		}
	}
	s.Resume(t)
}

// TestWriteProbesOpenBreaker: after Redis is back, a write the caller
// waits for goes through an open breaker (as its probe) instead of being
// refused for the rest of the cooldown, and closes it.
func TestWriteProbesOpenBreaker(t *testing.T) {
	checkGoroutines(t)
	s := redistest.Start(t)
	n := newNode[string](t, s.Addr, memo.Options{Namespace: "probe-writes", BreakerThreshold: 2,
		BreakerCooldown: time.Hour, BackendTimeout: 100 * time.Millisecond,
		Locker: memo.LockerFunc(noLock), Logger: discardLogger()})
	ctx := t.Context()
	load := func(context.Context) (string, error) { return "v", nil }
	s.Pause(t)
	for i := 0; !n.cache.Stats().BreakerOpen; i++ {
		if i == 20 {
			t.Fatalf("breaker not open after 20 Gets on frozen Redis: %+v", n.cache.Stats())
		}
		_, _ = n.cache.Get(ctx, fmt.Sprint("k", i), load)
	}
	s.Resume(t)
	if err := n.cache.Invalidate(ctx, "k0"); err != nil {
		t.Fatalf("Invalidate with Redis back and the breaker open = %v, want nil (the write is the probe)", err)
	}
	if n.cache.Stats().BreakerOpen {
		t.Fatalf("breaker still open after a successful write")
	}
	if err := n.cache.Set(ctx, "k1", "v1"); err != nil {
		t.Fatalf("Set after recovery: %v", err)
	}
}
