package goredis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// allocated returns the bytes the process allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestOversizedReadIsBoundedMiss: a 20 MiB value written by a raw client
// reads as a miss (ErrNotFound and ErrTooLarge) through Get, GetMany and a
// pipeline Get, and the read allocates at most MaxValueBytes plus a little,
// never the 20 MiB the raw GET allocates. Not parallel: it measures the
// process' allocation.
func TestOversizedReadIsBoundedMiss(t *testing.T) {
	const big = 20 << 20
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		max  int // 0 = default
	}{{"default", 0}, {"64KiB", 64 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, topo := range []struct {
				name string
				uo   *redis.UniversalOptions
			}{
				{"standalone", &redis.UniversalOptions{Addrs: []string{redistest.Shared(t).Addr}}},
				{"cluster", &redis.UniversalOptions{Addrs: redistest.SharedCluster(t).Addrs(), IsClusterMode: true}},
			} {
				t.Run(topo.name, func(t *testing.T) {
					b := dial(t, topo.uo, &goredis.Options{MaxValueBytes: tc.max})
					max := tc.max
					if max == 0 {
						max = backend.DefaultMaxValueBytes
					}
					key := prefix(t) + "big"
					if err := b.Client().Set(ctx, key, bytes.Repeat([]byte("x"), big), time.Minute).Err(); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = b.Client().Del(context.Background(), key).Err() })
					before := b.OversizedReads()
					var err error
					n := allocated(func() { _, err = b.Get(ctx, key) })
					if !errors.Is(err, backend.ErrNotFound) || !errors.Is(err, backend.ErrTooLarge) {
						t.Fatalf("Get(20 MiB value) = %v, want ErrNotFound and ErrTooLarge", err)
					}
					if limit := uint64(max) + 1<<20; n > limit {
						t.Fatalf("Get(20 MiB value) allocated %d bytes, want ≤ %d (MaxValueBytes %d + 1 MiB)", n, limit, max)
					}
					t.Logf("Get of a 20 MiB value with MaxValueBytes %d allocated %d bytes", max, n)
					var vals [][]byte
					n = allocated(func() { vals, err = b.GetMany(ctx, []string{key, key + "missing"}) })
					if err != nil || len(vals) != 2 || vals[0] != nil || vals[1] != nil {
						t.Fatalf("GetMany(20 MiB value, missing) = %d values, %v; want [nil nil]", len(vals), err)
					}
					if limit := uint64(max) + 1<<20; n > limit {
						t.Fatalf("GetMany(20 MiB value) allocated %d bytes, want ≤ %d", n, limit)
					}
					n = allocated(func() { _, err = b.GetNonEmpty(ctx, key) })
					if !errors.Is(err, backend.ErrNotFound) || !errors.Is(err, backend.ErrTooLarge) {
						t.Fatalf("GetNonEmpty(20 MiB value) = %v, want ErrNotFound and ErrTooLarge", err)
					}
					if limit := uint64(max) + 1<<20; n > limit {
						t.Fatalf("GetNonEmpty(20 MiB value) allocated %d bytes, want ≤ %d", n, limit)
					}
					if got := b.OversizedReads() - before; got != 3 {
						t.Fatalf("OversizedReads grew by %d, want 3", got)
					}
					// The control: a raw GET allocates the whole value.
					if n := allocated(func() { _ = b.Client().Get(ctx, key).Err() }); n < big {
						t.Fatalf("raw GET allocated %d bytes, want ≥ %d (the measurement is blind)", n, big)
					}
				})
			}
		})
	}
}

// TestMaxValueBytesBeforeIO: every write path rejects a value over
// MaxValueBytes with ErrTooLarge without touching the network (the server
// is paused: a request that reached it would hang to the deadline), and
// exactly MaxValueBytes is accepted once the server is back.
func TestMaxValueBytesBeforeIO(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	const max = 1000
	b := dial(t, &redis.UniversalOptions{Addrs: []string{s.Addr}}, &goredis.Options{MaxValueBytes: max})
	ctx := t.Context()
	if err := b.Set(ctx, "k", []byte("old"), time.Minute); err != nil {
		t.Fatal(err)
	}
	over := make([]byte, max+1)
	s.Pause(t)
	start := time.Now()
	if err := b.Set(ctx, "k", over, time.Minute); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("Set(%d bytes) = %v, want ErrTooLarge", len(over), err)
	}
	if err := b.SetMany(ctx, []backend.Item{{Key: "a", Value: []byte("x"), TTL: time.Minute}, {Key: "k", Value: over, TTL: time.Minute}}); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("SetMany(one item over) = %v, want ErrTooLarge", err)
	}
	if _, err := b.CompareAndSwap(ctx, "k", []byte("old"), over, time.Minute); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("CompareAndSwap(%d bytes) = %v, want ErrTooLarge", len(over), err)
	}
	if _, err := backend.Pipeline(ctx, b, []backend.Op{backend.GetOp("k"), backend.SetOp("k", over, time.Minute)}); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("Pipeline(Set %d bytes) = %v, want ErrTooLarge", len(over), err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("rejecting oversized values took %v: some call went to the paused server", took)
	}
	s.Resume(t)
	if v, err := b.Get(ctx, "k"); err != nil || string(v) != "old" {
		t.Fatalf("Get(k) after rejected writes = %q, %v; want old", v, err)
	}
	if _, err := b.Get(ctx, "a"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("a rejected SetMany stored another item: Get(a) = %v", err)
	}
	if err := b.Set(ctx, "k", over[:max], time.Minute); err != nil {
		t.Fatalf("Set(exactly MaxValueBytes) = %v", err)
	}
	if v, err := b.Get(ctx, "k"); err != nil || len(v) != max {
		t.Fatalf("Get(exactly MaxValueBytes) = %d bytes, %v; want %d", len(v), err, max)
	}
	for _, bad := range []int{-1, 512<<20 + 1} {
		if _, err := goredis.New(b.Client(), &goredis.Options{MaxValueBytes: bad}); err == nil {
			t.Errorf("New(MaxValueBytes %d) = nil error, want an error", bad)
		}
	}
}

// TestSubMillisecondTTLRounds: a TTL is stored rounded up to a whole
// millisecond, like the memory backend does. PEXPIRETIME − the server's
// TIME taken just before and after the write brackets the stored TTL; the
// write is retried until both TIMEs fall in the same millisecond, which
// pins it exactly.
func TestSubMillisecondTTLRounds(t *testing.T) {
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		key := prefix(t) + "k"
		node := redis.UniversalClient(b.Client())
		if cc, ok := node.(*redis.ClusterClient); ok {
			c, err := cc.MasterForKey(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			node = c
		}
		ms := func() int64 {
			tm, err := node.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			return tm.UnixMilli()
		}
		for _, c := range []struct{ ttl, stored time.Duration }{
			{time.Hour + 500*time.Microsecond, time.Hour + time.Millisecond},
			{time.Hour + time.Nanosecond, time.Hour + time.Millisecond},
			{time.Hour, time.Hour},
		} {
			for try := 0; ; try++ {
				t0 := ms()
				if err := b.Set(ctx, key, []byte("v"), c.ttl); err != nil {
					t.Fatal(err)
				}
				t1 := ms()
				at, err := node.PExpireTime(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				if t0 != t1 {
					if try == 50 {
						t.Skipf("never got a write inside one server millisecond")
					}
					continue
				}
				if got := at - time.Duration(t0)*time.Millisecond; got != c.stored {
					t.Fatalf("Set(ttl %v) stored %v, want %v (rounded up to a whole millisecond)", c.ttl, got, c.stored)
				}
				break
			}
		}
	})
}

// TestGetManyLargeGroup: one read group of 2,500 keys returns every value
// in order, nil for the missing ones, a non-nil empty slice for an empty
// value (the group's EXISTS count then differs from its non-empty replies,
// so its empty replies are read again), and a miss for each oversized
// value.
func TestGetManyLargeGroup(t *testing.T) {
	t.Parallel()
	const n, max = 2500, 1000
	b := dial(t, &redis.UniversalOptions{Addrs: []string{redistest.Shared(t).Addr}}, &goredis.Options{MaxValueBytes: max, ScanCount: 5000})
	ctx := t.Context()
	p := prefix(t)
	keys := make([]string, n)
	pipe := b.Client().Pipeline()
	want := make([][]byte, n)
	oversized := map[int]bool{10: true, 1500: true, 2499: true}
	for i := range keys {
		keys[i] = fmt.Sprintf("%sk%d", p, i)
		switch {
		case oversized[i]:
			pipe.Set(ctx, keys[i], bytes.Repeat([]byte("o"), max+1), time.Minute)
		case i == 1200:
			want[i] = []byte{}
			pipe.Set(ctx, keys[i], "", time.Minute)
		case i%7 == 3: // missing
		default:
			want[i] = []byte(fmt.Sprint("v", i))
			pipe.Set(ctx, keys[i], want[i], time.Minute)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	before := b.OversizedReads()
	got, err := b.GetMany(ctx, keys)
	if err != nil || len(got) != n {
		t.Fatalf("GetMany(%d keys) = %d values, %v", n, len(got), err)
	}
	for i := range keys {
		if (got[i] == nil) != (want[i] == nil) || !bytes.Equal(got[i], want[i]) {
			t.Fatalf("GetMany[%d] = %q (nil %v), want %q (nil %v)", i, got[i], got[i] == nil, want[i], want[i] == nil)
		}
	}
	if d := b.OversizedReads() - before; d != int64(len(oversized)) {
		t.Fatalf("OversizedReads grew by %d, want %d", d, len(oversized))
	}
}

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ cmds, pipes atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.pipes.Add(1)
		return next(ctx, cmds)
	}
}

// TestGetManyOneRoundTrip: a GetMany of present and missing keys is one
// pipeline and nothing else, on a standalone server and on a Cluster, and
// so is one with an empty value (a MGET tells it from a missing key).
func TestGetManyOneRoundTrip(t *testing.T) {
	t.Parallel()
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		var keys []string
		var items []backend.Item
		for i := range 100 {
			k := fmt.Sprintf("%s{%d}k", p, i%7)
			keys = append(keys, k, k+"missing")
			items = append(items, backend.Item{Key: k, Value: []byte(k), TTL: time.Minute})
		}
		if err := b.SetMany(ctx, items); err != nil {
			t.Fatal(err)
		}
		var rt roundTrips
		b.Client().AddHook(&rt)
		got, err := b.GetMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if want := i%2 == 0; (got[i] != nil) != want || (want && string(got[i]) != k) {
				t.Fatalf("GetMany[%s] = %q", k, got[i])
			}
		}
		if c, pp := rt.cmds.Load(), rt.pipes.Load(); c != 0 || pp != 1 {
			t.Fatalf("GetMany of hits and misses sent %d commands and %d pipelines, want 0 and 1", c, pp)
		}
		empty := p + "{0}empty"
		if err := b.Client().Set(ctx, empty, "", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		rt.cmds.Store(0)
		rt.pipes.Store(0)
		got, err = b.GetMany(ctx, []string{keys[0], empty, keys[1]})
		if err != nil || got[1] == nil || len(got[1]) != 0 || got[2] != nil || string(got[0]) != keys[0] {
			t.Fatalf("GetMany(value, empty, missing) = %q, %v", got, err)
		}
		if c, pp := rt.cmds.Load(), rt.pipes.Load(); c != 0 || pp != 1 {
			t.Fatalf("GetMany with an empty value sent %d commands and %d pipelines, want 0 and 1", c, pp)
		}
	})
}

// TestGetCostsARawGET: a hit and a miss each take one round trip of
// GETRANGE and EXISTS and no script; an empty value adds the checked-read
// script and reads back empty, not missing. A hit allocates at most 5
// more times than a raw go-redis GET read as bytes (the second command,
// the pipeline's bookkeeping), a miss no more than a raw GET miss (which
// pays go-redis' redis.Nil error path). Not parallel: it counts the
// process' allocations.
func TestGetCostsARawGET(t *testing.T) {
	s := redistest.Start(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{s.Addr}}, nil)
	raw := s.Client(t)
	ctx := t.Context()
	if err := b.Set(ctx, "hit", make([]byte, 64), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "empty", []byte{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		want   error
		script bool
	}{{"hit", nil, false}, {"missing", backend.ErrNotFound, false}, {"empty", nil, true}} {
		raw.ConfigResetStat(ctx)
		v, err := b.Get(ctx, tc.key)
		if !errors.Is(err, tc.want) || (err == nil && v == nil) {
			t.Fatalf("Get(%q) = %q, %v; want a value or %v", tc.key, v, err, tc.want)
		}
		for cmd, want := range map[string]int{"getrange": 1, "exists": 1, "get": 0} {
			if tc.script && cmd == "get" {
				continue // the script's GET
			}
			if n := sent(t, raw, cmd); n != want {
				t.Errorf("Get(%q) sent %s %d times, want %d", tc.key, cmd, n, want)
			}
		}
		if n := sent(t, raw, "evalsha") + sent(t, raw, "eval"); (n > 0) != tc.script {
			t.Errorf("Get(%q) ran %d scripts, want a script: %v", tc.key, n, tc.script)
		}
	}

	if raceEnabled {
		return // allocation counts: without -race only
	}
	c := b.Client()
	for _, tc := range []struct {
		key   string
		extra float64
	}{{"hit", 5}, {"missing", 0}} {
		ours := testing.AllocsPerRun(200, func() {
			if _, err := b.Get(ctx, tc.key); err != nil && !errors.Is(err, backend.ErrNotFound) {
				t.Fatal(err)
			}
		})
		ref := testing.AllocsPerRun(200, func() {
			if _, err := c.Get(ctx, tc.key).Bytes(); err != nil && err != redis.Nil {
				t.Fatal(err)
			}
		})
		if ours > ref+tc.extra {
			t.Errorf("Get(%s): %v allocations, want ≤ %v (a raw GET read as bytes: %v)", tc.key, ours, ref+tc.extra, ref)
		}
		t.Logf("Get(%s): %v allocations; raw GET: %v", tc.key, ours, ref)
	}
}

// TestReusedPipelinesConcurrent: Get and GetMany share reused pipelines;
// many goroutines reading their own keys on one Backend, some with
// contexts that end mid-read, each get their own values and misses, never
// another caller's (go test -race checks the pipelines are not shared).
func TestReusedPipelinesConcurrent(t *testing.T) {
	t.Parallel()
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		const workers, rounds = 16, 60
		var items []backend.Item
		for w := range workers {
			for i := range 4 {
				k := fmt.Sprintf("%sw%d:%d", p, w, i)
				items = append(items, backend.Item{Key: k, Value: []byte(k), TTL: time.Minute})
			}
		}
		if err := b.SetMany(ctx, items); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, workers)
		for w := range workers {
			go func() {
				errs <- func() error {
					for r := range rounds {
						k := fmt.Sprintf("%sw%d:%d", p, w, r%4)
						missing := k + "missing"
						if r%5 == 4 {
							// A context that ends during the read: the
							// pipeline goes back to the pool after an error.
							cctx, cancel := context.WithTimeout(ctx, time.Duration(r%3)*50*time.Microsecond)
							_, _ = b.Get(cctx, k)
							_, _ = b.GetMany(cctx, []string{k, missing})
							cancel()
							continue
						}
						if r%2 == 0 {
							v, err := b.Get(ctx, k)
							if err != nil || string(v) != k {
								return fmt.Errorf("Get(%s) = %q, %v", k, v, err)
							}
							if v, err := b.Get(ctx, missing); !errors.Is(err, backend.ErrNotFound) {
								return fmt.Errorf("Get(%s) = %q, %v; want ErrNotFound", missing, v, err)
							}
							continue
						}
						got, err := b.GetMany(ctx, []string{missing, k})
						if err != nil || got[0] != nil || string(got[1]) != k {
							return fmt.Errorf("GetMany(%s, %s) = %q, %v", missing, k, got, err)
						}
					}
					return nil
				}()
			}()
		}
		for range workers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestGetNonEmpty: the read for callers that never store empty values is
// one GETRANGE, hit or miss (memo's miss costs one command less); a value
// reads whole, a missing key and an empty value are ErrNotFound.
func TestGetNonEmpty(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t) // a server of its own: commands are counted
	b := dial(t, &redis.UniversalOptions{Addrs: []string{srv.Addr}}, nil)
	raw := srv.Client(t)
	ctx := t.Context()
	p := prefix(t)
	if err := b.Set(ctx, p+"v", []byte("value"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, p+"empty", []byte{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	before := sent(t, raw, "getrange") + sent(t, raw, "exists") + sent(t, raw, "get")
	if v, err := b.GetNonEmpty(ctx, p+"v"); err != nil || string(v) != "value" {
		t.Fatalf("GetNonEmpty(v) = %q, %v", v, err)
	}
	for _, k := range []string{"missing", "empty"} {
		if v, err := b.GetNonEmpty(ctx, p+k); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("GetNonEmpty(%s) = %q, %v; want ErrNotFound", k, v, err)
		}
	}
	if n := sent(t, raw, "getrange") + sent(t, raw, "exists") + sent(t, raw, "get") - before; n != 3 {
		t.Fatalf("3 GetNonEmpty calls sent %d read commands, want 3 (one GETRANGE each)", n)
	}
	// Get still tells the empty value from the missing key.
	if v, err := b.Get(ctx, p+"empty"); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %q (nil %v), %v; want a present empty value", v, v == nil, err)
	}
}

// TestGetManyStreamedOversized: GetMany reads with one MGET, each value's
// length checked as the reply streams in. A 20 MiB value in the batch stops
// the MGET at its header: the connection is closed with the value unread
// (the client has one connection, so a reused one would hand the next
// command the value's bytes as its reply) and the batch is read again with
// bounded GETRANGEs: a miss for the big value, the others whole, one
// oversized read counted. The key is remembered: the next GetMany holding
// it reads with GETRANGE at once, no MGET; once the key holds a small value
// again, a bounded read forgets it and GetMany is back to one MGET.
func TestGetManyStreamedOversized(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t) // a server of its own: commands are counted
	b := dial(t, &redis.UniversalOptions{Addrs: []string{srv.Addr}, PoolSize: 1}, &goredis.Options{MaxValueBytes: 64 << 10})
	raw := srv.Client(t)
	ctx := t.Context()
	keys := []string{"a", "big", "missing", "empty", "b"}
	if err := raw.Set(ctx, "big", bytes.Repeat([]byte("x"), 20<<20), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"a": "va", "empty": "", "b": "vb"} {
		if err := b.Set(ctx, k, []byte(v), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, got [][]byte, err error, big string) {
		t.Helper()
		want := map[string]string{"a": "va", "big": big, "empty": "", "b": "vb"}
		if err != nil || len(got) != len(keys) {
			t.Fatalf("%s: GetMany = %d values, %v", what, len(got), err)
		}
		for i, k := range keys {
			w, ok := want[k]
			if ok && k == "big" && big == "" {
				ok = false // the oversized value: a miss
			}
			if (got[i] != nil) != ok || string(got[i]) != w && ok {
				t.Fatalf("%s: GetMany[%s] = %q (nil %v), want %q (present %v)", what, k, got[i], got[i] == nil, w, ok)
			}
		}
	}
	counts := func() (mget, getrange int) { return sent(t, raw, "mget"), sent(t, raw, "getrange") }

	before := b.OversizedReads()
	got, err := b.GetMany(ctx, keys)
	check("first read", got, err, "")
	if n := b.OversizedReads() - before; n != 1 {
		t.Fatalf("OversizedReads grew by %d, want 1", n)
	}
	m0, g0 := counts()
	if m0 != 1 || g0 != len(keys) {
		t.Fatalf("first read sent %d MGET and %d GETRANGE, want 1 (stopped) and %d (the bounded re-read)", m0, g0, len(keys))
	}
	// The connection that had the value in flight was closed: these run on
	// a fresh one.
	if v, err := b.Get(ctx, "a"); err != nil || string(v) != "va" {
		t.Fatalf("Get(a) after the stopped MGET = %q, %v", v, err)
	}
	got, err = b.GetMany(ctx, []string{"a", "b"})
	if err != nil || string(got[0]) != "va" || string(got[1]) != "vb" {
		t.Fatalf("GetMany(a, b) after the stopped MGET = %q, %v", got, err)
	}
	got, err = b.GetMany(ctx, keys)
	check("second read", got, err, "")
	m1, g1 := counts()
	if m1 != m0+1 || g1 != g0+1+len(keys) {
		t.Fatalf("Get, GetMany(a, b) and GetMany(big...) sent %d MGET and %d GETRANGE, want 1 and %d (big is remembered)", m1-m0, g1-g0, 1+len(keys))
	}

	if err := b.Set(ctx, "big", []byte("small now"), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err = b.GetMany(ctx, keys) // bounded (remembered), and forgets big
	check("after the overwrite", got, err, "small now")
	got, err = b.GetMany(ctx, keys)
	check("after the overwrite, again", got, err, "small now")
	m2, g2 := counts()
	if m2 != m1+1 || g2 != g1+len(keys) {
		t.Fatalf("two GetMany after the overwrite sent %d MGET and %d GETRANGE, want 1 and %d", m2-m1, g2-g1, len(keys))
	}
	if n := b.OversizedReads() - before; n != 2 {
		t.Fatalf("OversizedReads grew by %d, want 2", n)
	}
}

// TestGetManyAllocs: GetMany of 100 present 700-byte values allocates no
// more than one allocation per value plus a constant (go-redis' limited
// reader per streamed value; the values share a few allocations), under a
// third of a raw MGET read as bytes (a string per value, its []byte copy,
// the reply's []any).
func TestGetManyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts: without -race only")
	}
	b := newStandalone(t)
	ctx := t.Context()
	p := prefix(t)
	keys := make([]string, 100)
	items := make([]backend.Item, len(keys))
	for i := range keys {
		keys[i] = fmt.Sprintf("%sk%d", p, i)
		items[i] = backend.Item{Key: keys[i], Value: bytes.Repeat([]byte{byte(i)}, 700), TTL: time.Minute}
	}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	c := b.Client()
	ours := testing.AllocsPerRun(50, func() {
		got, err := b.GetMany(ctx, keys)
		if err != nil || len(got[99]) != 700 {
			t.Fatalf("GetMany = %d values, %v", len(got), err)
		}
	})
	ref := testing.AllocsPerRun(50, func() {
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		out := make([][]byte, len(vals))
		for i, v := range vals {
			out[i] = []byte(v.(string))
		}
	})
	t.Logf("GetMany of 100 values: %v allocations; raw MGET read as bytes: %v", ours, ref)
	if ours > 100+20 || ours > ref/3 {
		t.Fatalf("GetMany of 100 values: %v allocations, want ≤ 120 and ≤ a third of a raw MGET's %v", ours, ref)
	}
}
