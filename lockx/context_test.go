package lockx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	rsredis "github.com/go-redsync/redsync/v4/redis"
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

// TestAbandonedAttemptReleased: the caller's context ends while its
// attempt waits on a frozen server. When the server resumes it executes
// the queued grant; lockx must release it at once (on a context detached
// from the caller's), not leave it to block everyone for its TTL. The
// caller itself does not wait past its context.
func TestAbandonedAttemptReleased(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	const ttl = 10 * time.Second
	l := mustLocker(t)(New(s.Client(t), withPrefix(t, &Options{TTL: ttl})))
	ctx := t.Context()
	// Open a few connections first, so that the attempts' commands are
	// written to the frozen server instead of waiting for a handshake.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if err := l.Do(ctx, fmt.Sprint("warm", i), func(context.Context) error { return nil }); err != nil {
				t.Errorf("Do = %v", err)
			}
		})
	}
	wg.Wait()

	s.Pause(t)
	const budget = 200 * time.Millisecond
	attempts := map[string]func(ctx context.Context) error{
		"TryAcquire": func(ctx context.Context) error { _, _, err := l.TryAcquire(ctx, "memo"); return err },
		"Lock":       func(ctx context.Context) error { _, err := l.Lock(ctx, "tok"); return err },
	}
	for what, attempt := range attempts {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			start := time.Now()
			err := attempt(dctx)
			if took := time.Since(start); took > budget+300*time.Millisecond {
				t.Errorf("%s on a frozen server returned after %v, want about its context's %v", what, took, budget)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s on a frozen server = %v, want DeadlineExceeded", what, err)
			}
		})
	}
	wg.Wait()
	s.Resume(t)

	other := mustLocker(t)(New(s.Client(t), withPrefix(t, &Options{TTL: ttl, RetryDelay: 5 * time.Millisecond})))
	for _, name := range []string{"memo", "tok"} {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		start := time.Now()
		lk, err := other.Lock(wctx, name)
		cancel()
		if err != nil {
			t.Fatalf("Lock(%q) after the server resumed = %v: the abandoned attempt's grant was left behind (TTL %v)", name, err, ttl)
		}
		t.Logf("%q acquired %v after the server resumed", name, time.Since(start))
		_ = lk.Unlock(ctx)
	}
}

// TestReleaseOvertakesGrant: when an abandoned attempt's release reaches
// the server before its grant (they travel on different connections), the
// release leaves a marker and the late grant is refused.
func TestReleaseOvertakesGrant(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := redistest.Shared(t).Client(t)
	key := testPrefix(t) + "{x}"
	marker := key + abandonSuffix + "v1"
	eval := func(s *rsredis.Script, keys []string, args ...any) int64 {
		t.Helper()
		n, err := c.Eval(ctx, s.Src, keys, args...).Int64()
		if err != nil {
			t.Fatalf("EVAL: %v", err)
		}
		return n
	}
	grant := func(value string) int64 {
		return eval(acquireScript, []string{key, key + fenceSuffix, key + abandonSuffix + value}, value, 10_000, fenceTTL.Milliseconds(), "1")
	}
	if got := eval(abandonScript, []string{key, marker}, "v1", 10_000); got != 0 {
		t.Fatalf("release before grant = %d, want 0 (nothing to delete)", got)
	}
	if ttl, err := c.PTTL(ctx, marker).Result(); err != nil || ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("PTTL(marker) = %v, %v; want within (0, 10s]", ttl, err)
	}
	if tok := grant("v1"); tok != 0 {
		t.Fatalf("late grant of the released attempt = %d, want 0 (refused)", tok)
	}
	if n, _ := c.Exists(ctx, key).Result(); n != 0 {
		t.Fatalf("lock key exists after the refused grant")
	}
	if tok := grant("v2"); tok <= 0 {
		t.Fatalf("grant of another attempt = %d, want a token", tok)
	}
	if got := eval(abandonScript, []string{key, key + abandonSuffix + "v2"}, "v2", 10_000); got != 1 {
		t.Fatalf("release after grant = %d, want 1 (deleted)", got)
	}
	if n, _ := c.Exists(ctx, key, key+abandonSuffix+"v2").Result(); n != 0 {
		t.Fatalf("%d keys left after releasing a granted attempt, want 0", n)
	}
}
