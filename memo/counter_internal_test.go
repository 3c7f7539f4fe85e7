package memo

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestHitCounterExact: concurrent increments are all counted.
func TestHitCounterExact(t *testing.T) {
	var c hitCounter
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.add(int64(i))
			}
		}()
	}
	wg.Wait()
	if got := c.load(); got != workers*each {
		t.Fatalf("count = %d, want %d", got, workers*each)
	}
}

// BenchmarkHitCounterParallel: the L1 hit counter's increment from
// every core; run with -count 10 to see the spread across runs.
func BenchmarkHitCounterParallel(b *testing.B) {
	var c hitCounter
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.add(0)
		}
	})
}

// TestHitCounterReroll: a collision picks a new salt (so two goroutines
// that shared a stripe are spread again), at most once per millisecond of
// the clock it is given; the count stays exact.
func TestHitCounterReroll(t *testing.T) {
	var c hitCounter
	const ms = int64(time.Millisecond)
	stripe := &c.stripes[0].n
	salts := map[uint64]bool{c.salt.Load(): true}
	c.collided(stripe, 10*ms)
	if s := c.salt.Load(); salts[s] {
		t.Fatalf("salt after the first collision = %d, unchanged", s)
	} else {
		salts[s] = true
	}
	before := c.salt.Load()
	c.collided(stripe, 10*ms+ms/2)
	if s := c.salt.Load(); s != before {
		t.Fatalf("salt changed %v after the last change, want at most once per millisecond", time.Duration(ms/2))
	}
	c.collided(stripe, 11*ms)
	if s := c.salt.Load(); s == before {
		t.Fatal("salt unchanged a millisecond after the last change")
	}
	c.collided(stripe, 5*ms) // a clock that went back: not stuck
	if got := c.load(); got != 4 {
		t.Fatalf("count = %d, want 4 (every collided hit counted once)", got)
	}
}

// TestHitCounterSpreads: goroutine stacks hash to many stripes: 64
// goroutines alive at once use at least half of the stripes.
func TestHitCounterSpreads(t *testing.T) {
	var c hitCounter
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.add(0)
			<-release
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.load() < 64 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	used := 0
	for i := range c.stripes {
		if c.stripes[i].n.Load() > 0 {
			used++
		}
	}
	if got := c.load(); got != 64 {
		t.Fatalf("count = %d, want 64", got)
	}
	if used < hitStripes/2 {
		t.Fatalf("64 live goroutines used %d of %d stripes, want at least half", used, hitStripes)
	}
}
