package memo_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// The re-check after a lock grant, folded into the grant's round trip
// (memo.GetLocker, *lockx.Locker with the backend's own client) or sent on
// its own (the lock on another client): the same outcomes.

// lockClients are the two ways a user can give lockx its client: the
// backend's (the re-check is folded into the grant) or one of its own.
var lockClients = []struct {
	name   string
	shared bool
}{{"lock=backend-client", true}, {"lock=own-client", false}}

// beforeGrant is a go-redis hook that runs fn once, just before the first
// lock grant (lockx's acquire script, sent alone or in a pipeline) for a
// lock key containing match goes out, with that lock key.
type beforeGrant struct {
	match string
	once  sync.Once
	fn    func(lockKey string)
	ran   atomic.Bool
}

func (h *beforeGrant) check(cmds ...redis.Cmder) {
	for _, c := range cmds {
		args := c.Args()
		if len(args) < 4 {
			continue
		}
		name, _ := args[0].(string)
		key, _ := args[3].(string)
		if (name == "evalsha" || name == "eval") && strings.HasPrefix(key, "lockx:") && strings.Contains(key, h.match) {
			h.once.Do(func() { h.fn(key); h.ran.Store(true) })
			return
		}
	}
}

func (h *beforeGrant) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *beforeGrant) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.check(cmd)
		return next(ctx, cmd)
	}
}
func (h *beforeGrant) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.check(cmds...)
		return next(ctx, cmds)
	}
}

// lockedNode is one process with the lockx Locker on the backend's client
// (shared) or on one of its own; hooks are added to both clients.
func lockedNode(t *testing.T, addr string, o memo.Options, shared bool, bo *goredis.Options, hooks ...redis.Hook) (*memo.Cache[string], *goredis.Backend) {
	t.Helper()
	newClient := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		for _, h := range hooks {
			c.AddHook(h)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	client := newClient()
	b, err := goredis.New(client, bo)
	if err != nil {
		t.Fatal(err)
	}
	lockClient := client
	if !shared {
		lockClient = newClient()
	}
	l, err := lockx.New(lockClient, &lockx.Options{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.GetsFrom(b); got != shared {
		t.Fatalf("GetsFrom(backend) = %v, want %v", got, shared)
	}
	o.Locker = l
	return newCache[string](t, b, &o), b
}

// waitGone polls until key no longer exists.
func waitGone(t *testing.T, client *redis.Client, key string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for client.Exists(context.Background(), key).Val() != 0 {
		if time.Now().After(deadline) {
			t.Errorf("%s still exists 5s later", key)
			return
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// TestRecheckSeesStoreBeforeGrant is the race the re-check after a grant
// is for: process A reads a cold key (a miss); before A's lock grant,
// process B loads the key, stores it and releases its lock. A's grant
// succeeds, and its re-check must find B's value: one load in all, and A
// serves B's value without waiting (no lock wait). With the re-check
// folded into A's grant, the read comes after the grant all the same.
func TestRecheckSeesStoreBeforeGrant(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	for _, lc := range lockClients {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			ns := redistest.Prefix(t)
			raw := s.Client(t)
			var loads atomic.Int32
			load := func(v string) memo.LoadFunc[string] {
				return func(context.Context) (string, error) { loads.Add(1); return v, nil }
			}
			b, _ := lockedNode(t, s.Addr, memo.Options{Namespace: ns}, true, nil)
			h := &beforeGrant{match: "race", fn: func(lockKey string) {
				if v, err := b.Get(context.Background(), "race", load("from-b")); err != nil || v != "from-b" {
					t.Errorf("B.Get = %q, %v", v, err)
				}
				waitGone(t, raw, lockKey) // B's unlock runs after its Get returns
			}}
			a, _ := lockedNode(t, s.Addr, memo.Options{Namespace: ns}, lc.shared, nil, h)
			v, err := a.Get(t.Context(), "race", load("from-a"))
			if err != nil || v != "from-b" {
				t.Fatalf("A.Get = %q, %v; want B's value from-b", v, err)
			}
			if !h.ran.Load() {
				t.Fatal("B never ran before A's grant: the race was not staged")
			}
			if n := loads.Load(); n != 1 {
				t.Fatalf("loads = %d, want 1 (A loaded again after B stored)", n)
			}
			if w := a.Stats().LockWaits; w != 0 {
				t.Fatalf("A waited for the lock %d times; want the re-check after its grant to find B's value", w)
			}
		})
	}
}

// TestRecheckBadBytes: bytes that are not a usable entry, found by the
// re-check after the grant (written between the caller's read and the
// grant, or already there at the read), are treated the same whether the
// re-check is folded into the grant or not: a corrupt entry is counted
// once and overwritten, an oversized one is a miss counted by the
// backend's OversizedReads and left alone (the store expects what the
// re-check saw: nothing).
func TestRecheckBadBytes(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	const maxValue = 256
	type outcome struct {
		value           string
		err             error
		loads           int32
		corrupt         uint64
		oversized       int64
		storesSkipped   uint64
		storedIsGarbage bool
	}
	for _, tc := range []struct {
		name        string
		bytes       string
		beforeRead  bool // written before the caller's read (else between it and the grant)
		want        outcome
		wantStoreOK bool
	}{
		{name: "corrupt/between", bytes: "\xc1garbage",
			want: outcome{value: "loaded", loads: 1, corrupt: 1}},
		{name: "corrupt/before-read", bytes: "\xc1garbage", beforeRead: true,
			want: outcome{value: "loaded", loads: 1, corrupt: 1}},
		{name: "oversized/between", bytes: strings.Repeat("x", maxValue+1),
			want: outcome{value: "loaded", loads: 1, oversized: 1, storesSkipped: 1, storedIsGarbage: true}},
		{name: "oversized/before-read", bytes: strings.Repeat("x", maxValue+1), beforeRead: true,
			want: outcome{value: "loaded", loads: 1, oversized: 2, storesSkipped: 1, storedIsGarbage: true}},
	} {
		for _, lc := range lockClients {
			t.Run(tc.name+"/"+lc.name, func(t *testing.T) {
				t.Parallel()
				ns := redistest.Prefix(t)
				raw := s.Client(t)
				var dataKey string
				write := func() {
					if err := raw.Set(context.Background(), dataKey, tc.bytes, time.Minute).Err(); err != nil {
						t.Error(err)
					}
				}
				h := &beforeGrant{match: "k", fn: func(string) {
					if !tc.beforeRead {
						write()
					}
				}}
				c, b := lockedNode(t, s.Addr, memo.Options{Namespace: ns, Logger: discardLogger()}, lc.shared,
					&goredis.Options{MaxValueBytes: maxValue}, h)
				graw, err := raw.Get(t.Context(), memo.GenerationKey(ns, 1)).Bytes()
				if err != nil {
					t.Fatal(err)
				}
				gen, err := memo.ParseGeneration(graw)
				if err != nil {
					t.Fatal(err)
				}
				dataKey = memo.DataKey(ns, 1, gen, "k")
				if tc.beforeRead {
					write()
				}
				var loads atomic.Int32
				v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { loads.Add(1); return "loaded", nil })
				if !h.ran.Load() {
					t.Fatal("no lock grant was seen")
				}
				stored, _ := raw.Get(t.Context(), dataKey).Result()
				st := c.Stats()
				got := outcome{value: v, err: err, loads: loads.Load(), corrupt: st.CorruptEntries,
					oversized: b.OversizedReads(), storesSkipped: st.StoresSkipped, storedIsGarbage: stored == tc.bytes}
				if got != tc.want {
					t.Fatalf("outcome = %+v, want %+v", got, tc.want)
				}
			})
		}
	}
}

// TestFoldNotUsedOverCluster: over a Cluster the lock key and the data
// key live in different slots (nodes): lockx does not fold, and a locked
// miss still loads once and serves what another node stored.
func TestFoldNotUsedOverCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.SharedCluster(t)
	client := cl.Client(t)
	b, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lockx.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.GetsFrom(b) {
		t.Fatal("GetsFrom(backend over the same ClusterClient) = true, want false")
	}
	c := newCache[string](t, b, &memo.Options{Namespace: redistest.Prefix(t), Locker: l, BackendTimeout: 5 * time.Second})
	var loads atomic.Int32
	load := func(context.Context) (string, error) { loads.Add(1); return "v", nil }
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if v, err := c.Get(t.Context(), "k", load); err != nil || v != "v" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("loads = %d, want 1", n)
	}
}

// TestFoldScriptFlush: after SCRIPT FLUSH (a restart, a failover to a
// node that never saw the script) the folded grant is answered NOSCRIPT;
// it is sent again by source with its read, and the locked miss loads
// once, serves the loaded value, and releases its lock.
func TestFoldScriptFlush(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	raw := s.Client(t)
	w := &wire{probe: "flushed"}
	c, _ := lockedNode(t, s.Addr, memo.Options{Namespace: "flush"}, true, nil, w)
	load := func(context.Context) (string, error) { return "v", nil }
	if _, err := c.Get(t.Context(), "warm", load); err != nil {
		t.Fatal(err)
	}
	if err := raw.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	w.watch("flushed")
	var loads atomic.Int32
	v, err := c.Get(t.Context(), "flushed", func(context.Context) (string, error) { loads.Add(1); return "v", nil })
	if err != nil || v != "v" || loads.Load() != 1 {
		t.Fatalf("Get after SCRIPT FLUSH = %q, %v with %d loads; want v, 1 load", v, err, loads.Load())
	}
	trips := w.trips()
	var grants []string
	for _, trip := range trips {
		if strings.Contains(trip, "lockx:") && strings.Contains(trip, "getrange") {
			grants = append(grants, trip)
		}
	}
	if len(grants) != 2 || !strings.HasPrefix(grants[0], "evalsha") || !strings.HasPrefix(grants[1], "eval ") {
		t.Fatalf("folded grants = %q (all trips %q); want one EVALSHA answered NOSCRIPT, then EVAL, each with its read", grants, trips)
	}
	keys, err := raw.Keys(t.Context(), "lockx:*").Result() // a server of this test's own
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		waitGone(t, raw, k)
	}
	if v, err := c.Get(t.Context(), "flushed", func(context.Context) (string, error) { return "", errors.New("loaded again") }); err != nil || v != "v" {
		t.Fatalf("second Get = %q, %v; want the stored v", v, err)
	}
}

// TestRefreshRecheckedAfterGrant: a stale-while-revalidate refresh reads
// the entry (unchanged), then takes the lock; another process stores the
// key in between. With the read folded into the grant (the Locker on the
// backend's client) the refresh sees the new entry and does not load; with
// the Locker on its own client there is no read after the grant, and the
// refresh loads a value its store then refuses (the entry changed). The
// stored value is the other process's either way.
func TestRefreshRecheckedAfterGrant(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	for _, lc := range lockClients {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := memo.Options{Namespace: redistest.Prefix(t), TTL: time.Minute, StaleTTL: time.Hour, Jitter: -1, Now: clk.Now}
			b, _ := lockedNode(t, s.Addr, o, true, nil)
			h := &beforeGrant{match: "k", fn: func(string) {
				if err := b.Set(context.Background(), "k", "from-b"); err != nil {
					t.Errorf("B.Set = %v", err)
				}
			}}
			a, _ := lockedNode(t, s.Addr, o, lc.shared, nil, h)
			var loads atomic.Int32
			load := func(context.Context) (string, error) { loads.Add(1); return "from-a", nil }
			if err := a.Set(t.Context(), "k", "old"); err != nil {
				t.Fatal(err)
			}
			clk.Advance(90 * time.Second) // stale, inside the window
			if v, err := a.Get(t.Context(), "k", load); err != nil || v != "old" {
				t.Fatalf("stale Get = %q, %v; want old", v, err)
			}
			_ = a.Close() // waits for the background refresh
			if !h.ran.Load() {
				t.Fatal("the refresh took no lock: the race was not staged")
			}
			want := int32(1) // a load whose store is refused
			if lc.shared {
				want = 0
			}
			if n := loads.Load(); n != want {
				t.Fatalf("refresh loads = %d, want %d", n, want)
			}
			if v, err := b.Get(t.Context(), "k", load); err != nil || v != "from-b" {
				t.Fatalf("B.Get after the refresh = %q, %v; want from-b", v, err)
			}
		})
	}
}

// TestEarlyRefreshRecheckedAfterGrant is TestRefreshRecheckedAfterGrant
// for an early (XFetch) refresh, which reads the entry before its lock as
// a stale refresh does: another process stores the key between that read
// and the grant. With the read folded into the grant the refresh sees an
// entry that is no longer the one it read, and does not load it again
// (before, it took any fresh entry for one still due, loaded, and its
// store replaced the other process's new value).
func TestEarlyRefreshRecheckedAfterGrant(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	clk := newClock()
	o := memo.Options{Namespace: redistest.Prefix(t), TTL: time.Minute, Jitter: -1, Now: clk.Now,
		Beta: 1, Rand: func() float64 { return 0.999999 }} // -ln(1e-6) ≈ 14 load times early
	b, _ := lockedNode(t, s.Addr, o, true, nil)
	h := &beforeGrant{match: "k", fn: func(string) {
		if err := b.Set(context.Background(), "k", "from-b"); err != nil {
			t.Errorf("B.Set = %v", err)
		}
	}}
	a, _ := lockedNode(t, s.Addr, o, true, nil, h)
	// B loads the key in one (fake) second: that is the load time δ.
	if v, err := b.Get(t.Context(), "k", func(context.Context) (string, error) {
		clk.Advance(time.Second)
		return "old", nil
	}); err != nil || v != "old" {
		t.Fatalf("B.Get = %q, %v; want old", v, err)
	}
	clk.Advance(50 * time.Second) // 10 s before expiry: due for an early refresh
	var loads atomic.Int32
	load := func(context.Context) (string, error) { loads.Add(1); return "from-a", nil }
	if v, err := a.Get(t.Context(), "k", load); err != nil || v != "old" {
		t.Fatalf("A.Get = %q, %v; want old", v, err)
	}
	_ = a.Close() // waits for the background refresh
	if !h.ran.Load() {
		t.Fatal("the early refresh took no lock: the race was not staged")
	}
	if n := loads.Load(); n != 0 {
		t.Errorf("early refresh loads = %d, want 0 (another process stored the key before the grant)", n)
	}
	if v, err := b.Get(t.Context(), "k", load); err != nil || v != "from-b" {
		t.Fatalf("B.Get after the refresh = %q, %v; want from-b", v, err)
	}
}

// The lockx Locker is a GetLocker: checked at compile time, since memo
// finds it by a type assertion that would otherwise fail silently.
var _ memo.GetLocker = (*lockx.Locker)(nil)
