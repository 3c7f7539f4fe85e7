package lockx

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestLockSharedByGoroutines: one *Lock used by several goroutines at once
// (Extend, Until, Err, Unlock) is race-free, and exactly one Unlock wins.
func TestLockSharedByGoroutines(t *testing.T) {
	t.Parallel()
	l, err := NewLocal(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		lk, err := l.Lock(ctx, "shared")
		if err != nil {
			t.Fatalf("Lock = %v", err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_ = lk.Extend(ctx)
				_ = lk.Until()
				_ = lk.Err()
				switch err := lk.Unlock(ctx); {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, ErrUnlocked):
					t.Errorf("Unlock = %v, want nil or ErrUnlocked", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d Unlocks succeeded, want exactly 1", round, wins.Load())
		}
	}
}

func TestEmptyNameIsInvalid(t *testing.T) {
	t.Parallel()
	l, _ := NewLocal(nil)
	if _, err := l.Lock(context.Background(), ""); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Lock(\"\") = %v, want ErrInvalidName", err)
	}
	if _, err := l.TryLock(context.Background(), ""); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("TryLock(\"\") = %v, want ErrInvalidName", err)
	}
}
