package memo_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// wire counts what Redis clients send: round trips (one command, or one
// pipeline) that mention a probe string, and bytes written on their
// connections.
type wire struct {
	probe   string
	mu      sync.Mutex
	cmds    []string // the commands that mentioned probe, in order
	written atomic.Int64
}

func (w *wire) note(cmds ...redis.Cmder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// One round trip: a command, or a pipeline (whose commands are
	// listed together).
	var trip []string
	for _, c := range cmds {
		for _, a := range c.Args() {
			s, ok := a.(string)
			if bs, isBytes := a.([]byte); isBytes {
				s, ok = string(bs), true
			}
			if ok && strings.Contains(s, w.probe) {
				trip = append(trip, fmt.Sprint(c.Args()[0], " ", s[:min(len(s), 6)]))
				break
			}
		}
	}
	if trip != nil {
		w.cmds = append(w.cmds, strings.Join(trip, "+"))
	}
}

// watch counts from now on the commands that mention probe.
func (w *wire) watch(probe string) {
	w.mu.Lock()
	w.probe = probe
	w.cmds = nil
	w.mu.Unlock()
	w.written.Store(0)
}

func (w *wire) trips() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.cmds...)
}

func (w *wire) reset() {
	w.mu.Lock()
	w.cmds = nil
	w.mu.Unlock()
	w.written.Store(0)
}

func (w *wire) DialHook(next redis.DialHook) redis.DialHook { return next }
func (w *wire) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		w.note(cmd)
		return next(ctx, cmd)
	}
}
func (w *wire) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		w.note(cmds...)
		return next(ctx, cmds)
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// client returns a Redis client to addr counted by w.
func (w *wire) client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, &w.written}, nil
		}})
	c.AddHook(w)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestMissRoundTrips: a miss without a Locker waits for two round trips,
// GET and one compare-and-swap store (issue 11's target). With the lockx
// Locker on the backend's own client it waits for three: GET, the lock
// grant with the re-check's read in the same pipeline (memo.GetLocker),
// and the store (with no "landed" message: nobody waited, see
// TestLandedOnlyWhenWaited); with the Locker on a client of its own, for
// four (the re-check is a round trip of its own; the store carries the
// message in its script). The unlock runs after Get returns: it is not waited for, but
// it happens, and leaves no lock key behind.
func TestMissRoundTrips(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	w := &wire{probe: fmt.Sprint("probe", time.Now().UnixNano())}
	client := w.client(t, s.Addr)
	b, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		locker string // "", "shared" (the backend's client) or "own"
		limit  int
	}{
		{"locker=none", "", 2},
		{"locker=lockx/client=backend's", "shared", 3},
		{"locker=lockx/client=own", "own", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &memo.Options{Namespace: redistest.Prefix(t), TTL: time.Minute}
			if tc.locker != "" {
				lc := client
				if tc.locker == "own" {
					lc = w.client(t, s.Addr)
				}
				l, err := lockx.New(lc, &lockx.Options{TTL: 2 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				if l.GetsFrom(b) != (tc.locker == "shared") {
					t.Fatalf("GetsFrom = %v with the %s client", l.GetsFrom(b), tc.locker)
				}
				o.Locker = l
			}
			c, err := memo.New[string](b, o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := t.Context()
			load := func(context.Context) (string, error) { return "v", nil }
			// Warm up: the scripts are then known to the server (a first
			// EVALSHA answered NOSCRIPT is one more round trip, once).
			if _, err := c.Get(ctx, w.probe+"-warm", load); err != nil {
				t.Fatal(err)
			}
			cold := fmt.Sprint("cold", time.Now().UnixNano())
			w.watch(cold)
			if _, err := c.Get(ctx, cold, load); err != nil {
				t.Fatal(err)
			}
			got := w.trips()
			if tc.locker != "" {
				// The unlock runs after Get returns: it is not counted.
				got = withoutUnlock(got)
			}
			if len(got) > tc.limit {
				t.Fatalf("a miss waited for %d round trips %v, want at most %d", len(got), got, tc.limit)
			}
			t.Logf("miss round trips: %v", got)
			if tc.locker == "" {
				return
			}
			// The unlock still happens: a second command on the lock key
			// (its release), and then no lock key is left.
			deadline := time.Now().Add(5 * time.Second)
			for len(lockTrips(w.trips())) < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("no unlock sent 5s after the miss: %v", w.trips())
				}
				time.Sleep(time.Millisecond) // polling with a deadline
			}
			// The release is seen when it is sent, and may not have run yet:
			// the lock key must be gone within the deadline.
			for {
				var keys []string
				iter := client.Scan(ctx, 0, "lockx:*"+cold+"*", 1000).Iterator()
				for iter.Next(ctx) {
					keys = append(keys, iter.Val())
				}
				if err := iter.Err(); err != nil {
					t.Fatal(err)
				}
				if len(keys) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("lock key left 5s after the miss: %q", keys)
				}
				time.Sleep(time.Millisecond) // polling with a deadline
			}
		})
	}
}

// lockTrips returns the round trips of cmds that touch a lock key.
func lockTrips(cmds []string) []string {
	var out []string
	for _, c := range cmds {
		if strings.Contains(c, "lockx:") {
			out = append(out, c)
		}
	}
	return out
}

// withoutUnlock drops the Locker's release (its second command on the
// lock key, after the store) if it already ran.
func withoutUnlock(cmds []string) []string {
	var lock []int
	for i, c := range cmds {
		if strings.Contains(c, "lockx:") {
			lock = append(lock, i)
		}
	}
	if len(lock) == 2 && lock[1] == len(cmds)-1 {
		return cmds[:len(cmds)-1]
	}
	return cmds
}

// TestStoreBytesOnWire: the store that replaces a 64 KiB entry sends the
// new value and a fingerprint of the old one, not both values. Before the
// fingerprint compare-and-swap it sent both (about 128 KiB); the backend
// half measures the two primitives side by side.
func TestStoreBytesOnWire(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	w := &wire{probe: fmt.Sprint("probe", time.Now().UnixNano())}
	b, err := goredis.New(w.client(t, s.Addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 10
	value := func() []byte {
		v := make([]byte, size)
		_, _ = rand.Read(v) // incompressible
		return v
	}
	ctx := t.Context()

	// The primitives: a compare-and-swap carrying the old value, and one
	// carrying its fingerprint.
	key := w.probe + "-raw"
	old := value()
	if err := b.Set(ctx, key, old, time.Minute); err != nil {
		t.Fatal(err)
	}
	var full, fp int64
	for range 2 { // the second time, each script is known to the server
		w.reset()
		nv := value()
		if ok, err := b.CompareAndSwap(ctx, key, old, nv, time.Minute); err != nil || !ok {
			t.Fatalf("CompareAndSwap = %v, %v", ok, err)
		}
		full = w.written.Load()
		w.reset()
		f := backend.FingerprintOf(nv, 8)
		old = value()
		if ok, err := b.SwapFingerprint(ctx, key, &f, old, time.Minute, nil); err != nil || !ok {
			t.Fatalf("SwapFingerprint = %v, %v", ok, err)
		}
		fp = w.written.Load()
	}
	t.Logf("bytes written per store of a 64 KiB value over a 64 KiB value: CompareAndSwap (old bytes) %d, SwapFingerprint %d (%.2fx)", full, fp, float64(fp)/float64(full))

	// memo's store, replacing an expired 64 KiB entry.
	var mu sync.Mutex
	now := time.Unix(1_900_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := memo.New[[]byte](b, &memo.Options{Namespace: redistest.Prefix(t), TTL: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	load := func(context.Context) ([]byte, error) { return value(), nil }
	if _, err := c.Get(ctx, w.probe, load); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Hour) // expired, past every window, still in Redis
	mu.Unlock()
	w.reset()
	var loads atomic.Int32
	if _, err := c.Get(ctx, w.probe, func(ctx context.Context) ([]byte, error) { loads.Add(1); return load(ctx) }); err != nil {
		t.Fatal(err)
	}
	if loads.Load() != 1 || c.Stats().StoresSkipped != 0 {
		t.Fatalf("loads = %d, StoresSkipped = %d; want a load that stored over the expired entry", loads.Load(), c.Stats().StoresSkipped)
	}
	memoBytes := w.written.Load()
	t.Logf("memo miss replacing a 64 KiB entry: %d bytes written (GET + store)", memoBytes)
	if memoBytes > size+2<<10 {
		t.Fatalf("memo wrote %d bytes to replace a %d-byte entry, want O(new value) (≤ %d)", memoBytes, size, size+2<<10)
	}
}
