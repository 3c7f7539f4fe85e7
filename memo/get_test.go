package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

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
	_ = b.Scan(t.Context(), "corrupt:v1:*:k", func(k string) error { dk = k; return nil })
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

// TestCorruptEntryCountedOnce: a corrupt entry read by a Get, and read
// again by its flight's re-check, is one corrupt entry (issue 8 defect 8:
// it was counted twice).
func TestCorruptEntryCountedOnce(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	ns := fmt.Sprint("corrupt", time.Now().UnixNano())
	n := newNode[string](t, s.Addr, memo.Options{Namespace: ns, Locker: memo.LockerFunc(noLock)})
	client := s.Client(t)
	raw, err := client.Get(t.Context(), memo.GenerationKey(ns, 1)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := memo.ParseGeneration(raw)
	if err != nil {
		t.Fatal(err)
	}
	load := func(context.Context) (string, error) { return "loaded", nil }
	for i, get := range []func(key string) (string, error){
		func(key string) (string, error) { return n.cache.Get(t.Context(), key, load) },
		func(key string) (string, error) {
			m, err := n.cache.GetMany(t.Context(), []string{key}, func(context.Context, []string) (map[string]string, error) {
				return map[string]string{key: "loaded"}, nil
			})
			return m[key], err
		},
	} {
		key := fmt.Sprint("k", i)
		if err := client.Set(t.Context(), memo.DataKey(ns, 1, gen, key), "\xc1garbage", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := get(key); err != nil || v != "loaded" {
			t.Fatalf("read %d over a corrupt entry = %q, %v; want loaded", i, v, err)
		}
		if got := n.cache.Stats().CorruptEntries; got != uint64(i+1) {
			t.Fatalf("CorruptEntries = %d after %d corrupt entries were read, want %d", got, i+1, i+1)
		}
	}
}
