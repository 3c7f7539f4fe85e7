package memo_test

import (
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// clock is a fake clock shared by a memory backend and a cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newMemory(t *testing.T, clk *clock) *memory.Backend {
	t.Helper()
	opts := &memory.Options{}
	if clk != nil {
		opts.Clock = clk.Now
	}
	b, err := memory.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newCache[V any](t *testing.T, b backend.Backend, o *memo.Options) *memo.Cache[V] {
	t.Helper()
	c, err := memo.New[V](b, o)
	if err != nil {
		t.Fatalf("memo.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// goroutinesSettle polls until the goroutine count is back to base.
func goroutinesSettle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines = %d, want ≤ %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// checkGoroutines fails the test if, once its cleanups have run (caches,
// clients and servers closed), more goroutines are left than when it
// started. Call it first, in a test that is not parallel (parallel tests
// are paused meanwhile, so the count is the test's own).
func checkGoroutines(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() { goroutinesSettle(t, base) })
}

// waitUntil polls cond until it holds, failing the test with what after
// timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v: %s", timeout, what)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}
