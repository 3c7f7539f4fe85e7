package lockx

import (
	"context"
	"testing"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
)

// BenchmarkLockUnlock compares an uncontended Lock+Unlock through lockx
// (default options: token minting, watchdog goroutine) with a raw redsync
// Mutex (one per acquisition, as redsync requires) on the same server.
func BenchmarkLockUnlock(b *testing.B) {
	s := redistest.Shared(b)
	ctx := context.Background()
	b.Run("lockx", func(b *testing.B) {
		l, err := New(s.Client(b), &Options{Prefix: "bench.lockx:"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			lk, err := l.Lock(ctx, "k")
			if err != nil {
				b.Fatal(err)
			}
			if err := lk.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("redsync", func(b *testing.B) {
		rs := redsync.New(goredis.NewPool(s.Client(b)))
		b.ReportAllocs()
		for b.Loop() {
			m := rs.NewMutex("bench.redsync:k")
			if err := m.LockContext(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := m.UnlockContext(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
