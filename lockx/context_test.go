package lockx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
)

func TestLockContextEnds(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			l := im.new(t, nil)
			held, err := l.Lock(ctx, "busy")
			if err != nil {
				t.Fatalf("Lock = %v", err)
			}
			defer held.Unlock(ctx)

			const wait = 300 * time.Millisecond
			dctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			start := time.Now()
			_, err = l.Lock(dctx, "busy")
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrNotObtained) {
				t.Errorf("Lock with %v context = %v, want DeadlineExceeded and ErrNotObtained", wait, err)
			}
			if took < wait || took > wait+DefaultMaxRetryDelay {
				t.Errorf("Lock returned after %v, want within one retry delay (%v) of %v", took, DefaultMaxRetryDelay, wait)
			}

			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(50*time.Millisecond, cancel)
			if _, err := l.Lock(cctx, "busy"); !errors.Is(err, context.Canceled) {
				t.Errorf("Lock with cancelled context = %v, want context.Canceled", err)
			}
			if _, err := l.Lock(cctx, "free"); !errors.Is(err, context.Canceled) {
				t.Errorf("Lock with already-cancelled context = %v, want context.Canceled", err)
			}
			if err := l.Do(cctx, "free", func(context.Context) error { return nil }); !errors.Is(err, context.Canceled) {
				t.Errorf("Do with cancelled context = %v, want context.Canceled", err)
			}
		})
	}
}

// TestFrozenServer: with the server stopped by SIGSTOP, Lock with a 1s
// context returns after about 1s, and Unlock of a held lock returns within
// its own detached timeout with a quorum error.
func TestFrozenServer(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	l := mustLocker(t)(New(s.Client(t), withPrefix(t, nil)))
	ctx := t.Context()
	held, err := l.Lock(ctx, "held")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	s.Pause(t)
	defer s.Resume(t)

	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	_, err = l.Lock(dctx, "frozen")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on frozen server = %v, want DeadlineExceeded", err)
	}
	if took < 900*time.Millisecond || took > 1500*time.Millisecond {
		t.Errorf("Lock on frozen server returned after %v, want about 1s", took)
	}

	start = time.Now()
	err = held.Unlock(ctx)
	took = time.Since(start)
	var qe *QuorumError
	if !errors.As(err, &qe) || !errors.Is(err, ErrQuorum) || len(qe.Addrs) != 1 || qe.Addrs[0] != s.Addr {
		t.Errorf("Unlock on frozen server = %v, want a *QuorumError naming %s", err, s.Addr)
	}
	if took > unlockTimeout+500*time.Millisecond {
		t.Errorf("Unlock on frozen server took %v, want about %v", took, unlockTimeout)
	}
}
