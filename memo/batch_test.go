package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
