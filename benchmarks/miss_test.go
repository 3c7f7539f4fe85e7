package benchmarks

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// The miss path: every call reads a key never seen before, "loads" the
// Post (the loader returns it at once, so the cost measured is the cache's
// own) and stores it with a one-hour TTL, sequentially. memo runs without
// L1 and without a Locker (coalescing per process), so a miss is GET and
// one store (SET NX: nothing was there; a compare-and-swap script when
// something was): 2 round trips. The floor is cache-aside by hand: GET
// (nil) + msgpack.Marshal + SET EX, 2 round trips; go-redis/cache's Once
// (singleflight, GET, SET) and eko/gocache's Marshaler (Get, then Set)
// make the same 2. With the lockx Locker memo's miss is GET, lock,
// re-check GET and the store with its "landed" message: 4 (the unlock
// runs after Get returns).

// missFunc runs one miss (fresh key, load, store).
type missFunc func()

// newMemoMiss returns memo's miss path over be; at cleanup it checks that
// every call ran the loader once.
func newMemoMiss(b *testing.B, be backend.Backend, ns string) missFunc {
	return newMemoMissWith(b, be, ns, nil, false)
}

// newMemoMissWith is newMemoMiss with a Locker (nil: none) and, with
// deadline, a context with a deadline per call (a caller that can leave:
// the shared read and the flight run on goroutines of their own, which a
// caller with context.Background runs itself).
func newMemoMissWith(b *testing.B, be backend.Backend, ns string, locker memo.Locker, deadline bool) missFunc {
	c, err := memo.New[Post](be, &memo.Options{Namespace: ns, TTL: time.Hour, BackendTimeout: benchBackendTimeout, Locker: locker})
	if err != nil {
		b.Fatal(err)
	}
	bg := context.Background()
	p := newPost()
	load := func(context.Context) (Post, error) { return p, nil }
	n := 0
	b.Cleanup(func() {
		if loads := c.Stats().Loads; loads != uint64(n) {
			b.Errorf("memo: %d loads for %d misses", loads, n)
		}
		c.Close()
	})
	return func() {
		n++
		ctx := bg
		if deadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(bg, 10*time.Second)
			defer cancel()
		}
		v, err := c.Get(ctx, "miss:"+strconv.Itoa(n), load)
		if err != nil {
			b.Fatal(err)
		}
		sinkPost = v
	}
}

// newPeerMiss returns the miss path of a reference ("raw", "gocache",
// "eko"); the loader-call count is checked at cleanup.
func newPeerMiss(b *testing.B, client *redis.Client, ref string) missFunc {
	return newPeerMissWith(b, client, ref, false)
}

// newPeerMissWith is newPeerMiss with, for "gocache" and deadline, a
// context with a deadline per call, as newMemoMissWith.
func newPeerMissWith(b *testing.B, client *redis.Client, ref string, deadline bool) missFunc {
	ctx := context.Background()
	prefix := redistest.Prefix(b)
	p := newPost()
	n, loads := 0, 0
	load := func() *Post { loads++; return &p }
	b.Cleanup(func() {
		if loads != n {
			b.Errorf("%s: %d loads for %d misses", ref, loads, n)
		}
	})
	key := func() string { n++; return prefix + "miss:" + strconv.Itoa(n) }
	switch ref {
	case "raw":
		return func() {
			k := key()
			if err := client.Get(ctx, k).Err(); !errors.Is(err, redis.Nil) {
				b.Fatalf("raw: GET of a fresh key: %v", err)
			}
			v := load()
			data, err := msgpack.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			if err := client.Set(ctx, k, data, time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
			sinkPost = *v
		}
	case "gocache":
		c := gocache.New(&gocache.Options{Redis: client,
			Marshal:   func(v any) ([]byte, error) { return msgpack.Marshal(v) },
			Unmarshal: func(data []byte, v any) error { return msgpack.Unmarshal(data, v) }})
		return func() {
			ctx := ctx
			if deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
			}
			var v Post
			err := c.Once(&gocache.Item{Ctx: ctx, Key: key(), Value: &v, TTL: time.Hour,
				Do: func(*gocache.Item) (any, error) { return load(), nil }})
			if err != nil {
				b.Fatal(err)
			}
			sinkPost = v
		}
	case "eko":
		c := newEkoCache(client)
		return func() {
			k := key()
			var v Post
			if _, err := c.Get(ctx, k, &v); !isEkoMiss(err) {
				b.Fatalf("eko: Get of a fresh key: %v", err)
			}
			pv := load()
			if err := c.Set(ctx, k, pv); err != nil {
				b.Fatal(err)
			}
			sinkPost = *pv
		}
	}
	b.Fatalf("unknown reference %q", ref)
	return nil
}

// BenchmarkMissInterleaved runs memo's miss path and a reference's in
// alternating blocks of 16 and reports memo/<ref>.
func BenchmarkMissInterleaved(b *testing.B) {
	for _, ref := range []string{"raw", "gocache", "eko"} {
		b.Run("ref="+ref, func(b *testing.B) {
			client, be := newRedis(b)
			ours := newMemoMiss(b, be, redistest.Prefix(b))
			theirs := newPeerMiss(b, client, ref)
			interleave(b, 16, "memo", ours, ref, theirs)
		})
	}
}

// BenchmarkMissLockedInterleaved: memo's miss path against go-redis/cache
// Once, with the lockx Locker (locker=lockx: on the backend's client, as
// the README sets it up, so that the re-check after the grant travels in
// the grant's round trip; locker=lockx-own-client: on a client of its
// own, a round trip more) and with a context with a deadline per call for
// both (ctx=deadline). Issue 11 item 3's targets: ≤ 1.3× Once without a
// Locker, ≤ 2× with it.
func BenchmarkMissLockedInterleaved(b *testing.B) {
	for _, tc := range []struct {
		name             string
		locked, deadline bool
		ownClient        bool
	}{
		{name: "locker=lockx/ctx=background", locked: true},
		{name: "locker=none/ctx=deadline", deadline: true},
		{name: "locker=lockx/ctx=deadline", locked: true, deadline: true},
		{name: "locker=lockx-own-client/ctx=background", locked: true, ownClient: true},
	} {
		b.Run(tc.name+"/ref=gocache", func(b *testing.B) {
			client, be := newRedis(b)
			var locker memo.Locker
			if tc.locked {
				locker = newLockx(b, client, tc.ownClient)
			}
			ours := newMemoMissWith(b, be, redistest.Prefix(b), locker, tc.deadline)
			theirs := newPeerMissWith(b, client, "gocache", tc.deadline)
			interleave(b, 16, "memo", ours, "gocache", theirs)
		})
	}
}

// newLockx returns a lockx Locker over client, or over a client of its own.
func newLockx(b *testing.B, client *redis.Client, ownClient bool) *lockx.Locker {
	b.Helper()
	if ownClient {
		client = redistest.Shared(b).Client(b)
	}
	l, err := lockx.New(client, &lockx.Options{Prefix: redistest.Prefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkMiss runs each miss path alone, for its allocations (the
// interleaved benchmarks report none): memo without and with the lockx
// Locker, and go-redis/cache Once.
func BenchmarkMiss(b *testing.B) {
	for _, impl := range []string{"memo/locker=none", "memo/locker=lockx", "gocache"} {
		b.Run("impl="+impl, func(b *testing.B) {
			client, be := newRedis(b)
			var miss missFunc
			switch impl {
			case "gocache":
				miss = newPeerMiss(b, client, "gocache")
			default:
				var locker memo.Locker
				if impl == "memo/locker=lockx" {
					locker = newLockx(b, client, false)
				}
				miss = newMemoMissWith(b, be, redistest.Prefix(b), locker, false)
			}
			miss() // scripts loaded, connections dialled
			b.ReportAllocs()
			for b.Loop() {
				miss()
			}
		})
	}
}
