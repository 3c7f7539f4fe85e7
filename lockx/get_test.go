package lockx

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/redistest"
)

func mustBackend(t *testing.T, c redis.UniversalClient, o *goredis.Options) *goredis.Backend {
	t.Helper()
	b, err := goredis.New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGetsFrom: the read is folded into the grant only over one server
// and the backend's very client.
func TestGetsFrom(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	client := s.Client(t)
	b := mustBackend(t, client, nil)
	servers := redistest.StartN(t, 3)
	var three []redis.UniversalClient
	for _, s := range servers {
		three = append(three, s.Client(t))
	}
	cl := redistest.SharedCluster(t)
	clusterClient := cl.Client(t)
	mem, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		l    *Locker
		b    backend.Backend
		want bool
	}{
		{"one server, the backend's client", mustLocker(t)(New(client, withPrefix(t, nil))), b, true},
		{"one server, another client", mustLocker(t)(New(s.Client(t), withPrefix(t, nil))), b, false},
		{"cluster, the backend's client", mustLocker(t)(New(clusterClient, withPrefix(t, nil))), mustBackend(t, clusterClient, nil), false},
		{"redlock with the backend's client", mustLocker(t)(NewRedlock(append([]redis.UniversalClient{client}, three[1:]...), withPrefix(t, nil))), b, false},
		{"local", mustLocker(t)(NewLocal(withPrefix(t, nil))), b, false},
		{"memory backend", mustLocker(t)(New(client, withPrefix(t, nil))), mem, false},
	} {
		if got := tc.l.GetsFrom(tc.b); got != tc.want {
			t.Errorf("%s: GetsFrom = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTryAcquireGet: granted, the read after the grant returns what
// backend.GetNonEmpty returns (a value, a miss, an oversized value's
// ErrTooLarge, counted once); refused, nothing is read; either way, folded
// into the grant's round trip or not.
func TestTryAcquireGet(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	client := s.Client(t)
	const maxValue = 64
	b := mustBackend(t, client, &goredis.Options{MaxValueBytes: maxValue})
	for _, folded := range []bool{true, false} {
		lc := client
		if !folded {
			lc = s.Client(t)
		}
		l := mustLocker(t)(New(lc, withPrefix(t, nil)))
		if l.GetsFrom(b) != folded {
			t.Fatalf("GetsFrom = %v, want %v", l.GetsFrom(b), folded)
		}
		other := mustLocker(t)(New(s.Client(t), withPrefix(t, nil)))
		ctx := t.Context()
		prefix := testPrefix(t) // data keys of this run
		if folded {
			prefix += "folded:"
		}
		for _, tc := range []struct {
			name, stored string
			check        func(v []byte, err error) bool
		}{
			{"value", "hello", func(v []byte, err error) bool { return err == nil && string(v) == "hello" }},
			{"missing", "", func(v []byte, err error) bool { return v == nil && errors.Is(err, backend.ErrNotFound) }},
			{"oversized", strings.Repeat("x", maxValue+1), func(v []byte, err error) bool {
				return v == nil && errors.Is(err, backend.ErrNotFound) && errors.Is(err, backend.ErrTooLarge)
			}},
		} {
			key := prefix + tc.name
			if tc.stored != "" {
				if err := client.Set(ctx, key, tc.stored, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
			}
			before := b.OversizedReads()
			release, ok, v, getErr, err := l.TryAcquireGet(ctx, tc.name+"-lock", b, key)
			if err != nil || !ok || !tc.check(v, getErr) {
				t.Fatalf("folded=%v %s: TryAcquireGet = ok %v, %q, %v, %v", folded, tc.name, ok, v, getErr, err)
			}
			want := int64(0)
			if tc.name == "oversized" {
				want = 1
			}
			if got := b.OversizedReads() - before; got != want {
				t.Errorf("folded=%v %s: OversizedReads grew by %d, want %d", folded, tc.name, got, want)
			}
			// Held: another Locker is refused, and reads nothing.
			before = b.OversizedReads()
			_, ok2, v2, getErr2, err2 := other.TryAcquireGet(ctx, tc.name+"-lock", b, key)
			if ok2 || v2 != nil || getErr2 != nil || err2 != nil {
				t.Fatalf("folded=%v %s: TryAcquireGet of a held lock = ok %v, %q, %v, %v; want refused", folded, tc.name, ok2, v2, getErr2, err2)
			}
			if got := b.OversizedReads() - before; got != 0 {
				t.Errorf("folded=%v: a refused grant counted %d oversized reads", folded, got)
			}
			if _, err := release(ctx); err != nil {
				t.Fatalf("release = %v", err)
			}
			if n := client.Exists(ctx, l.key(tc.name+"-lock")).Val(); n != 0 {
				t.Fatalf("lock key left after release")
			}
		}
	}
}

// pipes records the commands of every pipeline a client sends.
type pipes struct {
	mu    sync.Mutex
	trips [][]string
}

func (p *pipes) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *pipes) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p *pipes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var names []string
		for _, c := range cmds {
			names = append(names, c.Name())
		}
		p.mu.Lock()
		p.trips = append(p.trips, names)
		p.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestTryAcquireGetScriptFlushed: a folded grant answered NOSCRIPT is sent
// again by source with a read of its own; the read that followed the
// refused EVALSHA is dropped unread (an oversized value is counted once).
func TestTryAcquireGetScriptFlushed(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	client := s.Client(t)
	p := &pipes{}
	client.AddHook(p)
	const maxValue = 64
	b := mustBackend(t, client, &goredis.Options{MaxValueBytes: maxValue})
	l := mustLocker(t)(New(client, withPrefix(t, nil)))
	ctx := t.Context()
	if err := client.Set(ctx, "big", strings.Repeat("x", maxValue+1), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	release, ok, v, getErr, err := l.TryAcquireGet(ctx, "n", b, "big")
	if err != nil || !ok || v != nil || !errors.Is(getErr, backend.ErrTooLarge) {
		t.Fatalf("TryAcquireGet after SCRIPT FLUSH = ok %v, %q, %v, %v; want granted, ErrTooLarge", ok, v, getErr, err)
	}
	if got := b.OversizedReads(); got != 1 {
		t.Errorf("OversizedReads = %d, want 1 (the read behind the refused EVALSHA counted too)", got)
	}
	want := [][]string{{"evalsha", "getrange"}, {"eval", "getrange"}}
	var got [][]string
	p.mu.Lock()
	for _, trip := range p.trips {
		if trip[0] != "client" && trip[0] != "hello" { // a new connection's set-up
			got = append(got, trip)
		}
	}
	p.mu.Unlock()
	if len(got) != 2 || strings.Join(got[0], ",") != "evalsha,getrange" || strings.Join(got[1], ",") != "eval,getrange" {
		t.Fatalf("pipelines = %v, want %v", got, want)
	}
	if _, err := release(ctx); err != nil {
		t.Fatalf("release = %v", err)
	}
	if n := client.Exists(ctx, l.key("n")).Val(); n != 0 {
		t.Fatal("lock key left after release")
	}
}

// TestTryAcquireGetFrozenServer: a folded attempt whose context ends on a
// frozen server returns within it, with an error that says so, and leaves
// no lock behind once the server is back (the attempt is abandoned, as
// every failed attempt is).
func TestTryAcquireGetFrozenServer(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	client := s.Client(t)
	b := mustBackend(t, client, nil)
	l := mustLocker(t)(New(client, withPrefix(t, nil)))
	if _, _, err := l.TryAcquire(t.Context(), "warm"); err != nil { // dial, load the scripts
		t.Fatal(err)
	}
	s.Pause(t)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	start := time.Now()
	_, ok, v, getErr, err := l.TryAcquireGet(ctx, "frozen", b, "k")
	took := time.Since(start)
	cancel()
	s.Resume(t)
	if ok || v != nil || getErr != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("TryAcquireGet on a frozen server = ok %v, %q, %v, %v; want DeadlineExceeded", ok, v, getErr, err)
	}
	if took > time.Second {
		t.Fatalf("TryAcquireGet took %v with a 100ms context", took)
	}
	// The grant may have landed when the server resumed; the abandon
	// (bounded by unlockTimeout, on a detached context) deletes it or
	// leaves a marker that refuses it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := client.Exists(t.Context(), l.key("frozen")).Val()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned attempt's lock is still held 5s after the server resumed")
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	release, ok, _, _, err := l.TryAcquireGet(t.Context(), "frozen", b, "k")
	if err != nil || !ok {
		t.Fatalf("TryAcquireGet after resume = %v, %v; want granted", ok, err)
	}
	_, _ = release(t.Context())
}
