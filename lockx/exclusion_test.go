package lockx

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestMutualExclusion runs 5 Lockers (own clients) × 20 goroutines doing a
// non-atomic read-modify-write of a counter under one lock.
func TestMutualExclusion(t *testing.T) {
	t.Parallel()
	const lockers, workers = 5, 20
	opts := &Options{TTL: 5 * time.Second, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: DefaultMaxRetryDelay}
	tests := []struct {
		name  string
		iters int // per worker
		new   func(t *testing.T) []*Locker
	}{
		{"local", 20, func(t *testing.T) []*Locker {
			l := mustLocker(t)(NewLocal(withPrefix(t, opts))) // local locks exclude within one Locker
			return []*Locker{l, l, l, l, l}
		}},
		{"redis", 20, func(t *testing.T) []*Locker {
			var out []*Locker
			for range lockers {
				out = append(out, mustLocker(t)(New(redistest.Shared(t).Client(t), withPrefix(t, opts))))
			}
			return out
		}},
		{"cluster", 10, func(t *testing.T) []*Locker {
			var out []*Locker
			for range lockers {
				out = append(out, mustLocker(t)(New(redistest.SharedCluster(t).Client(t), withPrefix(t, opts))))
			}
			return out
		}},
		{"redlock3", 10, func(t *testing.T) []*Locker {
			servers := redistest.StartN(t, 3)
			var out []*Locker
			for range lockers {
				var cs []redis.UniversalClient
				for _, s := range servers {
					cs = append(cs, s.Client(t))
				}
				out = append(out, mustLocker(t)(NewRedlock(cs, withPrefix(t, opts))))
			}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ls := tt.new(t)
			ctx := t.Context()
			var (
				counter atomic.Int64 // Load+Store, not Add: a race would lose updates
				inside  atomic.Int32
				res     fenced
				wg      sync.WaitGroup
				errMu   sync.Mutex
				errs    []error
			)
			report := func(err error) {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
			for i := range lockers {
				for range workers {
					wg.Go(func() {
						for range tt.iters {
							lk, err := ls[i].Lock(ctx, "counter")
							if err != nil {
								report(fmt.Errorf("Lock: %w", err))
								return
							}
							if n := inside.Add(1); n != 1 {
								report(fmt.Errorf("%d holders inside the critical section", n))
							}
							v := counter.Load()
							runtime.Gosched()
							counter.Store(v + 1)
							if !res.write(lk.Token()) {
								report(fmt.Errorf("fresh holder's write with token %d rejected", lk.Token()))
							}
							inside.Add(-1)
							if err := lk.Unlock(ctx); err != nil {
								report(fmt.Errorf("Unlock: %w", err))
							}
						}
					})
				}
			}
			wg.Wait()
			for i, err := range errs {
				if i == 5 {
					t.Fatalf("… %d errors in all", len(errs))
				}
				t.Error(err)
			}
			if len(errs) > 0 {
				t.FailNow()
			}
			want := int64(lockers * workers * tt.iters)
			if got := counter.Load(); got != want {
				t.Fatalf("counter = %d, want %d", got, want)
			}
			if len(res.tokens) != int(want) || res.rejected != 0 {
				t.Fatalf("resource accepted %d, rejected %d writes; want %d, 0", len(res.tokens), res.rejected, want)
			}
			for i := 1; i < len(res.tokens); i++ {
				if res.tokens[i] <= res.tokens[i-1] {
					t.Fatalf("token %d = %d after %d: not strictly increasing in grant order", i, res.tokens[i], res.tokens[i-1])
				}
			}
			// A write carrying any earlier token is stale and rejected.
			if res.write(res.tokens[0]) || res.write(res.tokens[len(res.tokens)-2]) {
				t.Fatalf("resource accepted a stale token")
			}
		})
	}
}

// TestPausedHolder: a holder that stops extending (paused, watchdog off)
// outlives its lease; another client acquires; the stale holder's write is
// fenced off and its Unlock reports the loss without touching the new
// holder's key.
func TestPausedHolder(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			paused := &Options{TTL: 300 * time.Millisecond, DisableWatchdog: true}
			holder := im.new(t, paused)
			other := holder
			if im.client != nil {
				// The new holder's lock must stay held to the end: heldTTL.
				other = im.new(t, &Options{TTL: heldTTL, RetryDelay: 5 * time.Millisecond})
			}
			var res fenced

			stale, err := holder.Lock(ctx, "res")
			if err != nil {
				t.Fatalf("holder Lock = %v", err)
			}
			if !res.write(stale.Token()) {
				t.Fatalf("holder's first write rejected")
			}
			// The holder is "paused": nothing extends its lease.
			select {
			case <-stale.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("Done not closed after the lease ran out")
			}
			fresh, err := other.Lock(ctx, "res")
			if err != nil {
				t.Fatalf("other Lock after the lease ran out = %v", err)
			}
			if fresh.Token() <= stale.Token() {
				t.Fatalf("new token %d <= stale token %d", fresh.Token(), stale.Token())
			}
			if !res.write(fresh.Token()) {
				t.Fatalf("new holder's write rejected")
			}
			// The paused holder resumes and writes: fenced off.
			if res.write(stale.Token()) {
				t.Fatalf("stale holder's write with token %d accepted after token %d", stale.Token(), fresh.Token())
			}
			if err := stale.Unlock(ctx); !errors.Is(err, ErrLost) {
				t.Fatalf("stale Unlock = %v, want ErrLost", err)
			}
			if im.client != nil {
				if n, err := im.client(t).Exists(ctx, other.key("res")).Result(); err != nil || n != 1 {
					t.Fatalf("new holder's key EXISTS = %d, %v after stale Unlock; want 1", n, err)
				}
			}
			if err := fresh.Extend(ctx); err != nil {
				t.Fatalf("new holder Extend after stale Unlock = %v", err)
			}
			if err := fresh.Unlock(ctx); err != nil {
				t.Fatalf("new holder Unlock = %v", err)
			}
		})
	}
}
