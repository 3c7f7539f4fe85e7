package memo_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

// slowRead is a memory backend whose GetMany takes the time advance() says
// (a fake clock moved forward once the read has been answered).
type slowRead struct {
	*memory.Backend
	advance func()
}

func (s slowRead) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	v, err := s.Backend.GetMany(ctx, keys)
	s.advance()
	return v, err
}

// TestGetManyJudgesFreshnessAfterTheRead: GetMany reads the clock once per
// batch, and after the backend's answer: values whose TTL ran out while a
// slow backend read was under way are not served as fresh, they are
// loaded again.
func TestGetManyJudgesFreshnessAfterTheRead(t *testing.T) {
	clk := newClock()
	var slow atomic.Bool
	b := slowRead{Backend: newMemory(t, clk), advance: func() {
		if slow.Load() {
			clk.Advance(2 * time.Minute)
		}
	}}
	c := newCache[string](t, b, &memo.Options{TTL: time.Minute, Jitter: -1, Now: clk.Now})
	keys := []string{"a", "b", "c"}
	load := func(v string) memo.BatchLoadFunc[string] {
		return func(_ context.Context, ks []string) (map[string]string, error) {
			m := make(map[string]string, len(ks))
			for _, k := range ks {
				m[k] = v + k
			}
			return m, nil
		}
	}
	ctx := t.Context()
	if got, err := c.GetMany(ctx, keys, load("old-")); err != nil || got["b"] != "old-b" {
		t.Fatalf("GetMany = %v, %v", got, err)
	}
	clk.Advance(50 * time.Second) // 10s of TTL left
	slow.Store(true)              // the next read takes 2 minutes
	got, err := c.GetMany(ctx, keys, load("new-"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if got[k] != "new-"+k {
			t.Fatalf("GetMany[%s] = %q after a read that outlasted its TTL, want it loaded again (%q)", k, got[k], "new-"+k)
		}
	}
}
