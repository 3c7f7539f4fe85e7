package lockx

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// TestMemoColdLoadsLeaveNoKeyWithoutTTL is issue 9's set-up as a user
// builds it (README: lockx as memo's Locker on the cache's server): after
// N cold loads, a Clear and N more, every key in the server has a TTL
// but memo's one namespace generation. Before, each cold key left a lockx
// fence counter without one (2,000 here).
func TestMemoColdLoadsLeaveNoKeyWithoutTTL(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	client := s.Client(t)
	ctx := t.Context()
	b, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	locks, err := New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := memo.New[string](b, &memo.Options{Namespace: "cold", Locker: locks})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 1000
	load := func(context.Context) (string, error) { return "v", nil }
	for round := range 2 {
		for i := range n {
			if _, err := c.Get(ctx, fmt.Sprint("k", i), load); err != nil {
				t.Fatalf("Get = %v", err)
			}
		}
		if round == 0 {
			if err := c.Clear(ctx); err != nil {
				t.Fatalf("Clear = %v", err)
			}
		}
	}
	all, noTTL := scanTTLs(t, client)
	// memo keeps one generation counter per namespace without a TTL (its
	// Clear); that one key is memo's business, not a per-key leak.
	if len(noTTL) > 1 || len(noTTL) == 1 && noTTL[0] != "cold:v1:gen" {
		t.Errorf("%d keys without TTL, e.g. %q", len(noTTL), noTTL[0])
	}
	if len(all) < n {
		t.Fatalf("scanned %d keys, want at least the %d cached values", len(all), n)
	}
}

// TestMemoOverFrozenLockServer: memo with a lockx Locker whose server
// freezes (SIGSTOP) again and again under a stream of cold misses with
// deadlines. No Get waits past its context, every value served is right,
// and once the server is back and the Cache closed, no lock is left
// behind (grants that landed after their attempt gave up, unlocks run by
// memo's kept goroutines) and no goroutine is left either.
func TestMemoOverFrozenLockServer(t *testing.T) {
	ctx := t.Context()
	s := redistest.Start(t)
	b, err := goredis.New(redistest.Shared(t).Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := withPrefix(t, nil)
	locks := mustLocker(t)(New(s.Client(t), o))
	// Warm the lock client's pool, so attempts reach the frozen server.
	var warm sync.WaitGroup
	for i := range 8 {
		warm.Go(func() { _ = locks.Do(ctx, fmt.Sprint("warm", i), func(context.Context) error { return nil }) })
	}
	warm.Wait()
	base := runtime.NumGoroutine()
	c, err := memo.New[string](b, &memo.Options{Namespace: testPrefix(t), Locker: locks, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg         sync.WaitGroup
		stop       = make(chan struct{})
		late, gets atomic.Int32
		wrong      atomic.Value
	)
	const budget = 300 * time.Millisecond
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprint("k", g, ".", i)
				gctx, cancel := context.WithTimeout(ctx, budget)
				start := time.Now()
				v, err := c.Get(gctx, key, func(context.Context) (string, error) { return "v" + key, nil })
				cancel()
				gets.Add(1)
				if time.Since(start) > budget+300*time.Millisecond {
					late.Add(1)
				}
				if err == nil && v != "v"+key {
					wrong.Store(fmt.Sprintf("Get(%q) = %q", key, v))
				}
			}
		})
	}
	for range 3 {
		s.Pause(t)
		time.Sleep(400 * time.Millisecond) // the lock server stays frozen while the misses go on
		s.Resume(t)
		time.Sleep(100 * time.Millisecond) // and runs for a while
	}
	close(stop)
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if w := wrong.Load(); w != nil {
		t.Errorf("wrong value: %v", w)
	}
	if n := late.Load(); n > 0 {
		t.Errorf("%d of %d Gets returned later than their context (+300ms)", n, gets.Load())
	}
	admin := s.Client(t)
	deadline := time.Now().Add(3 * time.Second)
	for {
		all, noTTL := scanTTLs(t, admin)
		var held []string
		for _, k := range all {
			if strings.HasPrefix(k, o.Prefix) && !strings.Contains(k, abandonSuffix) && !strings.Contains(k, fenceSuffix) {
				held = append(held, k)
			}
		}
		if len(noTTL) > 0 {
			t.Fatalf("keys without TTL: %q", noTTL)
		}
		if len(held) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d locks still held after Close with no holder (e.g. %q): grants or unlocks were lost", len(held), held[0])
		}
		time.Sleep(10 * time.Millisecond) // polling the server: no event to wait on
	}
	t.Logf("%d Gets", gets.Load())
	waitGoroutines(t, base)
}
