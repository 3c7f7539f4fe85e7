package lockx

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
)

// holdFirstExtension makes l's watchdog hand its first extension's Lock
// to the test and wait for the test's go-ahead before sending it. It
// returns the channel that delivers the Lock, the go-ahead, and a counter
// of every extension the watchdog starts.
func holdFirstExtension(l *Locker) (<-chan *Lock, chan<- struct{}, *atomic.Int32) {
	held := make(chan *Lock, 1)
	proceed := make(chan struct{})
	var calls atomic.Int32
	l.testHookExtend = func(lk *Lock) {
		if calls.Add(1) == 1 {
			held <- lk
			<-proceed
		}
	}
	return held, proceed, &calls
}

func waitHeld(t *testing.T, held <-chan *Lock) *Lock {
	t.Helper()
	select {
	case lk := <-held:
		return lk
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog never started an extension")
		return nil
	}
}

// waitExtendedPast polls until lk's validity moves past until, failing if
// the lock is lost first or nothing happens for 5s.
func waitExtendedPast(t *testing.T, lk *Lock, until time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !lk.Until().After(until) {
		if err := lk.Err(); err != nil {
			t.Fatalf("lock lost: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease never extended past %v", until.Format(time.StampMilli))
		}
		time.Sleep(5 * time.Millisecond) // polling the watchdog's progress: no event to wait on
	}
}

// TestWatchdogSurvivesSlowExtension: the server freezes while the
// watchdog's extension is in flight, for longer than TTL/3 (the old
// per-extension timeout, after which the lock was declared lost) but less
// than the lease has left. The extension lands when the server resumes:
// the lock survives and Do's context is never cancelled.
func TestWatchdogSurvivesSlowExtension(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	// The pause is longer than TTL/3 and leaves ~800 ms of the lease for
	// the extension to land after the resume (with TTL 1.2 s and a 600 ms
	// pause, ~190 ms were left, and a loaded machine (load ~22) took longer:
	// "watchdog could not extend before its lease ran out").
	const ttl = 3 * time.Second
	l := mustLocker(t)(New(s.Client(t), withPrefix(t, &Options{TTL: ttl})))
	held, proceed, _ := holdFirstExtension(l)
	ctx := t.Context()
	err := l.Do(ctx, "slow", func(wctx context.Context) error {
		lk := waitHeld(t, held)
		until := lk.Until()
		s.Pause(t)
		close(proceed) // the extension goes to the frozen server
		const pause = ttl/3 + 200*time.Millisecond
		time.Sleep(pause) // the fault's duration
		s.Resume(t)
		waitExtendedPast(t, lk, until)
		if err := wctx.Err(); err != nil {
			return fmt.Errorf("work context cancelled: %w", context.Cause(wctx))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Do = %v, want nil: an extension slower than TTL/3 but within the lease must keep the lock", err)
	}
}

// TestWatchdogLostAtValidity: the server stays frozen past the lease's
// validity. The lock is reported lost when the validity passes, not
// before (it is still valid until then) and not later.
func TestWatchdogLostAtValidity(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	const ttl = 1200 * time.Millisecond
	l := mustLocker(t)(New(s.Client(t), withPrefix(t, &Options{TTL: ttl})))
	held, proceed, _ := holdFirstExtension(l)
	ctx := t.Context()
	lk, err := l.Lock(ctx, "frozen")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	waitHeld(t, held)
	until := lk.Until()
	s.Pause(t)
	defer s.Resume(t)
	close(proceed)
	select {
	case <-lk.Done():
	case <-time.After(time.Until(until) + 5*time.Second):
		t.Fatalf("lock not reported lost with the server frozen past its validity")
	}
	lostAt := time.Now()
	if lostAt.Before(until) {
		t.Errorf("lost %v before the end of its validity: declared lost while still valid", until.Sub(lostAt))
	}
	if late := lostAt.Sub(until); late > 300*time.Millisecond { // scheduling slack on a loaded machine
		t.Errorf("lost %v after the end of its validity, want at it", late)
	}
	if !errors.Is(lk.Err(), ErrLost) {
		t.Errorf("Err = %v, want ErrLost", lk.Err())
	}
}

// TestWatchdogRetriesErrors: extensions fail fast for a while (the server
// refuses EVAL and EVALSHA with NOPERM). The watchdog retries with backoff
// instead of giving up, and the lock survives once they succeed again.
func TestWatchdogRetriesErrors(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	admin := s.Client(t)
	ctx := t.Context()
	const ttl = 1200 * time.Millisecond
	l := mustLocker(t)(New(s.Client(t), withPrefix(t, &Options{TTL: ttl})))
	held, proceed, calls := holdFirstExtension(l)
	lk, err := l.Lock(ctx, "refused")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	defer lk.Unlock(ctx)
	waitHeld(t, held)
	until := lk.Until()
	if err := admin.Do(ctx, "ACL", "SETUSER", "default", "-eval", "-evalsha").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	close(proceed)
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 3 { // the first extension and two retries
		if err := lk.Err(); err != nil {
			t.Fatalf("lock lost after %d refused extensions: %v", calls.Load(), err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d extensions in 5s, want retries", calls.Load())
		}
		time.Sleep(5 * time.Millisecond) // polling the watchdog's progress: no event to wait on
	}
	if err := admin.Do(ctx, "ACL", "SETUSER", "default", "+eval", "+evalsha").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	waitExtendedPast(t, lk, until)
	if err := lk.Unlock(ctx); err != nil {
		t.Errorf("Unlock = %v", err)
	}
}
