package memo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// countingLoader loads "<key>:v1", counting loads per key and the peak of
// concurrent loads.
type countingLoader struct {
	mu    sync.Mutex
	loads map[string]int
	cur   atomic.Int32
	peak  atomic.Int32
}

func (l *countingLoader) load(key string) memo.LoadFunc[string] {
	return func(context.Context) (string, error) {
		n := l.cur.Add(1)
		defer l.cur.Add(-1)
		for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
		}
		l.mu.Lock()
		l.loads[key]++
		l.mu.Unlock()
		time.Sleep(2 * time.Millisecond) // the origin's work
		return key + ":v1", nil
	}
}

// reset returns the loads per key so far and starts counting afresh.
func (l *countingLoader) reset() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.loads
	l.loads = map[string]int{}
	return out
}

// hammer runs workers that Get random keys of the set until d has passed,
// and returns how many Gets returned the right value.
func hammer(c *memo.Cache[string], l *countingLoader, workers, keys int, d time.Duration) int64 {
	var ok atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				k := fmt.Sprint("key", rand.IntN(keys))
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				if v, err := c.Get(ctx, k, l.load(k)); err == nil && v == k+":v1" {
					ok.Add(1)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	return ok.Load()
}

// TestOutageLoadsOncePerKey: while Redis is frozen or dead, a loaded value
// that cannot be stored is kept on the node (in L1, or a small holding
// area without L1) and Gets are coalesced, so the origin sees at most two
// loads per key instead of one per Get; after recovery, at most 1.1 loads
// per distinct key; the loader concurrency limit holds throughout.
func TestOutageLoadsOncePerKey(t *testing.T) {
	const keys, workers, maxLoads = 50, 16, 4
	for _, tc := range []struct {
		name   string
		l1     int
		outage func(*redistest.Server, testing.TB)
		back   func(*redistest.Server, testing.TB)
	}{
		{"frozen/noL1", 0, (*redistest.Server).Pause, (*redistest.Server).Resume},
		{"killed/L1", 1000, (*redistest.Server).Kill, (*redistest.Server).Restart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			s := redistest.Start(t)
			n := newNode[string](t, s.Addr, memo.Options{Namespace: "outage", L1Size: tc.l1,
				MaxConcurrentLoads: maxLoads, Logger: discardLogger()})
			l := &countingLoader{loads: map[string]int{}}
			if _, err := n.cache.Get(t.Context(), "warm", l.load("warm")); err != nil {
				t.Fatal(err)
			}
			l.reset()

			tc.outage(s, t)
			served := hammer(n.cache, l, workers, keys, 1500*time.Millisecond)
			during := l.reset()
			for k, c := range during {
				if c > 2 {
					t.Errorf("%s loaded %d times during the outage, want ≤ 2", k, c)
				}
			}
			if served == 0 {
				t.Errorf("no Get was served during the outage")
			}

			tc.back(s, t)
			hammer(n.cache, l, workers, keys, 1500*time.Millisecond)
			total := 0
			for _, c := range l.reset() {
				total += c
			}
			// Recovery costs at most one load per key (Redis restarts
			// empty; a subscription gap flushes the L1) and a few more for
			// loads in flight when the gap lands. It was 1.0-1.32x while
			// the generation lost in the restart was replaced under the
			// loads in flight (stored under the old one, reloaded under
			// the new; see TestRenameKeepsLoadsInFlight), and 67-758
			// without held values.
			if limit := keys * 11 / 10; total > limit {
				t.Errorf("%d loads for %d keys on recovery, want ≤ %d", total, keys, limit)
			}
			if p := l.peak.Load(); p > maxLoads {
				t.Errorf("peak concurrent loads = %d, want ≤ MaxConcurrentLoads %d", p, maxLoads)
			}
			t.Logf("outage: %d Gets served, %d keys loaded; recovery: %d loads", served, len(during), total)
		})
	}
}

// TestRenameKeepsLoadsInFlight: when the namespace generation key vanishes
// (a Redis restart without persistence, an eviction) the node moves to a
// new generation and keeps what it holds; a load that began under the old
// generation and ends after the move is stored under the new one, where
// Gets look, instead of where nothing reads it any more (every load in
// flight during the move was repeated: up to 1.3x loads per key on
// recovery in TestOutageLoadsOncePerKey).
func TestRenameKeepsLoadsInFlight(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	rc := s.Client(t)
	ctx := t.Context()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	ns := redistest.Prefix(t)
	n := newNode[string](t, s.Addr, memo.Options{Namespace: ns, Locker: memo.LockerFunc(noLock),
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	genKey := memo.GenerationKey(ns, 1)
	old, err := rc.Get(ctx, genKey).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", genKey, err)
	}

	started, release := make(chan struct{}), make(chan struct{})
	got := make(chan error, 1)
	go func() {
		v, err := n.cache.Get(ctx, "a", func(context.Context) (string, error) {
			close(started)
			<-release
			return "a:v1", nil
		})
		if err == nil && v != "a:v1" {
			err = fmt.Errorf("Get(a) = %q, want a:v1", v)
		}
		got <- err
	}()
	<-started

	// The generation key vanishes; the node notices at its next read of
	// it (at most a second apart) and moves to a new generation.
	if err := rc.Del(ctx, genKey).Err(); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(1100 * time.Millisecond))
	probe := func(context.Context) (string, error) { return "p", nil }
	var gen uint64
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		// Each probe key is stored under the generation the node uses.
		p := fmt.Sprint("probe", i)
		if _, err := n.cache.Get(ctx, p, probe); err != nil {
			t.Fatal(err)
		}
		if now, err := rc.Get(ctx, genKey).Result(); err == nil && now != old {
			g, err := memo.ParseGeneration([]byte(now))
			if err != nil {
				t.Fatal(err)
			}
			if rc.Exists(ctx, memo.DataKey(ns, 1, g, p)).Val() == 1 {
				gen = g
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the node did not move to a new generation")
		}
		time.Sleep(5 * time.Millisecond)
	}

	close(release)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if rc.Exists(ctx, memo.DataKey(ns, 1, gen, "a")).Val() != 1 {
		t.Errorf("the load that spanned the move is not stored under the new generation")
	}
	var loads atomic.Int32
	if _, err := n.cache.Get(ctx, "a", func(context.Context) (string, error) { loads.Add(1); return "a:v1", nil }); err != nil {
		t.Fatal(err)
	}
	if l := loads.Load(); l != 0 {
		t.Errorf("Get(a) after the move loaded %d times, want 0 (the value is stored)", l)
	}
}
