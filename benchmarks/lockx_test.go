package benchmarks

import (
	"context"
	"testing"

	"github.com/go-redsync/redsync/v4"
	rsgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/lockx"
)

// BenchmarkLockUnlock: an uncontended Lock+Unlock through lockx (fencing
// token minted with the grant, watchdog goroutine) against a raw redsync
// Mutex on the same server. Issue 3's target: lockx ≤ 1.2× redsync.
func BenchmarkLockUnlock(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=lockx", func(b *testing.B) {
		lock := newLockxCycle(b, ctx)
		b.ReportAllocs()
		for b.Loop() {
			lock()
		}
	})
	b.Run("impl=redsync", func(b *testing.B) {
		lock := newRedsyncCycle(b, ctx)
		b.ReportAllocs()
		for b.Loop() {
			lock()
		}
	})
}

// BenchmarkLockUnlockInterleaved alternates blocks of 8 cycles of each.
func BenchmarkLockUnlockInterleaved(b *testing.B) {
	ctx := context.Background()
	interleave(b, 8, "lockx", newLockxCycle(b, ctx), "redsync", newRedsyncCycle(b, ctx))
}

func newLockxCycle(b *testing.B, ctx context.Context) func() {
	s := redistest.Shared(b)
	l, err := lockx.New(s.Client(b), &lockx.Options{Prefix: redistest.Prefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		lk, err := l.Lock(ctx, "k")
		if err != nil {
			b.Fatal(err)
		}
		if err := lk.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func newRedsyncCycle(b *testing.B, ctx context.Context) func() {
	s := redistest.Shared(b)
	rs := redsync.New(rsgoredis.NewPool(s.Client(b)))
	name := redistest.Prefix(b) + "k"
	return func() {
		m := rs.NewMutex(name) // one Mutex per acquisition, as redsync requires
		if err := m.LockContext(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := m.UnlockContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
