package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// TestCoalescingAndCancelledLeader is not parallel: it counts the
// process's goroutines (see checkGoroutines).
func TestCoalescingAndCancelledLeader(t *testing.T) {
	checkGoroutines(t)
	c := newCache[string](t, newMemory(t, nil), nil)
	release := make(chan struct{})
	started := make(chan struct{})
	var loads atomic.Int32
	load := func(ctx context.Context) (string, error) {
		if loads.Add(1) == 1 {
			close(started)
		}
		<-release
		return "value", ctx.Err()
	}
	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Get(leaderCtx, "k", load)
		leaderErr <- err
	}()
	<-started
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.Get(t.Context(), "k", load)
			if err == nil && v != "value" {
				err = fmt.Errorf("Get = %q, want value", v)
			}
			errs <- err
		}()
	}
	// Wait until every caller has missed: they then join the blocked flight.
	waitUntil(t, 10*time.Second, "every caller missed", func() bool { return c.Stats().Misses >= n+1 })
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled leader's Get = %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("waiter: %v (a cancelled leader must not fail the others)", err)
		}
	}
	if loads.Load() != 1 {
		t.Fatalf("loads = %d, want 1", loads.Load())
	}
	// A caller that missed but had not yet joined when the load landed
	// finds the value on its re-check instead of being coalesced.
	if s := c.Stats(); s.Coalesced < n/2 || s.Coalesced > n {
		t.Fatalf("Coalesced = %d, want most of %d", s.Coalesced, n)
	}
}

func TestLoaderPanic(t *testing.T) {
	t.Parallel()
	c := newCache[int](t, newMemory(t, nil), &memo.Options{Logger: discardLogger()})
	gate := make(chan struct{})
	var loads atomic.Int32
	panicky := func(context.Context) (int, error) {
		loads.Add(1)
		<-gate
		panic("kaboom")
	}
	const n = 20
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.Get(t.Context(), "k", panicky)
			errs <- err
		}()
	}
	// Let the callers join the flight before it panics.
	waitUntil(t, 5*time.Second, "every caller missed", func() bool { return c.Stats().Misses >= n })
	close(gate)
	for i := 0; i < n; i++ {
		err := <-errs
		var pe *memo.PanicError
		if !errors.Is(err, memo.ErrLoaderPanic) || !errors.As(err, &pe) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
			t.Fatalf("Get = %v, want *PanicError(kaboom) wrapping ErrLoaderPanic", err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("panicking loads = %d, want 1 shared by all callers", n)
	}
	v, err := c.Get(t.Context(), "k", func(context.Context) (int, error) { return 42, nil })
	if err != nil || v != 42 {
		t.Fatalf("Get after panic = %d, %v; want a reload giving 42", v, err)
	}
	if s := c.Stats(); s.LoadPanics == 0 {
		t.Fatalf("Stats.LoadPanics = 0, want > 0")
	}
}

func TestMaxConcurrentLoads(t *testing.T) {
	t.Parallel()
	c := newCache[int](t, newMemory(t, nil), &memo.Options{MaxConcurrentLoads: 2})
	var cur, peak atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		cur.Add(-1)
		return 1, nil
	}
	const keys = 10
	var wg sync.WaitGroup
	for i := 0; i < keys; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.Get(t.Context(), fmt.Sprint("k", i), load)
		}()
	}
	waitUntil(t, 5*time.Second, "two loads running", func() bool { return cur.Load() >= 2 })
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrent loads = %d, want 2 (MaxConcurrentLoads)", p)
	}
	if s := c.Stats(); s.Loads != keys {
		t.Fatalf("loads = %d, want %d", s.Loads, keys)
	}
}

// TestOneLoadPerKeyWithoutLocker: without a Locker a miss reads the
// backend once and stores once (no re-check before the load); a caller
// whose read began before its key's value landed, and that reaches the
// flight group after that flight ended, reads the backend again instead of
// loading again. Many callers over a few cold keys: one load per key.
func TestOneLoadPerKeyWithoutLocker(t *testing.T) {
	t.Parallel()
	for _, l1 := range []int{0, 100} {
		t.Run(fmt.Sprint("L1=", l1), func(t *testing.T) {
			t.Parallel()
			b, err := goredis.New(redistest.Shared(t).Client(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			// A BackendTimeout the loaded machine cannot run out: a read
			// that times out loads without storing (fail-open), which is
			// not what this test is about.
			c := newCache[string](t, b, &memo.Options{Namespace: redistest.Prefix(t), L1Size: l1,
				TTL: time.Hour, BackendTimeout: 10 * time.Second, MaxConcurrentLoads: 64})
			const keys, workers, rounds = 20, 16, 40
			var mu sync.Mutex
			loads := map[string]int{}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range rounds * keys {
						k := fmt.Sprint("key", (i+w)%keys)
						v, err := c.Get(t.Context(), k, func(context.Context) (string, error) {
							mu.Lock()
							loads[k]++
							mu.Unlock()
							time.Sleep(time.Millisecond) // the origin's work
							return k + ":v1", nil
						})
						if err == nil && v != k+":v1" {
							err = fmt.Errorf("Get(%q) = %q, want %q", k, v, k+":v1")
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for k, n := range loads {
				if n != 1 {
					t.Errorf("%s loaded %d times, want 1", k, n)
				}
			}
			if len(loads) != keys {
				t.Errorf("%d keys loaded, want %d", len(loads), keys)
			}
			t.Logf("stats: %+v", c.Stats())
		})
	}
}
