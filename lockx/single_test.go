package lockx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
)

// TestSingleNodeScriptCacheFlushed: a Locker over one server sends its
// scripts by SHA; after SCRIPT FLUSH (a restart, a failover to a replica
// that never ran them) every operation falls back to the script source
// and still has its meaning: grant, extension, release, and ErrLost for a
// lock that is gone.
func TestSingleNodeScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	admin := s.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second) // Lock retries a failing server
	defer cancel()
	l := mustLocker(t)(New(s.Client(t), withPrefix(t, nil)))
	flush := func() {
		t.Helper()
		if err := admin.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
	}

	flush()
	lk, err := l.Lock(ctx, "a")
	if err != nil {
		t.Fatalf("Lock after SCRIPT FLUSH = %v", err)
	}
	if lk.Token() <= 0 {
		t.Errorf("Token = %d, want a minted token", lk.Token())
	}
	if _, err := l.TryLock(ctx, "a"); !errors.Is(err, ErrNotObtained) {
		t.Errorf("TryLock of a held lock = %v, want ErrNotObtained", err)
	}
	flush()
	before := lk.Until()
	if err := lk.Extend(ctx); err != nil {
		t.Fatalf("Extend after SCRIPT FLUSH = %v", err)
	}
	if !lk.Until().After(before) {
		t.Errorf("Until after Extend = %v, want after %v", lk.Until(), before)
	}
	flush()
	if err := lk.Unlock(ctx); err != nil {
		t.Fatalf("Unlock after SCRIPT FLUSH = %v", err)
	}
	if n, err := admin.Exists(ctx, l.key("a")).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS lock key after Unlock = %d, %v; want 0", n, err)
	}

	lost, err := l.Lock(ctx, "b")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	if err := admin.Del(ctx, l.key("b")).Err(); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	flush()
	if err := lost.Extend(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("Extend of a deleted lock = %v, want ErrLost", err)
	}
	if err := lost.Unlock(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("Unlock of a deleted lock = %v, want ErrLost", err)
	}
}

// TestSingleNodeContextErrors: an operation whose context has ended says
// so (errors.Is ctx.Err()), on the one-node path as on Redlock's.
func TestSingleNodeContextErrors(t *testing.T) {
	t.Parallel()
	l := mustLocker(t)(New(redistest.Shared(t).Client(t), withPrefix(t, nil)))
	ctx := t.Context()
	lk, err := l.Lock(ctx, "x")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	defer lk.Unlock(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := lk.Extend(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Extend with a cancelled context = %v, want context.Canceled", err)
	}
	if _, _, err := l.TryAcquire(cctx, "y"); !errors.Is(err, context.Canceled) {
		t.Errorf("TryAcquire with a cancelled context = %v, want context.Canceled", err)
	}
	if err := lk.Err(); err != nil {
		t.Errorf("Err after a cancelled Extend = %v, want nil (the lock is still held)", err)
	}
}
