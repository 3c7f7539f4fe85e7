package memory

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTest returns a Backend on a fake clock, closed at the end of the test.
func newTest(t testing.TB, opts *Options) (*Backend, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Clock = clk.Now
	b, err := New(&o)
	if err != nil {
		t.Fatalf("New(%+v) error = %v", o, err)
	}
	t.Cleanup(func() { b.Close() })
	return b, clk
}

// checkInvariants verifies every shard's internal bookkeeping and bounds.
func checkInvariants(t testing.TB, b *Backend) {
	t.Helper()
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		if len(s.ring) != len(s.m) {
			t.Errorf("shard %d: len(ring) = %d, len(map) = %d", i, len(s.ring), len(s.m))
		}
		var bytes int64
		for j, e := range s.ring {
			if e.idx != j {
				t.Errorf("shard %d: ring[%d].idx = %d", i, j, e.idx)
			}
			if s.m[e.key] != e {
				t.Errorf("shard %d: ring[%d] (%q) not in map", i, j, e.key)
			}
			bytes += entrySize(e.key, len(e.value))
		}
		if bytes != s.bytes {
			t.Errorf("shard %d: bytes = %d, sum of entries = %d", i, s.bytes, bytes)
		}
		if s.bytes > s.maxBytes || len(s.m) > s.maxEntries {
			t.Errorf("shard %d: holds %d entries / %d bytes, bounds %d / %d",
				i, len(s.m), s.bytes, s.maxEntries, s.maxBytes)
		}
		s.mu.RUnlock()
	}
}
