package memo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
)

// TestBreakerProbePanics: a backend call that panics while it is the
// half-open breaker's probe (a backend's bug) counts as a failed probe, so
// the breaker probes again after the next cooldown. Before, the probe was
// never settled and the breaker stayed open for good: every later call
// was refused (a FailClosed cache down for the life of the process). Both
// ways a call reaches the backend are tried: callThrough (Peek, writes,
// GetMany) and the shared read of Get (runRead).
func TestBreakerProbePanics(t *testing.T) {
	mb, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mb.Close() })
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	pb := &panickyBackend{Backend: mb}
	c, err := New[string](pb, &Options{Namespace: "probe-panic", BreakerThreshold: 1, BreakerCooldown: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	panicking := func(context.Context) error { panic("backend bug") }
	calls := map[string]func(){
		"callThrough": func() { _ = c.call(context.Background(), panicking) },
		"runRead": func() {
			call, _ := c.reads.join("probe-panic:k", false)
			pb.panics.Store(true)
			defer pb.panics.Store(false)
			c.runRead(call, context.Background(), "probe-panic:k")
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			c.settle(nil, errors.New("down")) // one failure opens the breaker
			if !c.breaker.isOpen() {
				t.Fatal("breaker not open after a failure")
			}
			advance(2 * time.Minute)
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the probe's panic did not reach its caller")
					}
				}()
				call() // the half-open breaker's probe, which panics
			}()
			if c.breaker.allow() {
				t.Fatal("a call was allowed right after the failed probe: it should wait a cooldown")
			}
			advance(2 * time.Minute)
			if !c.breaker.allow() {
				t.Fatal("no probe allowed a cooldown after the probe panicked: the breaker is stuck open")
			}
			c.settle(nil, nil) // the probe succeeds: closed again
			if c.breaker.isOpen() {
				t.Fatal("breaker still open after a successful probe")
			}
		})
	}
}

// panickyBackend is a backend whose Gets panic while panics is set.
type panickyBackend struct {
	backend.Backend
	panics atomic.Bool
}

func (b *panickyBackend) Get(ctx context.Context, key string) ([]byte, error) {
	if b.panics.Load() {
		panic("backend bug")
	}
	return b.Backend.Get(ctx, key)
}
