package lockx

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStatsCountAcquisitionsContentionWaitsAndLoss(t *testing.T) {
	t.Parallel()
	// The lease outlasts the 20 ms Lock below by far: with 50 ms it had
	// run out before that Lock on a loaded machine, which then got it.
	l, err := NewLocal(&Options{TTL: heldTTL, DisableWatchdog: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	lk, err := l.Lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.TryLock(ctx, "a"); !errors.Is(err, ErrNotObtained) {
		t.Fatalf("TryLock(held) = %v, want ErrNotObtained", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.Lock(wctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock(held, 20ms) = %v, want DeadlineExceeded", err)
	}
	<-lk.Done() // the lease runs out without a watchdog
	if err := lk.Err(); !errors.Is(err, ErrLost) {
		t.Fatalf("Err() = %v, want ErrLost", err)
	}
	lk2, err := l.Lock(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := lk2.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	s := l.Stats()
	if s.Acquired != 2 || s.Failed != 2 || s.Waits != 1 || s.Lost != 1 {
		t.Errorf("Stats() = %+v, want Acquired 2, Failed 2, Waits 1, Lost 1 (an Unlock is not a loss)", s)
	}
	if s.Contended < 2 {
		t.Errorf("Stats().Contended = %d, want ≥ 2 (one TryLock, at least one Lock attempt)", s.Contended)
	}
	if s.WaitTime <= 0 || s.WaitTime > time.Second {
		t.Errorf("Stats().WaitTime = %v, want within (0, 1s]", s.WaitTime)
	}
}
