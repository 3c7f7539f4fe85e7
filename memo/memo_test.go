package memo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
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

func TestGetHitMiss(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	var loads atomic.Int32
	load := func(context.Context) (string, error) { loads.Add(1); return "v1", nil }
	for i := 0; i < 3; i++ {
		v, err := c.Get(t.Context(), "k", load)
		if err != nil || v != "v1" {
			t.Fatalf("Get = %q, %v; want v1", v, err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("loads = %d, want 1", n)
	}
	s := c.Stats()
	if s.Misses != 1 || s.HitsBackend != 2 || s.Loads != 1 {
		t.Fatalf("Stats = %+v, want 1 miss, 2 backend hits, 1 load", s)
	}
}

func TestLoadErrorNotCached(t *testing.T) {
	t.Parallel()
	c := newCache[int](t, newMemory(t, nil), nil)
	boom := errors.New("boom")
	if _, err := c.Get(t.Context(), "k", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("Get = %v, want boom", err)
	}
	v, err := c.Get(t.Context(), "k", func(context.Context) (int, error) { return 7, nil })
	if err != nil || v != 7 {
		t.Fatalf("Get after error = %d, %v; want 7 (errors are not cached)", v, err)
	}
}

func TestNegativeCaching(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache[int](t, newMemory(t, clk), &memo.Options{NegativeTTL: time.Minute, Jitter: -1, Now: clk.Now})
	var loads atomic.Int32
	notFound := func(context.Context) (int, error) { loads.Add(1); return 0, memo.ErrNotFound }
	for i := 0; i < 3; i++ {
		if _, err := c.Get(t.Context(), "gone", notFound); !errors.Is(err, memo.ErrNotFound) {
			t.Fatalf("Get = %v, want ErrNotFound", err)
		}
	}
	if loads.Load() != 1 || c.Stats().NegativeHits != 2 {
		t.Fatalf("loads = %d, negative hits = %d; want 1 and 2", loads.Load(), c.Stats().NegativeHits)
	}
	clk.Advance(61 * time.Second)
	if _, err := c.Get(t.Context(), "gone", notFound); !errors.Is(err, memo.ErrNotFound) || loads.Load() != 2 {
		t.Fatalf("after NegativeTTL: err = %v, loads = %d; want ErrNotFound and a reload", err, loads.Load())
	}
}

func TestCoalescingAndCancelledLeader(t *testing.T) {
	t.Parallel()
	base := runtime.NumGoroutine()
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
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Misses < n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("misses = %d, want %d", c.Stats().Misses, n+1)
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
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
	// finds the value on its own re-check instead of being coalesced.
	if s := c.Stats(); s.Coalesced < n/2 || s.Coalesced > n {
		t.Fatalf("Coalesced = %d, want most of %d", s.Coalesced, n)
	}
	_ = c.Close()
	goroutinesSettle(t, base)
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
	deadline := time.Now().Add(5 * time.Second)
	for loads.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling with a deadline
	}
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

func TestInvalidateDuringLoad(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	testInvalidateDuringLoad(t, c, c)
}

// testInvalidateDuringLoad: a load paused mid-flight, an Invalidate on
// inv; the old value must not be stored; the next Get loads the new one.
func testInvalidateDuringLoad(t *testing.T, c, inv *memo.Cache[string]) {
	t.Helper()
	inLoad := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan string, 1)
	go func() {
		v, _ := c.Get(t.Context(), "k", func(context.Context) (string, error) {
			close(inLoad)
			<-resume
			return "old", nil
		})
		done <- v
	}()
	select {
	case <-inLoad:
	case <-time.After(10 * time.Second):
		t.Fatalf("the load never started (a value was already cached?)")
	}
	if err := inv.Invalidate(t.Context(), "k"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	close(resume)
	if v := <-done; v != "old" {
		t.Fatalf("paused load returned %q to its caller, want old", v)
	}
	v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || v != "new" {
		t.Fatalf("Get after invalidate = %q, %v; want new (the old value must not be stored)", v, err)
	}
	if c.Stats().StoresSkipped == 0 {
		t.Fatalf("StoresSkipped = 0, want the stale store counted")
	}
}

func TestSetDuringLoad(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	inLoad := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Get(t.Context(), "k", func(context.Context) (string, error) {
			close(inLoad)
			<-resume
			return "loaded-before-set", nil
		})
	}()
	<-inLoad
	if err := c.Set(t.Context(), "k", "set"); err != nil {
		t.Fatal(err)
	}
	close(resume)
	<-done
	v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "reloaded", nil })
	if err != nil || v != "set" {
		t.Fatalf("Get = %q, %v; want set (a load older than Set must not overwrite it)", v, err)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache[int](t, newMemory(t, clk), &memo.Options{TTL: time.Minute, StaleTTL: time.Minute, Jitter: -1, Now: clk.Now})
	var loads atomic.Int32
	refreshed := make(chan struct{}, 10)
	load := func(context.Context) (int, error) {
		n := loads.Add(1)
		if n > 1 {
			refreshed <- struct{}{}
		}
		return int(n), nil
	}
	if v, _ := c.Get(t.Context(), "k", load); v != 1 {
		t.Fatalf("first Get = %d, want 1", v)
	}
	clk.Advance(90 * time.Second) // stale, inside the window
	if v, err := c.Get(t.Context(), "k", load); err != nil || v != 1 {
		t.Fatalf("stale Get = %d, %v; want the stale 1 at once", v, err)
	}
	for i := 0; i < 4; i++ {
		// Later reads get the stale value or, once the refresh landed, the new one.
		if v, err := c.Get(t.Context(), "k", load); err != nil || (v != 1 && v != 2) {
			t.Fatalf("stale Get = %d, %v; want 1 or 2", v, err)
		}
	}
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		t.Fatalf("no background refresh")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := c.Get(t.Context(), "k", load)
		if v == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refreshed value never served")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	if n := loads.Load(); n != 2 {
		t.Fatalf("loads = %d, want 2 (one refresh for many stale reads)", n)
	}
	clk.Advance(3 * time.Minute) // past TTL + StaleTTL: a plain miss
	if v, _ := c.Get(t.Context(), "k", load); v != 3 {
		t.Fatalf("Get past the stale window = %d, want a synchronous reload (3); stats %+v", v, c.Stats())
	}
	if c.Stats().StaleServed == 0 {
		t.Fatalf("StaleServed = 0, want the stale reads counted")
	}
}

func TestEarlyRefreshXFetch(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var r atomic.Uint64 // rand value in 1e-9 units
	r.Store(500_000_000)
	rnd := func() float64 { return float64(r.Load()) / 1e9 }
	c := newCache[int](t, newMemory(t, clk), &memo.Options{TTL: time.Minute, Beta: 1, Jitter: -1, Now: clk.Now, Rand: rnd})
	var loads atomic.Int32
	refreshed := make(chan struct{}, 10)
	load := func(context.Context) (int, error) {
		n := loads.Add(1)
		clk.Advance(2 * time.Second) // the load "takes" 2 s: δ = 2 s
		if n > 1 {
			refreshed <- struct{}{}
		}
		return int(n), nil
	}
	if v, _ := c.Get(t.Context(), "k", load); v != 1 {
		t.Fatalf("first Get = %d", v)
	}
	// δ·β·(−ln 0.5) ≈ 1.39 s: no refresh while more than that remains.
	clk.Advance(50 * time.Second)
	if v, _ := c.Get(t.Context(), "k", load); v != 1 || c.Stats().EarlyRefreshes != 0 {
		t.Fatalf("10 s before expiry: v=%d early=%d, want 1 and no early refresh", v, c.Stats().EarlyRefreshes)
	}
	clk.Advance(9 * time.Second) // 1 s left < 1.39 s
	if v, _ := c.Get(t.Context(), "k", load); v != 1 {
		t.Fatalf("early-refresh Get = %d, want the current value 1", v)
	}
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		t.Fatalf("no early refresh 1 s before expiry with δ=2s, β=1, rand=0.5")
	}
	if c.Stats().EarlyRefreshes != 1 {
		t.Fatalf("EarlyRefreshes = %d, want 1", c.Stats().EarlyRefreshes)
	}
}

func TestClear(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), &memo.Options{L1Size: 100})
	for _, k := range []string{"a", "b"} {
		if err := c.Set(t.Context(), k, "old-"+k); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Clear(t.Context()); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	for _, k := range []string{"a", "b"} {
		v, err := c.Get(t.Context(), k, func(context.Context) (string, error) { return "new-" + k, nil })
		if err != nil || v != "new-"+k {
			t.Fatalf("Get(%s) after Clear = %q, %v; want new-%s", k, v, err, k)
		}
	}
}

func TestL1(t *testing.T) {
	t.Parallel()
	c := newCache[*int](t, newMemory(t, nil), &memo.Options{L1Size: 10})
	x := 5
	load := func(context.Context) (*int, error) { return &x, nil }
	first, _ := c.Get(t.Context(), "k", load)
	second, _ := c.Get(t.Context(), "k", load)
	if second != first {
		t.Fatalf("L1 hit returned a different pointer: L1 must return the stored value without decoding")
	}
	if c.Stats().HitsL1 != 1 {
		t.Fatalf("HitsL1 = %d, want 1", c.Stats().HitsL1)
	}
	if err := c.Invalidate(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	y := 6
	got, _ := c.Get(t.Context(), "k", func(context.Context) (*int, error) { return &y, nil })
	if *got != 6 {
		t.Fatalf("Get after Invalidate = %d, want 6", *got)
	}
	// Bounded: many keys never grow L1 past its size (observable through
	// hits: at most 10 of 1000 keys can still be L1 hits).
	for i := 0; i < 1000; i++ {
		_, _ = c.Get(t.Context(), fmt.Sprint("key", i), load)
	}
	before := c.Stats().HitsL1
	for i := 0; i < 1000; i++ {
		_, _ = c.Get(t.Context(), fmt.Sprint("key", i), load)
	}
	if hits := c.Stats().HitsL1 - before; hits > 64 {
		t.Fatalf("L1 hits over 1000 keys = %d, want ≤ 64 (bounded L1)", hits)
	}
}

func TestCorruptEntryIsMissAndOverwritten(t *testing.T) {
	t.Parallel()
	b := newMemory(t, nil)
	c := newCache[string](t, b, &memo.Options{Namespace: "corrupt"})
	if err := c.Set(t.Context(), "k", "good"); err != nil {
		t.Fatal(err)
	}
	var dk string
	_ = b.Scan(t.Context(), "corrupt:*", func(k string) error { dk = k; return nil })
	if dk == "" {
		t.Fatal("stored key not found")
	}
	if err := b.Set(t.Context(), dk, []byte("\xc1garbage"), time.Minute); err != nil {
		t.Fatal(err)
	}
	v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "reloaded", nil })
	if err != nil || v != "reloaded" {
		t.Fatalf("Get over corrupt bytes = %q, %v; want reloaded", v, err)
	}
	corrupt := c.Stats().CorruptEntries
	v, _ = c.Get(t.Context(), "k", func(context.Context) (string, error) { return "again", nil })
	if v != "reloaded" || corrupt == 0 || c.Stats().CorruptEntries != corrupt {
		t.Fatalf("second Get = %q, corrupt %d→%d; want the overwritten value and no new corrupt entry", v, corrupt, c.Stats().CorruptEntries)
	}
}

func TestGetManyAndBatchCoalescing(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	_ = c.Set(t.Context(), "a", "A")
	var calls atomic.Int32
	var mu sync.Mutex
	var asked [][]string
	gate := make(chan struct{})
	load := func(ctx context.Context, keys []string) (map[string]string, error) {
		calls.Add(1)
		mu.Lock()
		asked = append(asked, keys)
		mu.Unlock()
		<-gate
		out := map[string]string{}
		for _, k := range keys {
			if k != "missing" {
				out[k] = "v" + k
			}
		}
		return out, nil
	}
	res1 := make(chan map[string]string, 1)
	go func() {
		m, _ := c.GetMany(t.Context(), []string{"a", "b", "c", "missing"}, load)
		res1 <- m
	}()
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	res2 := make(chan map[string]string, 1)
	go func() {
		m, _ := c.GetMany(t.Context(), []string{"b", "c", "d"}, load)
		res2 <- m
	}()
	for calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the second batch loads only "d"
	}
	close(gate)
	m1, m2 := <-res1, <-res2
	if len(m1) != 3 || m1["a"] != "A" || m1["b"] != "vb" || m1["c"] != "vc" {
		t.Fatalf("GetMany #1 = %v", m1)
	}
	if len(m2) != 3 || m2["b"] != "vb" || m2["d"] != "vd" {
		t.Fatalf("GetMany #2 = %v", m2)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || len(asked[1]) != 1 || asked[1][0] != "d" {
		t.Fatalf("batch loader calls = %v, want the second batch to load only [d]", asked)
	}
}

func TestMemoize(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	var calls atomic.Int32
	double := memo.Memoize(c, func(_ context.Context, n int) (string, error) {
		calls.Add(1)
		return fmt.Sprint(n * 2), nil
	}, nil)
	for i := 0; i < 3; i++ {
		if v, err := double(t.Context(), 21); err != nil || v != "42" {
			t.Fatalf("double(21) = %q, %v", v, err)
		}
	}
	if v, _ := double(t.Context(), 5); v != "10" || calls.Load() != 2 {
		t.Fatalf("double(5) = %q after %d calls, want 10 after 2", v, calls.Load())
	}
	batch := memo.MemoizeBatch(c, func(_ context.Context, ns []int) (map[int]string, error) {
		out := map[int]string{}
		for _, n := range ns {
			out[n] = fmt.Sprint(n * 2)
		}
		return out, nil
	}, nil)
	got, err := batch(t.Context(), []int{21, 1, 2})
	if err != nil || got[21] != "42" || got[1] != "2" || got[2] != "4" {
		t.Fatalf("batch = %v, %v", got, err)
	}
}

func TestWriteThroughAndIncr(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	var db string
	if err := c.WriteThrough(t.Context(), "k", "v", func(_ context.Context, v string) error { db = v; return nil }); err != nil || db != "v" {
		t.Fatalf("WriteThrough = %v, db=%q", err, db)
	}
	v, _ := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "loaded", nil })
	if v != "v" {
		t.Fatalf("Get after WriteThrough = %q, want v", v)
	}
	failed := errors.New("db down")
	if err := c.WriteThrough(t.Context(), "k", "w", func(context.Context, string) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("WriteThrough with failing persist = %v", err)
	}
	if v, _ := c.Get(t.Context(), "k", nil); v != "v" {
		t.Fatalf("cache changed although persist failed: %q", v)
	}
	n, err := c.Incr(t.Context(), "views", 3, time.Minute)
	if err != nil || n != 3 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	b := newMemory(t, nil)
	for _, o := range []*memo.Options{{TTL: -1}, {Jitter: 1.5}, {Beta: -1}, {L1Size: -1}, {Version: -2}} {
		if _, err := memo.New[int](b, o); err == nil {
			t.Errorf("New(%+v) = nil error, want invalid options", *o)
		}
	}
	if _, err := memo.New[int](nil, nil); err == nil {
		t.Errorf("New(nil backend) = nil error")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestFetchPerValueTTLAndRevalidation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache[string](t, newMemory(t, clk), &memo.Options{TTL: time.Hour, Now: clk.Now})
	ctx := t.Context()
	var seen []*memo.Entry[string]
	fetch := func(_ context.Context, stale *memo.Entry[string]) (memo.Result[string], error) {
		seen = append(seen, stale)
		if stale != nil {
			// Revalidated: "304", keep the value, new freshness.
			return memo.Result[string]{Value: stale.Value + "+revalidated", TTL: 10 * time.Second, Retain: time.Minute}, nil
		}
		return memo.Result[string]{Value: "v", TTL: 10 * time.Second, Retain: time.Minute}, nil
	}
	v, info, err := c.Fetch(ctx, "k", fetch)
	if err != nil || v != "v" || info.Source != memo.SourceLoad || !info.Expires.Equal(clk.Now().Add(10*time.Second)) {
		t.Fatalf("Fetch = %q, %+v, %v; want a load fresh for exactly 10s (no jitter on explicit TTLs)", v, info, err)
	}
	clk.Advance(5 * time.Second)
	if v, info, _ = c.Fetch(ctx, "k", fetch); v != "v" || info.Source != memo.SourceBackend || info.CreatedAt.IsZero() {
		t.Fatalf("Fetch after 5s = %q, %+v; want a backend hit with CreatedAt", v, info)
	}
	clk.Advance(10 * time.Second) // expired, but retained for revalidation
	v, info, err = c.Fetch(ctx, "k", fetch)
	if err != nil || v != "v+revalidated" || info.Source != memo.SourceLoad {
		t.Fatalf("Fetch after expiry = %q, %+v, %v; want a revalidation", v, info, err)
	}
	if len(seen) != 2 || seen[0] != nil || seen[1] == nil || seen[1].Value != "v" {
		t.Fatalf("fetch saw stale entries %v, want [nil, v]", seen)
	}
}

func TestFetchStaleIfError(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newCache[string](t, newMemory(t, clk), &memo.Options{Now: clk.Now, Jitter: -1})
	ctx := t.Context()
	ok := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{Value: "good", TTL: 10 * time.Second, StaleIfError: time.Minute}, nil
	}
	boom := errors.New("origin down")
	failing := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{}, boom
	}
	if _, _, err := c.Fetch(ctx, "k", ok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second) // stale, inside stale-if-error
	v, info, err := c.Fetch(ctx, "k", failing)
	if err != nil || v != "good" || !info.Stale || info.Source != memo.SourceStale {
		t.Fatalf("Fetch with failing origin = %q, %+v, %v; want the stale value", v, info, err)
	}
	clk.Advance(time.Minute) // past the window
	if _, _, err := c.Fetch(ctx, "k", failing); !errors.Is(err, boom) {
		t.Fatalf("Fetch past stale-if-error = %v, want the origin's error", err)
	}
}

func TestFetchPrivateNotShared(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	gate := make(chan struct{})
	var calls atomic.Int32
	fetch := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		n := calls.Add(1)
		if n == 1 {
			<-gate
		}
		return memo.Result[string]{Value: fmt.Sprint("cookie-", n), Private: true}, nil
	}
	const n = 20
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			v, _, err := c.Fetch(t.Context(), "k", fetch)
			if err != nil {
				v = err.Error()
			}
			results <- v
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Misses < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling with a deadline: all callers joined
	}
	close(gate)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		v := <-results
		if seen[v] {
			t.Fatalf("value %q handed to two callers; Private results must not be shared", v)
		}
		seen[v] = true
	}
	if calls.Load() != n {
		t.Fatalf("fetch calls = %d, want %d (one per caller)", calls.Load(), n)
	}
	if v, _, _ := c.Fetch(t.Context(), "k", fetch); v == "cookie-1" {
		t.Fatalf("a Private value was stored")
	}
}

func TestFetchNoStoreShared(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	var calls atomic.Int32
	fetch := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{Value: fmt.Sprint(calls.Add(1)), NoStore: true}, nil
	}
	v1, _, _ := c.Fetch(t.Context(), "k", fetch)
	v2, _, _ := c.Fetch(t.Context(), "k", fetch)
	if v1 != "1" || v2 != "2" {
		t.Fatalf("NoStore fetches = %q, %q; want 1 and 2 (not stored)", v1, v2)
	}
}

func TestInvalidatePrefix(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), &memo.Options{L1Size: 100})
	ctx := t.Context()
	for _, k := range []string{"/blog/1", "/blog/2", "/blog", "/shop/1", "/blog*x"} {
		if _, err := c.Get(ctx, k, func(context.Context) (string, error) { return "old", nil }); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.InvalidatePrefix(ctx, "/blog/")
	if err != nil || n != 2 {
		t.Fatalf("InvalidatePrefix(/blog/) = %d, %v; want 2", n, err)
	}
	for k, want := range map[string]string{"/blog/1": "new", "/blog/2": "new", "/blog": "old", "/shop/1": "old", "/blog*x": "old"} {
		v, _ := c.Get(ctx, k, func(context.Context) (string, error) { return "new", nil })
		if v != want {
			t.Errorf("Get(%q) after InvalidatePrefix(/blog/) = %q, want %q", k, v, want)
		}
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
	deadline := time.Now().Add(5 * time.Second)
	for cur.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrent loads = %d, want 2 (MaxConcurrentLoads)", p)
	}
	if s := c.Stats(); s.Loads != keys {
		t.Fatalf("loads = %d, want %d", s.Loads, keys)
	}
}

func TestObserver(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	counts := map[memo.EventKind]int{}
	obs := memo.ObserverFunc(func(e memo.Event) {
		mu.Lock()
		counts[e.Kind]++
		mu.Unlock()
	})
	c := newCache[int](t, newMemory(t, nil), &memo.Options{Observer: obs, L1Size: 10})
	load := func(context.Context) (int, error) { return 1, nil }
	_, _ = c.Get(t.Context(), "k", load) // miss + load
	_, _ = c.Get(t.Context(), "k", load) // L1 hit
	_, _ = c.Get(t.Context(), "e", func(context.Context) (int, error) { return 0, errors.New("x") })
	mu.Lock()
	defer mu.Unlock()
	for kind, want := range map[memo.EventKind]int{memo.EventMiss: 2, memo.EventLoad: 1, memo.EventHitL1: 1, memo.EventLoadError: 1} {
		if counts[kind] != want {
			t.Errorf("observer saw %d %v events, want %d (all: %v)", counts[kind], kind, want, counts)
		}
	}
	if memo.EventHitL1.String() != "hit_l1" {
		t.Errorf("EventHitL1.String() = %q", memo.EventHitL1.String())
	}
}

func TestPutAndShortLivedL1(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), &memo.Options{L1Size: 10})
	ctx := t.Context()
	if err := c.Put(ctx, "k", memo.Result[string]{Value: "put", TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	v, info, err := c.Fetch(ctx, "k", nil)
	if err != nil || v != "put" || info.Expires.Sub(info.CreatedAt) != time.Hour {
		t.Fatalf("Fetch after Put = %q, %+v, %v; want put, fresh for exactly 1h", v, info, err)
	}
	// A value fresher than the L1 clock's resolution never enters L1.
	var calls atomic.Int32
	short := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		calls.Add(1)
		return memo.Result[string]{Value: "short", TTL: time.Millisecond, Retain: time.Minute}, nil
	}
	_, _, _ = c.Fetch(ctx, "s", short)
	_, info, _ = c.Fetch(ctx, "s", short)
	if info.Source == memo.SourceL1 {
		t.Fatalf("a 1ms-fresh value was served from L1 (coarse clock): %+v", info)
	}
	if err := c.Put(ctx, "k", memo.Result[string]{Value: "gone", NoStore: true}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := c.Fetch(ctx, "k", func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{Value: "reloaded"}, nil
	}); v != "reloaded" {
		t.Fatalf("Put(NoStore) did not remove the key: %q", v)
	}
}

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
	clk.Advance(2 * time.Second)
	if _, err := c.Get(t.Context(), "after", load); err != nil {
		t.Fatal(err)
	}
	if c.Stats().BreakerOpen {
		t.Fatalf("breaker still open after the backend recovered: an abandoned probe wedged it")
	}
}

// TestGetManyLeaderCanLeave: the caller that starts a batch load waits on
// its own context; a caller that joined the batch still gets the values.
func TestGetManyLeaderCanLeave(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	release := make(chan struct{})
	started := make(chan struct{})
	load := func(_ context.Context, keys []string) (map[string]string, error) {
		close(started)
		<-release
		out := map[string]string{}
		for _, k := range keys {
			out[k] = "v" + k
		}
		return out, nil
	}
	lctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.GetMany(lctx, []string{"a", "b"}, load)
		leaderErr <- err
	}()
	<-started
	joined := make(chan map[string]string, 1)
	go func() {
		m, _ := c.GetMany(t.Context(), []string{"a", "b"}, load)
		joined <- m
	}()
	select {
	case err := <-leaderErr:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("leader GetMany = %v, want DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the leader could not leave its batch load")
	}
	close(release)
	m := <-joined
	if m["a"] != "va" || m["b"] != "vb" {
		t.Fatalf("joined GetMany = %v, want the batch's values", m)
	}
}
