package lockx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/redis/go-redis/v9"
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

// TestContextEndsOnFrozenServer: an Extend or TryLock whose context ends
// while the server is frozen says so (errors.Is DeadlineExceeded), every
// time. The client's read deadline is the context's (ContextTimeoutEnabled)
// and its timeout can be reported before the context's own timer has
// fired: over redsync (a node's context derived from the caller's) 4 of 20
// Extends returned a bare *QuorumError ("context deadline exceeded" from
// the derived context), over one node with a client that does not retry
// (MaxRetries -1) 31 of 40 did ("i/o timeout").
func TestContextEndsOnFrozenServer(t *testing.T) {
	t.Parallel()
	servers := redistest.StartN(t, 3)
	noRetries := func(s *redistest.Server) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	lockers := map[string]func(o *Options) *Locker{
		"one": func(o *Options) *Locker { return mustLocker(t)(New(servers[0].Client(t), o)) },
		"one-no-retries": func(o *Options) *Locker {
			return mustLocker(t)(New(noRetries(servers[0]), o))
		},
		"redlock": func(o *Options) *Locker {
			var cs []redis.UniversalClient
			for _, s := range servers {
				cs = append(cs, s.Client(t))
			}
			return mustLocker(t)(NewRedlock(cs, o))
		},
	}
	type held struct {
		what string
		l    *Locker
		lk   *Lock
	}
	var hs []held
	for what, newLocker := range lockers {
		l := newLocker(withPrefix(t, &Options{TTL: time.Minute, DisableWatchdog: true}))
		// Warm the pools: the commands must reach the frozen servers.
		for range 4 {
			if err := l.Do(t.Context(), "warm", func(context.Context) error { return nil }); err != nil {
				t.Fatalf("%s: Do = %v", what, err)
			}
		}
		lk, err := l.Lock(t.Context(), what)
		if err != nil {
			t.Fatalf("%s: Lock = %v", what, err)
		}
		hs = append(hs, held{what, l, lk})
	}
	for _, s := range servers {
		s.Pause(t)
		defer s.Resume(t)
	}
	for _, h := range hs {
		bad := 0
		for i := range 20 {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			err := h.lk.Extend(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				bad++
				t.Logf("%s: Extend %d = %v", h.what, i, err)
			}
			ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
			_, err = h.l.TryLock(ctx, "other")
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				bad++
				t.Logf("%s: TryLock %d = %v", h.what, i, err)
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of 40 calls whose context ended on a frozen server without DeadlineExceeded", h.what, bad)
		}
	}
}
