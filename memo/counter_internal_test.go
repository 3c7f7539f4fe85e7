package memo

import (
	"sync"
	"testing"
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
