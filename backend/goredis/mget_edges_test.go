package goredis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestGetManyOversizedRemembersOnlyItsKey: when a MGET stops at an
// oversized value, go-redis fails the MGETs after it in the same pipeline
// with the same error without reading them. Only the oversized key is
// remembered: the first key of every later group (here a missing key,
// which no bounded read ever "finds small" again) is not, and a GetMany of
// it is still one MGET.
func TestGetManyOversizedRemembersOnlyItsKey(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t) // a server of its own: commands are counted
	b := dial(t, &redis.UniversalOptions{Addrs: []string{srv.Addr}}, &goredis.Options{MaxValueBytes: 1 << 10, ScanCount: 2})
	raw := srv.Client(t)
	ctx := t.Context()
	if err := raw.Set(ctx, "big", bytes.Repeat([]byte("x"), 4<<10), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "a", []byte("va"), time.Minute); err != nil {
		t.Fatal(err)
	}
	// Groups of 2: [big a] [missing1 a] [missing2 a].
	got, err := b.GetMany(ctx, []string{"big", "a", "missing1", "a", "missing2", "a"})
	if err != nil || got[0] != nil || string(got[1]) != "va" || got[2] != nil || got[4] != nil || string(got[5]) != "va" {
		t.Fatalf("GetMany = %q, %v", got, err)
	}
	before := sent(t, raw, "mget")
	got, err = b.GetMany(ctx, []string{"missing1", "missing2", "a"})
	if err != nil || got[0] != nil || got[1] != nil || string(got[2]) != "va" {
		t.Fatalf("GetMany(missing1, missing2, a) = %q, %v", got, err)
	}
	if n := sent(t, raw, "mget") - before; n != 2 {
		t.Fatalf("GetMany of two missing keys and a small one sent %d MGET, want 2 (groups of 2): a key of a group that was never read was remembered as oversized", n)
	}
}

// protocols runs fn as parallel subtests over a standalone client and a
// Cluster client, each speaking RESP2 and RESP3, with one connection per
// node (a connection left with unread bytes would be the next command's).
func protocols(t *testing.T, o *goredis.Options, fn func(t *testing.T, b *goredis.Backend)) {
	for _, proto := range []int{2, 3} {
		for _, cluster := range []bool{false, true} {
			name := fmt.Sprintf("resp%d/standalone", proto)
			uo := &redis.UniversalOptions{Protocol: proto, PoolSize: 1}
			if cluster {
				name = fmt.Sprintf("resp%d/cluster", proto)
				uo.Addrs, uo.IsClusterMode = redistest.SharedCluster(t).Addrs(), true
			} else {
				uo.Addrs = []string{redistest.Shared(t).Addr}
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				fn(t, dial(t, uo, o))
			})
		}
	}
}

// TestGetManyStreamedEdges: over both protocols, standalone and Cluster,
// with one connection: a value of exactly MaxValueBytes is read whole, one
// byte more is a miss (counted), an empty value is present and empty, a
// missing key and a list are misses, a key asked twice gets its value
// twice; and the command after each batch, on the same connection, reads
// its own reply.
func TestGetManyStreamedEdges(t *testing.T) {
	t.Parallel()
	const max = 1 << 10
	protocols(t, &goredis.Options{MaxValueBytes: max}, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		exact := bytes.Repeat([]byte("e"), max)
		over := bytes.Repeat([]byte("o"), max+1)
		c := b.Client()
		for k, v := range map[string][]byte{"exact": exact, "over": over, "empty": {}, "small": []byte("s")} {
			if err := c.Set(ctx, p+k, v, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.RPush(ctx, p+"list", "l").Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Del(context.Background(), p+"list").Err() })
		want := map[string][]byte{"exact": exact, "empty": {}, "small": []byte("s")}
		check := func(what string, names []string) {
			t.Helper()
			keys := make([]string, len(names))
			for i, n := range names {
				keys[i] = p + n
			}
			got, err := b.GetMany(ctx, keys)
			if err != nil || len(got) != len(keys) {
				t.Fatalf("%s: GetMany = %d values, %v", what, len(got), err)
			}
			for i, n := range names {
				w, ok := want[n]
				if (got[i] != nil) != ok || !bytes.Equal(got[i], w) {
					t.Fatalf("%s: GetMany[%d] (%s) = %d bytes (nil %v), want %d (present %v)", what, i, n, len(got[i]), got[i] == nil, len(w), ok)
				}
			}
			// The next commands on the one connection read their own replies.
			if v, err := b.Get(ctx, p+"small"); err != nil || string(v) != "s" {
				t.Fatalf("%s: Get(small) after = %q, %v", what, v, err)
			}
			if v, err := c.Get(ctx, p+"exact").Bytes(); err != nil || !bytes.Equal(v, exact) {
				t.Fatalf("%s: GET exact after = %d bytes, %v", what, len(v), err)
			}
		}
		check("streamed", []string{"exact", "empty", "missing", "small", "exact", "list", "small", "empty"})
		before := b.OversizedReads()
		check("with an oversized value", []string{"exact", "empty", "over", "missing", "small", "exact", "over"})
		if n := b.OversizedReads() - before; n != 2 {
			t.Fatalf("OversizedReads grew by %d, want 2 (the oversized key, asked twice)", n)
		}
		check("remembered", []string{"over", "small", "exact"})
	})
}

// TestGetManyDeadlineMidReply: with one connection and a context deadline
// that expires while a 16 MiB MGET reply streams in, GetMany fails (or
// returns whole values if the read beat it), and the commands after it on
// the same client read their own replies: the connection that held the
// rest of the reply is not reused.
func TestGetManyDeadlineMidReply(t *testing.T) {
	t.Parallel()
	protocols(t, &goredis.Options{MaxValueBytes: 2 << 20}, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		keys := make([]string, 16)
		vals := make(map[string][]byte, len(keys))
		for i := range keys {
			keys[i] = p + "{big}" + strconv.Itoa(i) // one slot: one MGET
			vals[keys[i]] = bytes.Repeat([]byte{byte('a' + i)}, 1<<20)
			if err := b.Set(ctx, keys[i], vals[keys[i]], time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Set(ctx, p+"small", []byte("s"), time.Minute); err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, d := range []time.Duration{50 * time.Microsecond, 200 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond} {
			for range 3 {
				// How soon it returns is TestGetManyPausedServer's: here
				// the reply keeps streaming in until the runtime's timer
				// for the deadline fires, which a loaded machine under
				// -race delays (the read ran 190 ms past a 30 ms deadline,
				// the i/o timeout from go-redis' MGET itself).
				dctx, cancel := context.WithTimeout(ctx, d)
				got, err := b.GetMany(dctx, keys)
				cancel()
				if err != nil {
					failed++
				} else {
					for i, k := range keys {
						if !bytes.Equal(got[i], vals[k]) {
							t.Fatalf("deadline %v: GetMany[%d] = %d bytes, want %d of %q", d, i, len(got[i]), len(vals[k]), vals[k][0])
						}
					}
				}
				if v, err := b.Get(ctx, p+"small"); err != nil || string(v) != "s" {
					t.Fatalf("deadline %v: Get(small) after = %.20q, %v", d, v, err)
				}
				got, err = b.GetMany(ctx, []string{p + "small", keys[3]})
				if err != nil || string(got[0]) != "s" || !bytes.Equal(got[1], vals[keys[3]]) {
					t.Fatalf("deadline %v: GetMany after = %.20q, %v", d, got, err)
				}
			}
		}
		if failed == 0 {
			t.Fatalf("no deadline expired during a read: the test did not test")
		}
	})
}

// TestGetManyPausedServer: a server that stops answering mid-batch: GetMany
// returns by its context's deadline, and once the server answers again the
// one connection reads exact values.
func TestGetManyPausedServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{srv.Addr}, PoolSize: 1}, nil)
	ctx := t.Context()
	keys := []string{"a", "b", "missing"}
	for _, k := range keys[:2] {
		if err := b.Set(ctx, k, []byte("v"+k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	srv.Pause(t)
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err := b.GetMany(dctx, keys)
	took := time.Since(start)
	cancel()
	srv.Resume(t)
	if err == nil || took > 300*time.Millisecond+2*time.Second { // go-redis' ReadTimeout is 3 s
		t.Fatalf("GetMany against a paused server = %v after %v, want an error by its 300ms deadline", err, took)
	}
	got, err := b.GetMany(ctx, keys)
	if err != nil || string(got[0]) != "va" || string(got[1]) != "vb" || got[2] != nil {
		t.Fatalf("GetMany after resume = %q, %v", got, err)
	}
}

// TestGetManyConcurrentSet: GetMany racing Sets of the same keys (values of
// different lengths, each naming its key and version) reads, for every
// key, one whole value that was written under that key.
func TestGetManyConcurrentSet(t *testing.T) {
	t.Parallel()
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		keys := make([]string, 50)
		value := func(k string, v int) []byte {
			head := k + "#" + strconv.Itoa(v) + "#"
			return append([]byte(head), bytes.Repeat([]byte{'x'}, (v*37)%900)...)
		}
		for i := range keys {
			keys[i] = p + "k" + strconv.Itoa(i)
			if err := b.Set(ctx, keys[i], value(keys[i], 0), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 2 {
			wg.Go(func() {
				for v := 1; v <= 150; v++ {
					k := keys[(v*7+w)%len(keys)]
					if err := b.Set(ctx, k, value(k, v), time.Minute); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for range 3 {
			wg.Go(func() {
				for range 60 {
					got, err := b.GetMany(ctx, append(keys, keys[:5]...))
					if err != nil {
						errs <- err
						return
					}
					for i, g := range got {
						k := keys[i%len(keys)]
						head, _, ok := bytes.Cut(g, []byte("#"))
						ver, _, ok2 := bytes.Cut(g[len(head)+1:], []byte("#"))
						v, err := strconv.Atoi(string(ver))
						if !ok || !ok2 || err != nil || string(head) != k || !bytes.Equal(g, value(k, v)) {
							errs <- fmt.Errorf("GetMany[%d] (%s) = %.40q (%d bytes): not a value written under it", i, k, g, len(g))
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// TestGetManyTenThousand: a batch of 10,000 keys (values of varied
// lengths, some missing, some empty) over both protocols reads exactly.
func TestGetManyTenThousand(t *testing.T) {
	t.Parallel()
	protocols(t, nil, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		keys := make([]string, 10000)
		want := make([][]byte, len(keys))
		var items []backend.Item
		for i := range keys {
			keys[i] = p + strconv.Itoa(i)
			switch {
			case i%7 == 3:
				continue // missing
			case i%11 == 5:
				want[i] = []byte{}
			default:
				want[i] = []byte(strconv.Itoa(i) + strings.Repeat("-", i%300))
			}
			items = append(items, backend.Item{Key: keys[i], Value: want[i], TTL: time.Minute})
		}
		if err := b.SetMany(ctx, items); err != nil {
			t.Fatal(err)
		}
		got, err := b.GetMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if (got[i] == nil) != (want[i] == nil) || !bytes.Equal(got[i], want[i]) {
				t.Fatalf("GetMany[%d] = %.30q (nil %v), want %.30q (nil %v)", i, got[i], got[i] == nil, want[i], want[i] == nil)
			}
		}
	})
}

// TestGetManyListWithOversized: a key holding a list reads as missing (the
// package documentation: "MGET answers nil for a key holding another type
// than a string, so GetMany reads such a key as missing") also when
// another key of the batch is oversized and the batch is read again with
// the bounded GETRANGEs, which Redis answers WRONGTYPE for a list: the
// batch's other values are not lost to an error.
func TestGetManyListWithOversized(t *testing.T) {
	t.Parallel()
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		c := b.Client()
		if err := c.RPush(ctx, p+"list", "l").Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Del(context.Background(), p+"list").Err() })
		if err := c.Set(ctx, p+"big", bytes.Repeat([]byte("x"), b.MaxValueBytes()+1), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Del(context.Background(), p+"big").Err() })
		for _, k := range []string{"a", "empty"} {
			v := k
			if k == "empty" {
				v = ""
			}
			if err := b.Set(ctx, p+k, []byte(v), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		for _, names := range [][]string{{"a", "list", "empty", "missing"}, {"a", "list", "big", "empty", "missing"}} {
			keys := make([]string, len(names))
			for i, n := range names {
				keys[i] = p + n
			}
			got, err := b.GetMany(ctx, keys)
			if err != nil {
				t.Fatalf("GetMany(%v) = %v", names, err)
			}
			want := map[string]string{"a": "a", "empty": ""}
			for i, n := range names {
				w, ok := want[n]
				if (got[i] != nil) != ok || string(got[i]) != w {
					t.Fatalf("GetMany(%v)[%s] = %q (nil %v), want %q (present %v)", names, n, got[i], got[i] == nil, w, ok)
				}
			}
		}
	})
}

// TestGetManyMigratingSlotDistinctValues: during a slot's migration, over
// RESP2 and RESP3, with one connection per node, a GetMany of the slot's
// keys (each with its own value) in every state — none moved (the source
// answers), some moved (TRYAGAIN), all moved (ASK) — reads every key's own
// value, a missing key of the slot as missing, and keys of other slots
// alongside.
func TestGetManyMigratingSlotDistinctValues(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	ctx := t.Context()
	const tag = "m"
	slot := int(goredisSlot(tag))
	from := ownerOf(cl, slot)
	to := (from + 1) % len(cl.Nodes)
	var bs []*goredis.Backend
	for _, proto := range []int{2, 3} {
		bs = append(bs, dial(t, &redis.UniversalOptions{Addrs: cl.Addrs(), IsClusterMode: true, Protocol: proto, PoolSize: 1}, nil))
	}
	p := prefix(t)
	var inSlot, keys []string
	want := map[string]string{}
	for i := range 12 {
		k := fmt.Sprintf("%s{%s}:%d", p, tag, i)
		inSlot = append(inSlot, k)
		want[k] = fmt.Sprintf("value of %d %s", i, strings.Repeat("+", i*13))
		o := fmt.Sprintf("%sother:%d", p, i)
		want[o] = "other " + strconv.Itoa(i)
		keys = append(keys, k, o)
	}
	keys = append(keys, p+"{"+tag+"}:missing")
	for k, v := range want {
		if err := bs[0].Set(ctx, k, []byte(v), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	check := func(state string) {
		t.Helper()
		for i, b := range bs {
			got, err := b.GetMany(ctx, keys)
			if err != nil {
				t.Fatalf("%s, RESP%d: GetMany = %v", state, i+2, err)
			}
			for j, k := range keys {
				w, ok := want[k]
				if (got[j] != nil) != ok || string(got[j]) != w {
					t.Fatalf("%s, RESP%d: GetMany[%s] = %q (nil %v), want %q", state, i+2, k, got[j], got[j] == nil, w)
				}
			}
		}
	}
	if err := cl.BeginMigration(ctx, slot, from, to); err != nil {
		t.Fatal(err)
	}
	check("migration begun, nothing moved")
	if err := cl.MigrateKeys(ctx, from, to, inSlot[:5]...); err != nil {
		t.Fatal(err)
	}
	check("5 of 12 moved")
	if err := cl.MigrateKeys(ctx, from, to, inSlot[5:]...); err != nil {
		t.Fatal(err)
	}
	check("all moved, slot still migrating")
}

// TestGetManyTimeoutNoFallback: a MGET whose time runs out (the client's
// read timeout, no context deadline; or the caller's deadline) fails the
// batch at once: the bounded re-read, which serves oversized values and
// redirections, would only wait as long again on a server that does not
// answer.
func TestGetManyTimeoutNoFallback(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{srv.Addr}, PoolSize: 1, ReadTimeout: 200 * time.Millisecond}, nil)
	ctx := t.Context()
	keys := []string{"a", "b", "missing"}
	if err := b.Set(ctx, "a", []byte("va"), time.Minute); err != nil {
		t.Fatal(err)
	}
	var rt roundTrips
	b.Client().AddHook(&rt)
	for _, withDeadline := range []bool{false, true} {
		rt.pipes.Store(0)
		srv.Pause(t)
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if withDeadline {
			cctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
		}
		got, err := b.GetMany(cctx, keys)
		cancel()
		srv.Resume(t)
		if err == nil || got != nil {
			t.Fatalf("GetMany (deadline %v) against a paused server = %q, %v; want an error", withDeadline, got, err)
		}
		// (Commands outside pipelines are the pool's handshakes, HELLO,
		// as it dials again.)
		if p := rt.pipes.Load(); p != 1 {
			t.Fatalf("GetMany (deadline %v) against a paused server sent %d pipelines, want 1 (no bounded re-read)", withDeadline, p)
		}
		if withDeadline && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("GetMany past its deadline = %v, want context.DeadlineExceeded", err)
		}
	}
	got, err := b.GetMany(ctx, keys)
	if err != nil || string(got[0]) != "va" || got[1] != nil || got[2] != nil {
		t.Fatalf("GetMany after resume = %q, %v", got, err)
	}
}
