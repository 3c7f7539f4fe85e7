package memo_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// The shared backend read (read.go) with every kind of caller context:
// context.Background (the first caller runs the read itself), a far
// deadline, a deadline whose fair share is shorter than BackendTimeout and
// a context that can only be cancelled (the read runs on a kept goroutine,
// so that the caller can leave when its context ends). These tests hold the read by freezing a real Redis.

// countedGets counts the Gets of keys that end with suffix (the data key
// of one cache key; the namespace generation is read with Get too).
type countedGets struct {
	backend.Backend
	suffix string
	gets   atomic.Int32
}

func (b *countedGets) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.HasSuffix(key, b.suffix) {
		b.gets.Add(1)
	}
	return b.Backend.Get(ctx, key)
}

// readCtx is one kind of caller context; backendTimeout is the cache's.
type readCtx struct {
	name string
	make func(backendTimeout time.Duration) (context.Context, context.CancelFunc)
}

var readCtxs = []readCtx{
	{"background", func(time.Duration) (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
	{"far-deadline", func(bt time.Duration) (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 6*bt) // fair share 3 BackendTimeouts: the read would end within it
	}},
	{"near-deadline", func(bt time.Duration) (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 3*bt/2) // fair share 3/4 BackendTimeout: hands the read off
	}},
	{"cancel", func(time.Duration) (context.Context, context.CancelFunc) {
		return context.WithCancel(context.Background())
	}},
}

// readFrame matches memo's read in a goroutine's stack.
var readFrame = regexp.MustCompile(`memo\.\(\*Cache\[[^\n]*\]\)\.read\(`)

// parkedInRead counts the goroutines parked (on a channel, a select or
// the network) inside memo's read: callers that joined or run a read.
func parkedInRead() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		parked := strings.Contains(header, "[select") || strings.Contains(header, "[chan receive") || strings.Contains(header, "[IO wait")
		if parked && readFrame.MatchString(g) {
			count++
		}
	}
	return count
}

// sharedReadNode is a cache over a server of its own, counting the Gets of
// "shared"'s data key, with "shared" stored and BackendTimeout bt.
func sharedReadNode(t *testing.T, bt time.Duration) (*redistest.Server, *memo.Cache[string], *countedGets) {
	t.Helper()
	s := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	gb, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &countedGets{Backend: gb, suffix: ":shared"}
	c := newCache[string](t, b, &memo.Options{BackendTimeout: bt, BreakerThreshold: -1, Logger: discardLogger()})
	if err := c.Set(t.Context(), "shared", "stored"); err != nil {
		t.Fatal(err)
	}
	b.gets.Store(0)
	return s, c, b
}

type readOutcome struct {
	who string
	v   string
	err error
}

// startGet runs a Get of "shared" under a context of kind k and sends its
// outcome to out; cancel ends the context.
func startGet(c *memo.Cache[string], k readCtx, bt time.Duration, load memo.LoadFunc[string], out chan<- readOutcome) (cancel context.CancelFunc) {
	ctx, cancel := k.make(bt)
	go func() {
		v, err := c.Get(ctx, "shared", load)
		out <- readOutcome{k.name, v, err}
	}()
	return cancel
}

// TestOneReadForEveryContext: concurrent Gets of one key, with every kind
// of context and whichever kind comes first, share one backend read.
func TestOneReadForEveryContext(t *testing.T) {
	checkGoroutines(t)
	const bt = 10 * time.Second // the read is held far longer than the test takes
	s, c, b := sharedReadNode(t, bt)
	load := func(context.Context) (string, error) { return "loaded", nil }
	for _, first := range readCtxs {
		t.Run("first="+first.name, func(t *testing.T) {
			b.gets.Store(0)
			s.Pause(t)
			out := make(chan readOutcome, 1+4*len(readCtxs))
			var cancels []context.CancelFunc
			defer func() {
				for _, cancel := range cancels {
					cancel()
				}
			}()
			cancels = append(cancels, startGet(c, first, bt, load, out))
			waitUntil(t, 10*time.Second, "the first caller reading", func() bool { return parkedInRead() == 1 })
			for range 4 {
				for _, k := range readCtxs {
					cancels = append(cancels, startGet(c, k, bt, load, out))
				}
			}
			n := 1 + 4*len(readCtxs)
			waitUntil(t, 10*time.Second, "every caller waiting for the read", func() bool { return parkedInRead() == n })
			if g := b.gets.Load(); g != 1 {
				t.Fatalf("%d backend reads of one key for %d callers, want 1", g, n)
			}
			s.Resume(t)
			for range n {
				if r := <-out; r.err != nil || r.v != "stored" {
					t.Errorf("%s caller: Get = %q, %v; want the stored value", r.who, r.v, r.err)
				}
			}
			if g := b.gets.Load(); g != 1 {
				t.Fatalf("%d backend reads of one key for %d callers, want 1", g, n)
			}
		})
	}
	if l := c.Stats().Loads; l != 0 {
		t.Fatalf("%d loads, want 0 (every caller had a hit)", l)
	}
}

// TestReadLeaderLeaves: the first caller of a read, whose context can end
// (even one whose deadline is far: it can be cancelled before it) and
// whose read therefore runs on another goroutine, leaves (cancelled)
// while the read is held: it returns at once, and the callers that joined
// the read get its value when it ends, without a second read.
func TestReadLeaderLeaves(t *testing.T) {
	checkGoroutines(t)
	const bt = 10 * time.Second
	s, c, b := sharedReadNode(t, bt)
	load := func(context.Context) (string, error) { return "loaded", nil }
	for _, first := range readCtxs[1:] { // far-deadline, near-deadline, cancel
		t.Run("first="+first.name, func(t *testing.T) {
			b.gets.Store(0)
			s.Pause(t)
			resumed := false
			defer func() {
				if !resumed {
					s.Resume(t)
				}
			}()
			leader := make(chan readOutcome, 1)
			cancelLeader := startGet(c, first, bt, load, leader)
			defer cancelLeader()
			waitUntil(t, 10*time.Second, "the first caller reading", func() bool { return parkedInRead() == 1 })
			out := make(chan readOutcome, len(readCtxs))
			for _, k := range readCtxs {
				cancel := startGet(c, k, bt, load, out)
				defer cancel()
			}
			waitUntil(t, 10*time.Second, "every caller waiting for the read", func() bool { return parkedInRead() == 1+len(readCtxs) })
			cancelLeader()
			select {
			case r := <-leader:
				if !errors.Is(r.err, context.Canceled) {
					t.Fatalf("cancelled first caller: Get = %q, %v; want context.Canceled", r.v, r.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("cancelled first caller still waiting for the frozen backend")
			}
			s.Resume(t)
			resumed = true
			for range readCtxs {
				if r := <-out; r.err != nil || r.v != "stored" {
					t.Errorf("%s caller: Get = %q, %v; want the stored value (the first caller left)", r.who, r.v, r.err)
				}
			}
			if g := b.gets.Load(); g != 1 {
				t.Fatalf("%d backend reads of one key, want 1", g)
			}
		})
	}
	if l := c.Stats().Loads; l != 0 {
		t.Fatalf("%d loads, want 0", l)
	}
}

// TestFrozenReadEveryContext: with Redis frozen and BackendTimeout at its
// default, callers of the same keys with every kind of context, coming in
// any order, return by their own bounds: a 60 ms budget gets the loaded
// value within it (it waits 30 ms for the read); a 2 s budget within
// BackendTimeout (the read's bound) and its load; a context that can only
// be cancelled, cancelled after 30 ms, by then; and a 2 s budget cancelled
// after 30 ms by then too, long before the read's bound: no caller whose
// context can end waits on the read itself (see read).
func TestFrozenReadEveryContext(t *testing.T) {
	checkGoroutines(t)
	s := redistest.Start(t)
	n := newNode[string](t, s.Addr, memo.Options{Namespace: "frozen-ctx", BreakerThreshold: -1,
		Locker: memo.LockerFunc(noLock), Logger: discardLogger()})
	load := func(context.Context) (string, error) { return "loaded", nil }
	if _, err := n.cache.Get(t.Context(), "warm", load); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	defer s.Resume(t)
	const backendTimeout = 250 * time.Millisecond // memo's default
	const short, long, cancelAfter = 60 * time.Millisecond, 2 * time.Second, 30 * time.Millisecond
	slack := slack()
	type kind struct {
		budget    time.Duration // 0: none
		cancelled bool          // cancelled after cancelAfter
		limit     time.Duration
	}
	kinds := []kind{
		{budget: short, limit: short + slack},
		{budget: long, limit: backendTimeout + slack},
		{cancelled: true, limit: cancelAfter + slack},
		{budget: long, cancelled: true, limit: cancelAfter + slack},
	}
	withinBudget(t, func(attempt int) []frozenGet {
		const keys, perKind = 8, 5
		out := make([]frozenGet, keys*perKind*len(kinds))
		var wg sync.WaitGroup
		for i := range out {
			k := kinds[(i+attempt)%len(kinds)] // which kind comes first varies with the key and the attempt
			key := fmt.Sprint(attempt, "k", i%keys)
			wg.Go(func() {
				t0 := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				if k.budget > 0 {
					ctx, cancel = context.WithTimeout(context.Background(), k.budget)
				}
				defer cancel()
				if k.cancelled {
					time.AfterFunc(cancelAfter, cancel)
				}
				g := &out[i]
				g.v, g.err = n.cache.Get(ctx, key, load)
				g.took = time.Since(t0)
				loaded := g.err == nil && g.v == "loaded"
				switch {
				case g.took > k.limit:
					g.err = fmt.Errorf("took %v, want at most %v (budget %v, cancelled %v; %q, %v)", g.took, k.limit, k.budget, k.cancelled, g.v, g.err)
				case k.cancelled && !loaded && !errors.Is(g.err, context.Canceled):
					g.err = fmt.Errorf("cancelled caller: got %q, %v; want context.Canceled or the loaded value", g.v, g.err)
				case !k.cancelled && !loaded:
					g.err = fmt.Errorf("budget %v: got %q, %v; want the loaded value", k.budget, g.v, g.err)
				default:
					g.err = nil
				}
			})
		}
		wg.Wait()
		return out
	}, func(g frozenGet) bool { return g.err == nil }, "Gets with every kind of context on frozen Redis")
}

// panicOnGet is a backend whose Get of a key ending with suffix waits
// for release, then panics (a backend's bug).
type panicOnGet struct {
	backend.Backend
	suffix  string
	release chan struct{}
}

func (b *panicOnGet) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.HasSuffix(key, b.suffix) {
		<-b.release
		panic("backend bug")
	}
	return b.Backend.Get(ctx, key)
}

// TestReadPanicFreesJoiners: a backend read that panics on its first
// caller's goroutine panics there (as the backend's own call would); run
// on a goroutine of the readers (its first caller can leave), the panic is
// logged there. Either way the callers that joined it get an error, not
// a wait without end (or a panic of their own, x/sync/singleflight's; or
// the end of the process, its DoChan's): they load.
func TestReadPanicFreesJoiners(t *testing.T) {
	checkGoroutines(t)
	load := func(context.Context) (string, error) { return "loaded", nil }
	for _, first := range []readCtx{readCtxs[0], readCtxs[3]} { // background, cancel
		t.Run("first="+first.name, func(t *testing.T) {
			b := &panicOnGet{Backend: newMemory(t, nil), suffix: ":shared", release: make(chan struct{})}
			c := newCache[string](t, b, &memo.Options{Logger: discardLogger()})
			leader := make(chan readOutcome, 1)
			var panicked atomic.Value
			go func() {
				defer func() {
					if p := recover(); p != nil {
						panicked.Store(p)
						leader <- readOutcome{who: first.name}
					}
				}()
				ctx, cancel := first.make(time.Second)
				defer cancel()
				v, err := c.Get(ctx, "shared", load)
				leader <- readOutcome{first.name, v, err}
			}()
			waitUntil(t, 10*time.Second, "the first caller reading", func() bool { return parkedInRead() == 1 })
			out := make(chan readOutcome, len(readCtxs))
			for _, k := range readCtxs {
				cancel := startGet(c, k, time.Second, load, out)
				defer cancel()
			}
			waitUntil(t, 10*time.Second, "every caller waiting for the read", func() bool { return parkedInRead() == 1+len(readCtxs) })
			close(b.release)
			r := <-leader
			switch ran := first.name == "background"; {
			case ran && panicked.Load() == nil:
				t.Fatalf("the first caller's Get = %q, %v; want its backend's panic", r.v, r.err)
			case !ran && (r.err != nil || r.v != "loaded"):
				t.Fatalf("the first caller's Get = %q, %v (panic %v); want the loaded value", r.v, r.err, panicked.Load())
			}
			for range readCtxs {
				if r := <-out; r.err != nil || r.v != "loaded" {
					t.Errorf("%s caller: Get = %q, %v; want the loaded value", r.who, r.v, r.err)
				}
			}
		})
	}
}

// TestReadsLeaveOnCancel: with Redis frozen, a GetMany, Peek or TTL whose
// context is cancelled before its deadline (or that has none: a net/http
// request's) returns at its cancellation with context.Canceled, not when
// the read gives up at BackendTimeout (go-redis does not stop a read on a
// cancellation; the read runs on a kept goroutine). A GetMany with a
// context that cannot end still gets its keys loaded after BackendTimeout.
func TestReadsLeaveOnCancel(t *testing.T) {
	checkGoroutines(t)
	s := redistest.Start(t)
	n := newNode[string](t, s.Addr, memo.Options{Namespace: "frozen-reads", BreakerThreshold: -1,
		Locker: memo.LockerFunc(noLock), Logger: discardLogger()})
	load := func(_ context.Context, keys []string) (map[string]string, error) {
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[k] = "loaded"
		}
		return m, nil
	}
	if _, err := n.cache.GetMany(t.Context(), []string{"warm"}, load); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func(ctx context.Context, key string) (any, error){
		"GetMany": func(ctx context.Context, key string) (any, error) {
			return n.cache.GetMany(ctx, []string{key + "a", key + "b"}, load)
		},
		"Peek": func(ctx context.Context, key string) (any, error) {
			v, _, err := n.cache.Peek(ctx, key)
			return v, err
		},
		"TTL": func(ctx context.Context, key string) (any, error) { return n.cache.TTL(ctx, key) },
	}
	s.Pause(t)
	defer s.Resume(t)
	const backendTimeout = 250 * time.Millisecond // memo's default
	const cancelAfter = 30 * time.Millisecond
	limit := cancelAfter + slack()
	budgets := []time.Duration{0, 2 * time.Second} // 0: cancel only
	for name, read := range reads {
		withinBudget(t, func(attempt int) []frozenGet {
			out := make([]frozenGet, len(budgets))
			var wg sync.WaitGroup
			for i, budget := range budgets {
				wg.Go(func() {
					ctx, cancel := context.WithCancel(context.Background())
					if budget > 0 {
						ctx, cancel = context.WithTimeout(context.Background(), budget)
					}
					defer cancel()
					time.AfterFunc(cancelAfter, cancel)
					t0 := time.Now()
					v, err := read(ctx, fmt.Sprint(attempt, "k", i))
					g := &out[i]
					g.took = time.Since(t0)
					switch {
					case g.took > limit:
						g.err = fmt.Errorf("%s, budget %v cancelled after %v: took %v, want at most %v (%v, %v)", name, budget, cancelAfter, g.took, limit, v, err)
					case !errors.Is(err, context.Canceled):
						g.err = fmt.Errorf("%s, budget %v cancelled: = %v, %v; want context.Canceled", name, budget, v, err)
					}
				})
			}
			wg.Wait()
			return out
		}, func(g frozenGet) bool { return g.err == nil }, "cancelled "+name+" on frozen Redis")
	}

	t0 := time.Now()
	m, err := n.cache.GetMany(context.Background(), []string{"bg1", "bg2"}, load)
	if err != nil || len(m) != 2 || m["bg1"] != "loaded" {
		t.Fatalf("GetMany with context.Background on frozen Redis = %v, %v; want both keys loaded", m, err)
	}
	if took := time.Since(t0); took < backendTimeout/2 {
		t.Fatalf("GetMany with context.Background took %v: the read was not tried", took)
	}
}
