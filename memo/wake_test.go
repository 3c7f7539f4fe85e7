package memo_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// publishes is a go-redis hook that counts PUBLISH commands.
type publishes struct{ n atomic.Int32 }

func (p *publishes) count(cmds ...redis.Cmder) {
	for _, c := range cmds {
		if c.Name() == "publish" {
			p.n.Add(1)
		}
	}
}

func (p *publishes) DialHook(next redis.DialHook) redis.DialHook { return next }
func (p *publishes) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		p.count(cmd)
		return next(ctx, cmd)
	}
}
func (p *publishes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		p.count(cmds...)
		return next(ctx, cmds)
	}
}

// channelLog subscribes to a namespace's channel and, when asked, counts
// the "landed" messages ('L') published on it so far: every message the
// server publishes on the channel (a PUBLISH command, or one sent by a
// store script) reaches it.
type channelLog struct {
	raw     *redis.Client
	channel string
	msgs    <-chan *redis.Message
}

func newChannelLog(t *testing.T, s *redistest.Server, ns string) *channelLog {
	t.Helper()
	raw := s.Client(t)
	ps := raw.Subscribe(t.Context(), ns+":v1:events")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(t.Context()); err != nil { // the subscription is in place
		t.Fatal(err)
	}
	return &channelLog{raw: raw, channel: ns + ":v1:events", msgs: ps.Channel()}
}

// landed publishes an end marker and counts the landed messages that came
// before it: every message published before landed was called.
func (l *channelLog) landed(t *testing.T) int {
	t.Helper()
	end := "end-" + time.Now().String()
	if err := l.raw.Publish(t.Context(), l.channel, end).Err(); err != nil {
		t.Fatal(err)
	}
	n := 0
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-l.msgs:
			if m.Payload == end {
				return n
			}
			if strings.HasPrefix(m.Payload, "L") {
				n++
			}
		case <-timeout:
			t.Fatal("the end marker did not come back within 10s")
		}
	}
}

// noKeyWithoutTTL fails if a key containing ns has no expiry.
func noKeyWithoutTTL(t *testing.T, c *redis.Client, ns string) {
	t.Helper()
	ctx := t.Context()
	iter := c.Scan(ctx, 0, "*"+ns+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if ttl := c.PTTL(ctx, iter.Val()).Val(); ttl == -1 {
			t.Errorf("key %q has no expiry", iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

// waitedMarks returns the lockx waited marks of the locks of ns.
func waitedMarks(t *testing.T, c *redis.Client, ns string) []string {
	t.Helper()
	keys, err := c.Keys(t.Context(), "lockx:*"+ns+"*:waited").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestLandedOnlyWhenWaited: a locked miss whose lock came from the
// GetLocker path (lockx on the backend's client) publishes no "landed"
// message when nobody waited, and exactly one when another process was
// refused the lock, which wakes that process long before its poll
// (PollInterval is 5s). A flight under a plain Locker (lockx on a client
// of its own) publishes in its store, waited on or not, as before. The
// waiter's mark on the lock expires, is gone after the release, and no
// key is left without expiry. A release that cannot tell (the lock was
// lost) counts as waited on.
func TestLandedOnlyWhenWaited(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	const poll = 5 * time.Second
	opts := func(ns string) memo.Options {
		return memo.Options{Namespace: ns, PollInterval: poll, LockWait: 4 * poll, LoadTimeout: 4 * poll, BackendTimeout: 5 * time.Second}
	}
	// A namespace EscapeKeyPart leaves alone: the channel and the keys
	// contain it as is.
	namespace := func(t *testing.T) string { return strings.TrimSuffix(redistest.Prefix(t), ":") }
	for _, tc := range []struct {
		name                string
		holderShared        bool // the holder's lock on the backend's client: GetLocker
		waiterShared        bool
		uncontended, waited int // landed messages
	}{
		{"holder=GetLocker/waiter=GetLocker", true, true, 0, 1},
		{"holder=GetLocker/waiter=Locker", true, false, 0, 1},
		{"holder=Locker/waiter=GetLocker", false, true, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := s.Client(t)

			t.Run("uncontended", func(t *testing.T) {
				ns := namespace(t)
				log := newChannelLog(t, s, ns)
				pubs := &publishes{}
				a, _ := lockedNode(t, s.Addr, opts(ns), tc.holderShared, nil, pubs)
				if v, err := a.Get(t.Context(), "k", func(context.Context) (string, error) { return "v", nil }); err != nil || v != "v" {
					t.Fatalf("Get = %q, %v", v, err)
				}
				_ = a.Close() // waits for the release (and what follows it)
				if got := log.landed(t); got != tc.uncontended {
					t.Errorf("an uncontended locked miss published %d landed messages, want %d", got, tc.uncontended)
				}
				if tc.holderShared && pubs.n.Load() != 0 {
					t.Errorf("an uncontended locked miss sent %d PUBLISH commands, want 0", pubs.n.Load())
				}
				noKeyWithoutTTL(t, raw, ns)
			})

			// A release that cannot tell (the lock was lost: its key was
			// deleted during the load) counts as waited on.
			t.Run("lost", func(t *testing.T) {
				ns := namespace(t)
				log := newChannelLog(t, s, ns)
				a, _ := lockedNode(t, s.Addr, opts(ns), tc.holderShared, nil)
				load := func(ctx context.Context) (string, error) {
					locks, err := raw.Keys(ctx, "lockx:*"+ns+"*").Result()
					if err != nil || len(locks) != 1 {
						t.Errorf("lock keys during the load = %q, %v; want one", locks, err)
					}
					return "v", raw.Del(ctx, locks...).Err()
				}
				if v, err := a.Get(t.Context(), "k", load); err != nil || v != "v" {
					t.Fatalf("Get = %q, %v", v, err)
				}
				_ = a.Close()
				if got := log.landed(t); got != 1 {
					t.Errorf("a locked miss whose lock was lost published %d landed messages, want 1", got)
				}
			})

			t.Run("contended", func(t *testing.T) {
				ns := namespace(t)
				log := newChannelLog(t, s, ns)
				pubs := &publishes{}
				a, _ := lockedNode(t, s.Addr, opts(ns), tc.holderShared, nil, pubs)
				b, _ := lockedNode(t, s.Addr, opts(ns), tc.waiterShared, nil)
				var loads atomic.Int32
				loading, finish := make(chan struct{}), make(chan struct{})
				load := func(context.Context) (string, error) {
					if loads.Add(1) == 1 {
						close(loading)
						<-finish
					}
					return "v", nil
				}
				aDone := make(chan error, 1)
				go func() {
					_, err := a.Get(context.Background(), "k", load)
					aDone <- err
				}()
				<-loading // A holds the lock
				type got struct {
					v    string
					err  error
					took time.Duration
				}
				bDone := make(chan got, 1)
				start := time.Now()
				go func() {
					v, err := b.Get(context.Background(), "k", load)
					bDone <- got{v, err, time.Since(start)}
				}()
				deadline := time.Now().Add(poll / 2)
				for b.Stats().LockWaits == 0 { // B was refused the lock: it waits
					if time.Now().After(deadline) {
						t.Fatal("B did not wait for A's lock")
					}
					time.Sleep(time.Millisecond) // polling with a deadline
				}
				if tc.waiterShared || tc.holderShared { // lockx over one server marks the lock
					marks := waitedMarks(t, raw, ns)
					if len(marks) != 1 {
						t.Fatalf("waited marks = %q, want one", marks)
					}
					if ttl := raw.PTTL(t.Context(), marks[0]).Val(); ttl <= 0 || ttl > 2*time.Second {
						t.Errorf("waited mark PTTL = %v, want in (0, 2s] (the lock's TTL)", ttl)
					}
				}
				close(finish)
				if err := <-aDone; err != nil {
					t.Fatalf("A.Get = %v", err)
				}
				r := <-bDone
				if r.err != nil || r.v != "v" {
					t.Fatalf("B.Get = %q, %v", r.v, r.err)
				}
				// Only the wake explains a return before B's first poll.
				if r.took >= poll/2 {
					t.Errorf("B.Get took %v with PollInterval %v: not woken", r.took, poll)
				}
				t.Logf("the waiter returned %v after its Get began (PollInterval %v)", r.took, poll)
				if n := loads.Load(); n != 1 {
					t.Errorf("loads = %d, want 1", n)
				}
				_ = a.Close()
				_ = b.Close()
				if got := log.landed(t); got != tc.waited {
					t.Errorf("a contended locked miss published %d landed messages, want %d", got, tc.waited)
				}
				if tc.holderShared && pubs.n.Load() != 1 {
					t.Errorf("a contended locked miss sent %d PUBLISH commands, want 1", pubs.n.Load())
				}
				if marks := waitedMarks(t, raw, ns); len(marks) != 0 {
					t.Errorf("waited marks left after the release: %q", marks)
				}
				noKeyWithoutTTL(t, raw, ns)
			})
		})
	}
}

// TestRefreshLandedOnlyWhenWaited: a stale-while-revalidate refresh under
// a GetLocker's lock publishes no "landed" message when nobody waited;
// under a plain Locker its store carries one, as before.
func TestRefreshLandedOnlyWhenWaited(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	for _, lc := range lockClients {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			ns := strings.TrimSuffix(redistest.Prefix(t), ":")
			log := newChannelLog(t, s, ns)
			var mu sync.Mutex
			now := time.Unix(1_900_000_000, 0)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			a, _ := lockedNode(t, s.Addr, memo.Options{Namespace: ns, TTL: time.Minute, StaleTTL: time.Hour, Now: clock}, lc.shared, nil)
			var loads atomic.Int32
			load := func(context.Context) (string, error) { loads.Add(1); return "v", nil }
			if _, err := a.Get(t.Context(), "k", load); err != nil {
				t.Fatal(err)
			}
			// The miss's release runs after Get returns: a refresh that
			// came first would be refused the lock (and mark it).
			raw := s.Client(t)
			deadline := time.Now().Add(5 * time.Second)
			for len(raw.Keys(t.Context(), "lockx:*"+ns+"*").Val()) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the miss's lock is still held 5s after Get returned")
				}
				time.Sleep(time.Millisecond) // polling with a deadline
			}
			mu.Lock()
			now = now.Add(2 * time.Minute) // stale, within StaleTTL
			mu.Unlock()
			if _, err := a.Get(t.Context(), "k", load); err != nil {
				t.Fatal(err)
			}
			_ = a.Close() // waits for the refresh
			if n, r := loads.Load(), a.Stats().Refreshes; n != 2 || r != 1 {
				t.Fatalf("loads = %d, refreshes = %d; want 2, 1", n, r)
			}
			want := 0 // neither the miss nor the refresh was waited on
			if !lc.shared {
				want = 2 // each store carries the message
			}
			if got := log.landed(t); got != want {
				t.Errorf("a miss and a refresh published %d landed messages, want %d", got, want)
			}
		})
	}
}

// TestWakeBeforeListening: the holder's release and "landed" message can
// reach a refused caller's process before the caller registers as a
// waiter (here the window is held open by an Observer that blocks on the
// caller's LockWait event until the message has been handled). The caller
// must still be woken, not left to its poll (PollInterval 5s): it
// compares the process's wake-ups across its registration.
func TestWakeBeforeListening(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	raw := s.Client(t)
	ns := strings.TrimSuffix(redistest.Prefix(t), ":")
	const poll = 5 * time.Second
	o := memo.Options{Namespace: ns, PollInterval: poll, LockWait: 4 * poll, LoadTimeout: 4 * poll, BackendTimeout: 5 * time.Second}
	a, _ := lockedNode(t, s.Addr, o, true, nil)
	refused, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	wo := o
	wo.L1Size = 16
	wo.Observer = memo.ObserverFunc(func(e memo.Event) {
		if e.Kind == memo.EventLockWait {
			once.Do(func() { close(refused); <-resume })
		}
	})
	w, _ := lockedNode(t, s.Addr, wo, true, nil)
	// A probe in W's L1: its eviction shows that W's listener has handled
	// the messages before it.
	if _, err := w.Get(t.Context(), "probe", func(context.Context) (string, error) { return "p", nil }); err != nil {
		t.Fatal(err)
	}
	loading, finish := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Get(context.Background(), "k", func(context.Context) (string, error) {
			close(loading)
			<-finish
			return "v", nil
		})
		aDone <- err
	}()
	<-loading
	type got struct {
		v    string
		err  error
		took time.Duration
	}
	wDone := make(chan got, 1)
	go func() {
		start := time.Now()
		v, err := w.Get(context.Background(), "k", func(context.Context) (string, error) { return "w", nil })
		wDone <- got{v, err, time.Since(start)}
	}()
	<-refused // W was refused the lock and has not registered yet
	close(finish)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	_ = a.Close() // A's release and its "landed" message are done
	if err := raw.Publish(t.Context(), ns+":v1:events", "Iprobe").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(poll / 2)
	for w.Stats().L1Invalidations == 0 { // W handled "landed", then the probe's eviction
		if time.Now().After(deadline) {
			t.Fatal("W's listener did not handle the messages")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
	close(resume)
	r := <-wDone
	if r.err != nil || r.v != "v" {
		t.Fatalf("W.Get = %q, %v; want A's value", r.v, r.err)
	}
	if r.took >= poll/2 {
		t.Errorf("W.Get took %v with PollInterval %v: the wake-up before it listened was lost", r.took, poll)
	}
}
