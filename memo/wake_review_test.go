package memo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// unansweredRelease is a go-redis hook under which lockx's release of a
// marked lock (the script whose second key is the waited mark) gets no
// answer: it waits for its context to end, as a call to a server that
// does not answer does.
type unansweredRelease struct{}

func isMarkedRelease(cmd redis.Cmder) bool {
	args := cmd.Args()
	if n := cmd.Name(); (n != "evalsha" && n != "eval") || len(args) != 6 {
		return false
	}
	k, _ := args[4].(string)
	return strings.HasSuffix(k, ":waited")
}

func (unansweredRelease) DialHook(next redis.DialHook) redis.DialHook { return next }
func (unansweredRelease) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isMarkedRelease(cmd) {
			<-ctx.Done()
			cmd.SetErr(ctx.Err())
			return ctx.Err()
		}
		return next(ctx, cmd)
	}
}
func (unansweredRelease) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestLandedAfterUnansweredRelease: a GetLocker flight whose release gets
// no answer cannot tell whether the lock was waited on, so it publishes
// "landed" (the store did not). lockx bounds the release by a timeout of
// its own (longer than BackendTimeout): the publish must not go out on
// the release's context, which has ended by then, or the waiter of the
// other process is left to its poll (PollInterval 10s).
func TestLandedAfterUnansweredRelease(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	ns := strings.TrimSuffix(redistest.Prefix(t), ":")
	const poll = 10 * time.Second
	o := memo.Options{Namespace: ns, PollInterval: poll, LockWait: 4 * poll, LoadTimeout: 4 * poll, BackendTimeout: 400 * time.Millisecond}
	a, _ := lockedNode(t, s.Addr, o, true, nil, unansweredRelease{})
	w, _ := lockedNode(t, s.Addr, o, true, nil)
	finish, aDone, wDone := holdAndWait(t, a, w, "v", poll/2)
	close(finish)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	r := <-wDone
	if r.err != nil || r.v != "v" {
		t.Fatalf("W.Get = %q, %v; want A's value", r.v, r.err)
	}
	if r.took >= poll/2 {
		t.Errorf("W.Get took %v with PollInterval %v: the release failed and no \"landed\" message woke W", r.took, poll)
	}
	t.Logf("W returned after %v", r.took)
}

// TestLandedAfterLockLostAndRegranted: A holds the lock of a cold key and
// W (another process) waits for it; A's lock is lost (here deleted; a
// holder that died leaves it to expire), and H (a third process) is
// granted it, loads and stores. W still waits, refused while the lock was
// A's: H's release must see W's mark and wake W, not leave it to its poll
// (PollInterval 10s). A grant that deleted the marks left on the lock
// dropped the waiters of the holder it replaced.
func TestLandedAfterLockLostAndRegranted(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	raw := s.Client(t)
	ns := strings.TrimSuffix(redistest.Prefix(t), ":")
	const poll = 10 * time.Second
	o := memo.Options{Namespace: ns, PollInterval: poll, LockWait: 4 * poll, LoadTimeout: 4 * poll, BackendTimeout: 5 * time.Second}
	a, _ := lockedNode(t, s.Addr, o, true, nil)
	w, _ := lockedNode(t, s.Addr, o, true, nil)
	h, _ := lockedNode(t, s.Addr, o, true, nil)
	finish, aDone, wDone := holdAndWait(t, a, w, "a", poll/2)
	locks, err := raw.Keys(t.Context(), "lockx:*"+ns+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var lock string
	for _, k := range locks {
		if !strings.HasSuffix(k, ":waited") {
			lock = k
		}
	}
	if lock == "" || len(locks) != 2 {
		t.Fatalf("lock keys = %q; want the lock and its mark", locks)
	}
	if err := raw.Del(t.Context(), lock).Err(); err != nil { // A's lock is lost
		t.Fatal(err)
	}
	if v, err := h.Get(t.Context(), "k", func(context.Context) (string, error) { return "v", nil }); err != nil || v != "v" {
		t.Fatalf("H.Get = %q, %v; want its own load", v, err)
	}
	r := <-wDone
	close(finish)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if r.err != nil || r.v != "v" {
		t.Fatalf("W.Get = %q, %v; want H's value", r.v, r.err)
	}
	if r.took >= poll/2 {
		t.Errorf("W.Get took %v with PollInterval %v: H's release did not wake W", r.took, poll)
	}
	_ = a.Close()
	_ = h.Close()
	noKeyWithoutTTL(t, raw, ns)
}

// lostStoreReply is a go-redis hook under which the SET NX that stores a
// cold key of namespace ns lands on the server but its reply is lost:
// the caller gets its context's error.
type lostStoreReply struct{ ns string }

func (lostStoreReply) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h lostStoreReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if cmd.Name() != "set" || len(args) < 3 {
			return err
		}
		k, _ := args[1].(string)
		if !strings.Contains(k, h.ns) || strings.HasPrefix(k, "lockx") {
			return err
		}
		<-ctx.Done()
		cmd.SetErr(ctx.Err())
		return ctx.Err()
	}
}
func (lostStoreReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestLandedAfterStoreReplyLost: a GetLocker flight whose store landed
// but whose reply was lost cannot tell whether the value is there; its
// waiters (refused by its lock) must be told all the same, as the store's
// own message told them before (it rode in the store's round trip), not
// left to their poll (PollInterval 10s).
func TestLandedAfterStoreReplyLost(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	ns := strings.TrimSuffix(redistest.Prefix(t), ":")
	const poll = 10 * time.Second
	o := memo.Options{Namespace: ns, PollInterval: poll, LockWait: 4 * poll, LoadTimeout: 4 * poll, BackendTimeout: 300 * time.Millisecond}
	a, _ := lockedNode(t, s.Addr, o, true, nil, lostStoreReply{ns: ns})
	w, _ := lockedNode(t, s.Addr, o, true, nil)
	finish, aDone, wDone := holdAndWait(t, a, w, "v", poll/2)
	close(finish)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	r := <-wDone
	if r.err != nil || r.v != "v" {
		t.Fatalf("W.Get = %q, %v; want A's value", r.v, r.err)
	}
	if r.took >= poll/2 {
		t.Errorf("W.Get took %v with PollInterval %v: A's store landed (reply lost) and nothing woke W", r.took, poll)
	}
	t.Logf("W returned after %v", r.took)
}

// TestLandedAfterHoldLongerThanLease: W is refused A's lock once and
// waits (PollInterval 10s, so it does not try again meanwhile); A's load
// takes longer than one lease of the lock (TTL 2s; the watchdog extends
// it). W's mark on the lock must last as long as the lock, so that A's
// release sees it and wakes W: not expire after one lease from W's
// refusal and leave W to its poll.
func TestLandedAfterHoldLongerThanLease(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	raw := s.Client(t)
	ns := strings.TrimSuffix(redistest.Prefix(t), ":")
	const poll = 10 * time.Second
	o := memo.Options{Namespace: ns, PollInterval: poll, LockWait: 4 * poll, LoadTimeout: 4 * poll, BackendTimeout: 5 * time.Second}
	a, _ := lockedNode(t, s.Addr, o, true, nil)
	w, _ := lockedNode(t, s.Addr, o, true, nil)
	finish, aDone, wDone := holdAndWait(t, a, w, "v", poll/2)
	refused := time.Now()
	<-time.After(2500 * time.Millisecond) // the hold outlasts one lease (2s) from the refusal
	for _, k := range waitedMarks(t, raw, ns) {
		if ttl := raw.PTTL(t.Context(), k).Val(); ttl <= 0 || ttl > 2*time.Second {
			t.Errorf("waited mark PTTL = %v after a hold of %v, want in (0, 2s]", ttl, time.Since(refused))
		}
	}
	close(finish)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	r := <-wDone
	if r.err != nil || r.v != "v" {
		t.Fatalf("W.Get = %q, %v; want A's value", r.v, r.err)
	}
	if r.took >= poll/2 {
		t.Errorf("W.Get took %v with PollInterval %v: A held the lock past W's mark, and nothing woke W", r.took, poll)
	}
	_ = a.Close()
	if marks := waitedMarks(t, raw, ns); len(marks) != 0 {
		t.Errorf("waited marks left after the release: %q", marks)
	}
	noKeyWithoutTTL(t, raw, ns)
}

// waitedGet is the outcome of a waiter's Get, and how long it took.
type waitedGet struct {
	v    string
	err  error
	took time.Duration
}

// holdAndWait starts a Get of "k" on a whose load returns val once finish
// is closed, then, once that load runs, a Get of "k" on w (another
// process), and returns when w waits for a's lock (failing t if it does
// not within limit). aDone gets a's error, wDone w's outcome.
func holdAndWait(t *testing.T, a, w *memo.Cache[string], val string, limit time.Duration) (finish chan struct{}, aDone <-chan error, wDone <-chan waitedGet) {
	t.Helper()
	loading, finish := make(chan struct{}), make(chan struct{})
	aErr := make(chan error, 1)
	go func() {
		_, err := a.Get(context.Background(), "k", func(context.Context) (string, error) {
			close(loading)
			<-finish
			return val, nil
		})
		aErr <- err
	}()
	<-loading
	wGot := make(chan waitedGet, 1)
	start := time.Now()
	go func() {
		v, err := w.Get(context.Background(), "k", func(context.Context) (string, error) { return "w", nil })
		wGot <- waitedGet{v, err, time.Since(start)}
	}()
	deadline := time.Now().Add(limit)
	for w.Stats().LockWaits == 0 {
		if time.Now().After(deadline) {
			t.Fatal("W did not wait for A's lock")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	return finish, aErr, wGot
}
