//go:build !race

package lockx

import (
	"context"
	"testing"

	"github.com/cachekit/cachekit/internal/redistest"
)

// TestLockUnlockAllocs bounds the allocations of an uncontended fenced
// Lock+Unlock on one Redis server (BenchmarkLockUnlock): 72 before fencing,
// abandon markers and stats came in, 80 after, 70 since, 47 since one node
// is driven without redsync's per-command goroutines (redsync alone: 39).
// Allocations are the stable number on a loaded machine; the race detector
// allocates, hence the build tag.
func TestLockUnlockAllocs(t *testing.T) {
	const limit = 50
	if oneNodeViaRedsync {
		t.Skip("LOCKX_ONE_NODE_REDSYNC: the limit is the one-node driver's")
	}
	s := redistest.Shared(t)
	l, err := New(s.Client(t), &Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cycle := func() {
		lk, err := l.Lock(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if err := lk.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // scripts loaded, connections dialled
	if n := testing.AllocsPerRun(200, cycle); n > limit {
		t.Errorf("Lock+Unlock allocates %.1f times, want ≤ %d", n, limit)
	}
}
