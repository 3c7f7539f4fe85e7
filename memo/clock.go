package memo

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is a process-wide clock read with one atomic load, refreshed
// every millisecond by one goroutine that runs only while some Cache uses
// it. The L1 hit path reads it instead of time.Now, which costs 100+ ns on
// some virtual machines — more than the rest of an L1 hit.
var coarseClock struct {
	mu   sync.Mutex
	refs int
	stop chan struct{}
	now  atomic.Int64
}

const coarseResolution = time.Millisecond

// l1ExpirySlack is how long before its expiry an entry stops being served
// from L1 when L1 reads the coarse clock: several ticks of it, so a tick
// delayed by scheduling does not let an expired entry through.
const l1ExpirySlack = 5 * coarseResolution

func acquireCoarseClock() {
	c := &coarseClock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs++
	if c.refs > 1 {
		return
	}
	c.now.Store(time.Now().UnixNano())
	stop := make(chan struct{})
	c.stop = stop
	go func() {
		t := time.NewTicker(coarseResolution)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.now.Store(time.Now().UnixNano())
			case <-stop:
				return
			}
		}
	}()
}

func releaseCoarseClock() {
	c := &coarseClock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs--
	if c.refs == 0 {
		close(c.stop)
	}
}

func coarseNow() int64 { return coarseClock.now.Load() }
