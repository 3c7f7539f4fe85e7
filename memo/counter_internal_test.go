package memo

import (
	"sync"
	"testing"
)

// TestStripedCounterExact: concurrent increments are all counted.
func TestStripedCounterExact(t *testing.T) {
	var c stripedCounter
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c.add()
			}
		}()
	}
	wg.Wait()
	if got := c.load(); got != workers*each {
		t.Fatalf("count = %d, want %d", got, workers*each)
	}
}

// BenchmarkStripedCounterParallel: the L1 hit counter's increment from
// every core; run with -count 10 to see the spread across runs.
func BenchmarkStripedCounterParallel(b *testing.B) {
	var c stripedCounter
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.add()
		}
	})
}
