package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

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
	waitUntil(t, 5*time.Second, "first batch load started", func() bool { return calls.Load() > 0 })
	res2 := make(chan map[string]string, 1)
	go func() {
		m, _ := c.GetMany(t.Context(), []string{"b", "c", "d"}, load)
		res2 <- m
	}()
	// The second batch loads only "d".
	waitUntil(t, 5*time.Second, "second batch load started", func() bool { return calls.Load() >= 2 })
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

// batchCaches returns a cache over the memory backend and one over a real
// Redis (with lockx as its Locker), for the tests that must hold on both.
// The Redis one has a 5 s BackendTimeout: these tests count loads on a
// healthy Redis, and a read or store that outlived the default 250 ms on a
// loaded machine fails open (by design): a later caller loads again
// (TestGetAndGetManyColdKeyLoadOnce/redis: 4 of 8 keys loaded twice at
// load ~18).
func batchCaches(t *testing.T) map[string]*memo.Cache[string] {
	t.Helper()
	s := redistest.Shared(t)
	return map[string]*memo.Cache[string]{
		"memory": newCache[string](t, newMemory(t, nil), &memo.Options{Logger: discardLogger()}),
		"redis": newNode[string](t, s.Addr, memo.Options{Namespace: redistest.Prefix(t), Logger: discardLogger(),
			BackendTimeout: 5 * time.Second}).cache,
	}
}

// gatedLoads counts loads per key; every load blocks until gate closes.
type gatedLoads struct {
	mu      sync.Mutex
	perKey  map[string]int
	batches [][]string
	gate    chan struct{}
	open    sync.Once
	started chan string // one send per key loaded
}

// newGatedLoads returns loaders whose gate opens at the latest when t
// ends (before the caches it uses close), so a failing test does not hang.
func newGatedLoads(t *testing.T) *gatedLoads {
	g := &gatedLoads{perKey: map[string]int{}, gate: make(chan struct{}), started: make(chan string, 100)}
	t.Cleanup(g.release)
	return g
}

// release opens the gate.
func (g *gatedLoads) release() { g.open.Do(func() { close(g.gate) }) }

func (g *gatedLoads) count(keys ...string) {
	g.mu.Lock()
	for _, k := range keys {
		g.perKey[k]++
	}
	g.mu.Unlock()
	for _, k := range keys {
		g.started <- k
	}
}

func (g *gatedLoads) loads(k string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.perKey[k]
}

// single is a Get loader for key.
func (g *gatedLoads) single(key string, err error, panicking bool) memo.LoadFunc[string] {
	return func(context.Context) (string, error) {
		g.count(key)
		<-g.gate
		if panicking {
			panic("single loader")
		}
		return "v" + key, err
	}
}

// batch is a GetMany loader.
func (g *gatedLoads) batch(err error, panicking bool) memo.BatchLoadFunc[string] {
	return func(_ context.Context, keys []string) (map[string]string, error) {
		g.mu.Lock()
		g.batches = append(g.batches, keys)
		g.mu.Unlock()
		g.count(keys...)
		<-g.gate
		if panicking {
			panic("batch loader")
		}
		out := map[string]string{}
		for _, k := range keys {
			out[k] = "v" + k
		}
		return out, err
	}
}

type getManyResult struct {
	m   map[string]string
	err error
}

type getResult struct {
	v   string
	err error
}

// goGet runs c.Get(key) with g's loader for key on a goroutine and returns
// where its result arrives.
func goGet(t *testing.T, c *memo.Cache[string], g *gatedLoads, key string) <-chan getResult {
	got := make(chan getResult, 1)
	go func() {
		v, err := c.Get(t.Context(), key, g.single(key, nil, false))
		got <- getResult{v, err}
	}()
	return got
}

// TestGetManyJoinsGetFlight: a GetMany of a key a Get is loading waits for
// that load instead of loading the key again; its own batch loads only the
// other keys.
func TestGetManyJoinsGetFlight(t *testing.T) {
	t.Parallel()
	for name, c := range batchCaches(t) {
		t.Run(name, func(t *testing.T) {
			g := newGatedLoads(t)
			got := goGet(t, c, g, "k")
			if k := <-g.started; k != "k" {
				t.Fatalf("first load of %q", k)
			}
			many := make(chan getManyResult, 1)
			go func() {
				m, err := c.GetMany(t.Context(), []string{"k", "other"}, g.batch(nil, false))
				many <- getManyResult{m, err}
			}()
			if k := <-g.started; k != "other" {
				t.Fatalf("the GetMany loaded %q, want only other", k)
			}
			waitUntil(t, 5*time.Second, "GetMany joined the Get's flight", func() bool { return c.Stats().Coalesced >= 1 })
			g.release()
			if r := <-got; r.err != nil || r.v != "vk" {
				t.Fatalf("Get = %q, %v", r.v, r.err)
			}
			r := <-many
			if r.err != nil || r.m["k"] != "vk" || r.m["other"] != "vother" || len(r.m) != 2 {
				t.Fatalf("GetMany = %v, %v", r.m, r.err)
			}
			if n := g.loads("k"); n != 1 {
				t.Fatalf("k loaded %d times, want 1", n)
			}
			if len(g.batches) != 1 || len(g.batches[0]) != 1 {
				t.Fatalf("batch loads = %v, want one of [other]", g.batches)
			}
		})
	}
}

// TestGetJoinsGetManyFlight: a Get of a key a GetMany is loading waits for
// the batch load instead of calling its own loader.
func TestGetJoinsGetManyFlight(t *testing.T) {
	t.Parallel()
	for name, c := range batchCaches(t) {
		t.Run(name, func(t *testing.T) {
			g := newGatedLoads(t)
			many := make(chan getManyResult, 1)
			go func() {
				m, err := c.GetMany(t.Context(), []string{"a", "b"}, g.batch(nil, false))
				many <- getManyResult{m, err}
			}()
			<-g.started
			<-g.started
			got := goGet(t, c, g, "b")
			waitUntil(t, 5*time.Second, "Get missed", func() bool { return c.Stats().Misses >= 3 })
			g.release()
			if r := <-got; r.err != nil || r.v != "vb" {
				t.Fatalf("Get = %q, %v", r.v, r.err)
			}
			if r := <-many; r.err != nil || r.m["a"] != "va" || r.m["b"] != "vb" {
				t.Fatalf("GetMany = %v, %v", r.m, r.err)
			}
			if n := g.loads("b"); n != 1 {
				t.Fatalf("b loaded %d times, want 1 (by the batch)", n)
			}
			// Both stored: neither loads again.
			if v, err := c.Get(t.Context(), "b", func(context.Context) (string, error) { return "", errors.New("loaded again") }); err != nil || v != "vb" {
				t.Fatalf("Get after = %q, %v", v, err)
			}
		})
	}
}

// TestGetAndGetManyColdKeyLoadOnce races Gets and GetManys of the same
// cold keys: every key is loaded exactly once in the process.
func TestGetAndGetManyColdKeyLoadOnce(t *testing.T) {
	t.Parallel()
	for name, c := range batchCaches(t) {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			loads := map[string]int{}
			count := func(keys ...string) {
				mu.Lock()
				for _, k := range keys {
					loads[k]++
				}
				mu.Unlock()
			}
			hold := func() { time.Sleep(20 * time.Millisecond) } // a slow origin, so the callers overlap
			single := func(k string) memo.LoadFunc[string] {
				return func(context.Context) (string, error) { count(k); hold(); return "v" + k, nil }
			}
			batch := func(_ context.Context, keys []string) (map[string]string, error) {
				count(keys...)
				hold()
				out := map[string]string{}
				for _, k := range keys {
					out[k] = "v" + k
				}
				return out, nil
			}
			keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := 0; i < 16; i++ {
				wg.Add(2)
				go func() {
					defer wg.Done()
					<-start
					k := keys[i%len(keys)]
					if v, err := c.Get(t.Context(), k, single(k)); err != nil || v != "v"+k {
						errs <- fmt.Errorf("Get(%s) = %q, %v", k, v, err)
					}
				}()
				go func() {
					defer wg.Done()
					<-start
					sub := keys[i%4 : i%4+4]
					m, err := c.GetMany(t.Context(), sub, batch)
					if err != nil || len(m) != len(sub) {
						errs <- fmt.Errorf("GetMany(%v) = %v, %v", sub, m, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for _, k := range keys {
				if loads[k] != 1 {
					t.Errorf("%s loaded %d times, want 1 (loads %v)", k, loads[k], loads)
				}
			}
		})
	}
}

// TestJoinedCallerLeavesOnItsContext: a GetMany joined on a Get's flight,
// and a Get joined on a GetMany's, return when their own context ends; the
// flight goes on for its leader, which gets the value, loaded once.
func TestJoinedCallerLeavesOnItsContext(t *testing.T) {
	t.Parallel()
	for name, c := range batchCaches(t) {
		t.Run(name, func(t *testing.T) {
			g := newGatedLoads(t)
			got := goGet(t, c, g, "k")
			<-g.started
			many := make(chan getManyResult, 1)
			go func() {
				m, err := c.GetMany(t.Context(), []string{"a", "b"}, g.batch(nil, false))
				many <- getManyResult{m, err}
			}()
			<-g.started
			<-g.started

			ctx, cancel := context.WithCancel(t.Context())
			joinedMany := make(chan error, 1)
			go func() {
				_, err := c.GetMany(ctx, []string{"k"}, g.batch(nil, false))
				joinedMany <- err
			}()
			joinedGet := make(chan error, 1)
			go func() {
				_, err := c.Get(ctx, "a", g.single("a", nil, false))
				joinedGet <- err
			}()
			waitUntil(t, 5*time.Second, "both missed, the GetMany joined", func() bool {
				s := c.Stats()
				return s.Misses >= 5 && s.Coalesced >= 1
			})
			cancel()
			for _, ch := range []chan error{joinedMany, joinedGet} {
				select {
				case err := <-ch:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("joined caller = %v, want context.Canceled", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("a joined caller did not leave on its own context")
				}
			}
			g.release()
			if r := <-got; r.err != nil || r.v != "vk" {
				t.Fatalf("Get = %q, %v", r.v, r.err)
			}
			if r := <-many; r.err != nil || r.m["a"] != "va" || r.m["b"] != "vb" {
				t.Fatalf("GetMany = %v, %v", r.m, r.err)
			}
			if g.loads("k") != 1 || g.loads("a") != 1 || g.loads("b") != 1 {
				t.Fatalf("loads = %v, want 1 each", g.perKey)
			}
		})
	}
}

// TestJoinedFlightFailure: a loader's error or panic reaches the callers
// of both kinds that shared its flight, and nothing is cached.
func TestJoinedFlightFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		getLeads bool // the Get leads, the GetMany joins; else the reverse
		panics   bool
		want     error
	}{
		{"get-error", true, false, boom},
		{"get-panic", true, true, memo.ErrLoaderPanic},
		{"batch-error", false, false, boom},
		{"batch-panic", false, true, memo.ErrLoaderPanic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for name, c := range batchCaches(t) {
				t.Run(name, func(t *testing.T) {
					g := newGatedLoads(t)
					got := make(chan getResult, 1)
					many := make(chan getManyResult, 1)
					runGet := func() {
						v, err := c.Get(t.Context(), "k", g.single("k", boom, tc.panics))
						got <- getResult{v, err}
					}
					runMany := func() {
						m, err := c.GetMany(t.Context(), []string{"k"}, g.batch(boom, tc.panics))
						many <- getManyResult{m, err}
					}
					first, second := runMany, runGet
					if tc.getLeads {
						first, second = runGet, runMany
					}
					go first()
					<-g.started
					go second()
					waitUntil(t, 5*time.Second, "the second caller missed", func() bool { return c.Stats().Misses >= 2 })
					g.release()
					if r := <-got; !errors.Is(r.err, tc.want) {
						t.Fatalf("Get = %q, %v, want %v", r.v, r.err, tc.want)
					}
					if r := <-many; !errors.Is(r.err, tc.want) {
						t.Fatalf("GetMany = %v, %v, want %v", r.m, r.err, tc.want)
					}
					if n := g.loads("k"); n != 1 {
						t.Fatalf("k loaded %d times, want 1", n)
					}
					if tc.panics && c.Stats().LoadPanics != 1 {
						t.Fatalf("LoadPanics = %d, want 1", c.Stats().LoadPanics)
					}
					// Nothing was cached: the next Get loads.
					if v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "fresh", nil }); err != nil || v != "fresh" {
						t.Fatalf("Get after the failure = %q, %v", v, err)
					}
				})
			}
		})
	}
}

// TestInvalidateForgetsBatchFlight: after Invalidate returns, a Get does
// not join a batch load that started before it (its value predates the
// invalidation).
func TestInvalidateForgetsBatchFlight(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	g := newGatedLoads(t)
	many := make(chan getManyResult, 1)
	go func() {
		m, err := c.GetMany(t.Context(), []string{"k"}, g.batch(nil, false))
		many <- getManyResult{m, err}
	}()
	<-g.started
	if err := c.Invalidate(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || v != "new" {
		t.Fatalf("Get after Invalidate = %q, %v, want new (not the batch's older load)", v, err)
	}
	g.release()
	<-many
}

// TestPrivateJoinerLeavesOnItsContext: a Get or a GetMany that joined a
// Fetch whose result was Private loads the key on its own afterwards; it
// still leaves on its own context while that load runs, not after the
// loader returns (LoadTimeout later).
func TestPrivateJoinerLeavesOnItsContext(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"Get", "GetMany"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newCache[string](t, newMemory(t, nil), &memo.Options{LoadTimeout: time.Minute})
			fetchGate, fetchStarted := make(chan struct{}), make(chan struct{})
			go func() {
				_, _, _ = c.Fetch(t.Context(), "k", func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
					close(fetchStarted)
					<-fetchGate
					return memo.Result[string]{Value: "private", Private: true}, nil
				})
			}()
			<-fetchStarted
			ownGate, ownStarted := make(chan struct{}), make(chan struct{}, 1)
			defer close(ownGate)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			left := make(chan error, 1)
			go func() {
				var err error
				if kind == "Get" {
					_, err = c.Get(ctx, "k", func(context.Context) (string, error) {
						ownStarted <- struct{}{}
						<-ownGate
						return "own", nil
					})
				} else {
					_, err = c.GetMany(ctx, []string{"k"}, func(context.Context, []string) (map[string]string, error) {
						ownStarted <- struct{}{}
						<-ownGate
						return map[string]string{"k": "own"}, nil
					})
				}
				left <- err
			}()
			waitUntil(t, 5*time.Second, "the caller missed", func() bool { return c.Stats().Misses >= 2 })
			close(fetchGate)
			<-ownStarted
			cancel()
			select {
			case err := <-left:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s = %v, want context.Canceled", kind, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not leave on its own context while its own load ran", kind)
			}
			// (A Get that joined a Private flight is not counted as
			// coalesced: it loads for itself.)
			if s := c.Stats(); kind == "GetMany" && s.Coalesced != 1 {
				t.Fatalf("Coalesced = %d: the caller did not join the Fetch's flight", s.Coalesced)
			}
		})
	}
}

// gatedBatcher is a memory backend whose GetMany calls are counted and,
// while hold is set, hold their reply (the read done) until release.
type gatedBatcher struct {
	*memory.Backend
	getMany atomic.Int32
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedBatcher) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	g.getMany.Add(1)
	vals, err := g.Backend.GetMany(ctx, keys)
	if g.hold.CompareAndSwap(true, false) { // the read is done, its reply not yet back
		close(g.entered)
		<-g.release
	}
	return vals, err
}

// TestGetManyReadsAgainOnlyWhatLanded: without a Locker, a GetMany whose
// backend read overlapped another key's flight (which loaded and stored)
// does not read its own keys again: two round trips, like a Get's miss
// (it used to read them all again whenever any flight had ended). A key
// this node stored during the read is read again, not loaded.
func TestGetManyReadsAgainOnlyWhatLanded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		during      []string // keys a Get loads and stores while the batch reads
		wantLoads   int32
		wantGetMany int32
	}{
		{"other key landed", []string{"other"}, 3, 1},
		{"own key landed", []string{"other", "shared"}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &gatedBatcher{Backend: newMemory(t, nil), entered: make(chan struct{}), release: make(chan struct{})}
			c := newCache[string](t, g, nil)
			ctx := t.Context()
			var loads atomic.Int32
			load := func(_ context.Context, keys []string) (map[string]string, error) {
				loads.Add(int32(len(keys)))
				out := map[string]string{}
				for _, k := range keys {
					out[k] = "v-" + k
				}
				return out, nil
			}
			g.hold.Store(true)
			done := make(chan map[string]string)
			go func() {
				m, err := c.GetMany(ctx, []string{"a", "b", "shared"}, load)
				if err != nil {
					t.Error(err)
				}
				done <- m
			}()
			<-g.entered
			for _, k := range tc.during {
				if _, err := c.Get(ctx, k, func(context.Context) (string, error) { return "v-" + k, nil }); err != nil {
					t.Fatal(err)
				}
			}
			close(g.release)
			m := <-done
			if len(m) != 3 || m["a"] != "v-a" || m["shared"] != "v-shared" {
				t.Fatalf("GetMany = %v", m)
			}
			if got := loads.Load(); got != tc.wantLoads {
				t.Errorf("the batch loaded %d keys, want %d", got, tc.wantLoads)
			}
			if got := g.getMany.Load(); got != tc.wantGetMany {
				t.Errorf("GetMany reached the backend %d times, want %d", got, tc.wantGetMany)
			}
		})
	}
}
