package memo_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// node is one simulated process: its own Redis clients, backend, locker
// and cache.
type node[V any] struct {
	cache *memo.Cache[V]
	b     *goredis.Backend
}

func newNode[V any](t *testing.T, addr string, o memo.Options) node[V] {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	b, err := goredis.New(client, nil)
	if err != nil {
		t.Fatalf("goredis.New: %v", err)
	}
	if o.Locker == nil {
		lockClient := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = lockClient.Close() })
		l, err := lockx.New(lockClient, &lockx.Options{TTL: 2 * time.Second})
		if err != nil {
			t.Fatalf("lockx.New: %v", err)
		}
		o.Locker = l
	}
	c, err := memo.New[V](b, &o)
	if err != nil {
		t.Fatalf("memo.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return node[V]{cache: c, b: b}
}

// TestHerdAcrossProcesses is not parallel: it counts the process's
// goroutines (see checkGoroutines). It runs with the Locker on the
// backend's client (the re-check folded into the grant) and on its own.
func TestHerdAcrossProcesses(t *testing.T) {
	s := redistest.Shared(t) // first: a server it starts keeps a goroutine
	for _, lc := range lockClients {
		t.Run(lc.name, func(t *testing.T) { testHerdAcrossProcesses(t, s, lc.shared) })
	}
}

func testHerdAcrossProcesses(t *testing.T, s *redistest.Server, shared bool) {
	checkGoroutines(t)
	ns := redistest.Prefix(t)
	const processes, goroutines = 3, 300
	var nodes []node[string]
	for i := 0; i < processes; i++ {
		if shared {
			c, b := lockedNode(t, s.Addr, memo.Options{Namespace: ns, PollInterval: 200 * time.Millisecond,
				BackendTimeout: 5 * time.Second}, true, nil)
			nodes = append(nodes, node[string]{cache: c, b: b})
			continue
		}
		// BackendTimeout well above the default 250 ms: a lock attempt
		// that times out is loaded without the lock (fail-open, by
		// design), a second load. With 900 callers under -race on a
		// loaded 2-core machine, a lock round trip took longer than
		// 250 ms ("memo: lock failed; loading without it", then Get =
		// "value-2"). What this test asserts is the herd across processes
		// with a healthy Redis, not the timeout.
		nodes = append(nodes, newNode[string](t, s.Addr, memo.Options{Namespace: ns, PollInterval: 200 * time.Millisecond,
			BackendTimeout: 5 * time.Second}))
	}
	var loads atomic.Int32
	load := func(ctx context.Context) (string, error) {
		n := loads.Add(1)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return fmt.Sprint("value-", n), nil
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, processes*goroutines)
	for _, n := range nodes {
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				v, err := n.cache.Get(ctx, "cold", load)
				if err == nil && v != "value-1" {
					err = fmt.Errorf("Get = %q, want value-1", v)
				}
				errs <- err
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("loader calls = %d across %d processes × %d goroutines, want exactly 1", n, processes, goroutines)
	}
	var waits uint64
	for _, n := range nodes {
		waits += n.cache.Stats().LockWaits
		if e := n.cache.Stats().LockWaitExpired; e != 0 {
			t.Fatalf("LockWaitExpired = %d, want 0", e)
		}
	}
	if waits == 0 {
		t.Fatalf("no process waited for the lock holder's value; the herd was not exercised")
	}
}

func TestInvalidateDuringLoadAcrossProcesses(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	ns := redistest.Prefix(t)
	a := newNode[string](t, s.Addr, memo.Options{Namespace: ns})
	b := newNode[string](t, s.Addr, memo.Options{Namespace: ns})
	testInvalidateDuringLoad(t, a.cache, b.cache)
}

func TestCrossNodeL1Invalidation(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	o := memo.Options{Namespace: redistest.Prefix(t), L1Size: 100, L1TTL: time.Hour, TTL: time.Hour}
	a := newNode[string](t, s.Addr, o)
	b := newNode[string](t, s.Addr, o)
	ctx := t.Context()
	load := func(v string) memo.LoadFunc[string] {
		return func(context.Context) (string, error) { return v, nil }
	}
	if v, _ := a.cache.Get(ctx, "k", load("v1")); v != "v1" {
		t.Fatalf("a.Get = %q", v)
	}
	for i := 0; i < 2; i++ { // the second Get is an L1 hit on b
		if v, _ := b.cache.Get(ctx, "k", load("other")); v != "v1" {
			t.Fatalf("b.Get = %q, want v1", v)
		}
	}
	if b.cache.Stats().HitsL1 == 0 {
		t.Fatalf("b has no L1 hit; the test would not show eviction")
	}
	eventuallyGet := func(c *memo.Cache[string], want string, fallback string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			v, err := c.Get(ctx, "k", load(fallback))
			if err == nil && v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Get = %q, %v; want %q within 5s", v, err, want)
			}
			time.Sleep(2 * time.Millisecond) // polling with a deadline
		}
	}
	if err := a.cache.Set(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	eventuallyGet(b.cache, "v2", "loaded")
	if err := a.cache.Invalidate(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	eventuallyGet(b.cache, "v3", "v3")
	if err := a.cache.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	eventuallyGet(b.cache, "v4", "v4")
	if b.cache.Stats().L1Invalidations == 0 {
		t.Fatalf("L1Invalidations = 0 on b, want evictions by message")
	}
}

func TestFrozenRedisFailOpen(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	n := newNode[string](t, s.Addr, memo.Options{
		Namespace:        "frozen",
		BackendTimeout:   100 * time.Millisecond,
		BreakerThreshold: 3,
		BreakerCooldown:  200 * time.Millisecond,
		Logger:           discardLogger(),
		// The real lockx Locker on the same (frozen) server: taking the
		// lock must not cost the callers their budget either.
	})
	ctx := t.Context()
	var loads atomic.Int32
	load := func(context.Context) (string, error) { loads.Add(1); return "fresh", nil }
	if v, err := n.cache.Get(ctx, "warm", load); err != nil || v != "fresh" {
		t.Fatalf("Get before freeze = %q, %v", v, err)
	}

	s.Pause(t)
	for i := 0; i < 6; i++ {
		cctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
		start := time.Now()
		v, err := n.cache.Get(cctx, fmt.Sprint("k", i), load)
		took := time.Since(start)
		cancel()
		if err != nil || v != "fresh" {
			t.Fatalf("Get %d with Redis frozen = %q, %v; want the loaded value", i, v, err)
		}
		if took > 400*time.Millisecond {
			t.Fatalf("Get %d took %v with a 400ms budget", i, took)
		}
	}
	st := n.cache.Stats()
	if !st.BreakerOpen || st.BreakerTrips == 0 || st.BackendErrors == 0 {
		t.Fatalf("Stats with Redis frozen = %+v, want the breaker open and backend errors counted", st)
	}
	start := time.Now()
	if _, err := n.cache.Get(ctx, "while-open", load); err != nil || time.Since(start) > 200*time.Millisecond {
		t.Fatalf("Get with the breaker open took %v (%v), want it to skip the backend", time.Since(start), err)
	}

	s.Resume(t)
	deadline := time.Now().Add(10 * time.Second)
	for n.cache.Stats().BreakerOpen {
		if time.Now().After(deadline) {
			t.Fatalf("breaker still open 10s after Redis resumed")
		}
		_, _ = n.cache.Get(ctx, "probe", load)
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	before := loads.Load()
	if v, err := n.cache.Get(ctx, "after", load); err != nil || v != "fresh" {
		t.Fatalf("Get after recovery = %q, %v", v, err)
	}
	if v, _ := n.cache.Get(ctx, "after", load); v != "fresh" || loads.Load() != before+1 {
		t.Fatalf("after recovery the value is not cached again: loads %d → %d", before, loads.Load())
	}
}

func noLock(context.Context, string) (func(context.Context) error, bool, error) {
	return func(context.Context) error { return nil }, true, nil
}

func TestClusterBackend(t *testing.T) {
	t.Parallel()
	cl := redistest.SharedCluster(t)
	b, err := goredis.New(cl.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lockx.New(cl.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A 5 s BackendTimeout: the writes below must succeed on a healthy
	// cluster, and at load ~32 one outlived the default 250 ms
	// ("Invalidate across slots: … i/o timeout").
	c := newCache[int](t, b, &memo.Options{Namespace: redistest.Prefix(t), Locker: l, L1Size: 10,
		BackendTimeout: 5 * time.Second})
	ctx := t.Context()
	got, err := c.GetMany(ctx, []string{"a", "b", "c", "{x}", "d*"}, func(_ context.Context, keys []string) (map[string]int, error) {
		out := map[string]int{}
		for i, k := range keys {
			out[k] = i + 1
		}
		return out, nil
	})
	if err != nil || len(got) != 5 {
		t.Fatalf("GetMany on cluster = %v, %v", got, err)
	}
	if v, err := c.Get(ctx, "{x}", func(context.Context) (int, error) { return -1, nil }); err != nil || v != got["{x}"] {
		t.Fatalf("Get({x}) = %d, %v; want %d from the batch", v, err, got["{x}"])
	}
	if err := c.Invalidate(ctx, "a", "b", "c"); err != nil {
		t.Fatalf("Invalidate across slots: %v", err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	v, err := c.Get(ctx, "a", func(context.Context) (int, error) { return 100, nil })
	if err != nil || v != 100 {
		t.Fatalf("Get after Clear = %d, %v; want 100", v, err)
	}
	if _, err := c.Incr(ctx, "n", 2, time.Minute); err != nil {
		t.Fatalf("Incr: %v", err)
	}
}

// TestL1FlushedOnReconnect: invalidations published while a node was
// disconnected are lost, so after a reconnect the node flushes its L1.
func TestL1FlushedOnReconnect(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	n := newNode[string](t, s.Addr, memo.Options{Namespace: "reconnect", L1Size: 10, L1TTL: time.Hour, TTL: time.Hour,
		Locker: memo.LockerFunc(noLock), Logger: discardLogger()})
	ctx := t.Context()
	var loads atomic.Int32
	load := func(context.Context) (string, error) { return fmt.Sprint("v", loads.Add(1)), nil }
	if v, _ := n.cache.Get(ctx, "k", load); v != "v1" {
		t.Fatalf("Get = %q", v)
	}
	if v, _ := n.cache.Get(ctx, "k", load); v != "v1" || n.cache.Stats().HitsL1 != 1 {
		t.Fatalf("second Get = %q, L1 hits %d; want an L1 hit", v, n.cache.Stats().HitsL1)
	}
	s.Restart(t) // the server comes back empty; the subscription reconnects
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := n.cache.Get(ctx, "k", load)
		if err == nil && v != "v1" {
			break // L1 flushed: the value was reloaded
		}
		if time.Now().After(deadline) {
			t.Fatalf("L1 still serving %q 15s after a reconnect", v)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}
