package benchmarks

import (
	"context"
	"strconv"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// A miss: every call asks for a key no one has asked for, the loader
// answers at once (no origin latency), and the value is stored in Redis.
// This is the cost the cache adds to a cold read: memo without a Locker
// waits for a GET and one compare-and-swap store (its "landed" message in
// the same script); with the lockx Locker for a GET, the lock, a re-check
// and the store (the unlock runs after Get returns). go-redis/cache's Once
// is a GET and a SET (no stale-set protection, no cross-process lock).
// Issue 11 item 3's targets: memo ≤ 1.3× Once, with the Locker ≤ 2×.

// missFunc misses once per call, on a new key.
type missFunc func()

// newMemoMiss returns a memo.Cache[Post] Get of a new key per call (Redis
// tier only), with the lockx Locker if locked. With deadline each Get has a
// context with a deadline (a caller that can leave: the flight runs on its
// own goroutine); without, context.Background (the caller runs the flight).
func newMemoMiss(b *testing.B, locked, deadline bool) missFunc {
	_, be := newRedis(b)
	o := &memo.Options{Namespace: redistest.Prefix(b), TTL: time.Minute, BackendTimeout: 5 * time.Second}
	if locked {
		l, err := lockx.New(redistest.Shared(b).Client(b), &lockx.Options{Prefix: redistest.Prefix(b)})
		if err != nil {
			b.Fatal(err)
		}
		o.Locker = l
	}
	c, err := memo.New[Post](be, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s := c.Stats()
		if s.HitsBackend != 0 || s.StoresSkipped != 0 || s.Loads != s.Misses {
			b.Errorf("memo stats %+v: want every Get a miss that loads and stores", s)
		}
		c.Close()
	})
	ctx := context.Background()
	p := newPost()
	load := func(context.Context) (Post, error) { return p, nil }
	n := 0
	return func() {
		n++
		ctx := ctx
		if deadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
		}
		v, err := c.Get(ctx, "miss:"+strconv.Itoa(n), load)
		if err != nil || v.ID != p.ID {
			b.Fatalf("Get = %v, %v", v.ID, err)
		}
		sinkPost = v
	}
}

// newGoCacheOnce returns a go-redis/cache Once of a new key per call (no
// local cache, plain msgpack like memo), with a context with a deadline per
// call if deadline.
func newGoCacheOnce(b *testing.B, deadline bool) missFunc {
	client, _ := newRedis(b)
	c := gocache.New(&gocache.Options{Redis: client,
		Marshal:   func(v any) ([]byte, error) { return msgpack.Marshal(v) },
		Unmarshal: func(data []byte, v any) error { return msgpack.Unmarshal(data, v) }})
	ctx := context.Background()
	p := newPost()
	prefix := redistest.Prefix(b) + "miss:"
	n := 0
	return func() {
		n++
		ctx := ctx
		if deadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
		}
		var v Post
		loaded := false
		err := c.Once(&gocache.Item{Ctx: ctx, Key: prefix + strconv.Itoa(n), Value: &v, TTL: time.Minute,
			Do: func(*gocache.Item) (any, error) { loaded = true; return &p, nil }})
		if err != nil || !loaded || v.ID != p.ID {
			b.Fatalf("Once = %v, %v (loaded %v)", v.ID, err, loaded)
		}
		sinkPost = v
	}
}

// BenchmarkMiss: one miss per op, each implementation on its own (for
// allocations).
func BenchmarkMiss(b *testing.B) {
	for _, tc := range []struct {
		name string
		miss func(*testing.B) missFunc
	}{
		{"memo", func(b *testing.B) missFunc { return newMemoMiss(b, false, false) }},
		{"memo-deadline", func(b *testing.B) missFunc { return newMemoMiss(b, false, true) }},
		{"memo-lockx", func(b *testing.B) missFunc { return newMemoMiss(b, true, false) }},
		{"gocache-once", func(b *testing.B) missFunc { return newGoCacheOnce(b, false) }},
	} {
		b.Run("impl="+tc.name, func(b *testing.B) {
			miss := tc.miss(b)
			b.ReportAllocs()
			for b.Loop() {
				miss()
			}
		})
	}
}

// BenchmarkMissInterleaved runs memo (without and with the lockx Locker;
// with context.Background and with a deadline, the same for both) and
// go-redis/cache Once in alternating blocks of 16 misses and reports the
// ratio.
func BenchmarkMissInterleaved(b *testing.B) {
	for _, tc := range []struct {
		name             string
		locked, deadline bool
	}{
		{"memo", false, false},
		{"memo-deadline", false, true},
		{"memo-lockx", true, false},
	} {
		b.Run("impl="+tc.name+"/ref=gocache-once", func(b *testing.B) {
			ours, theirs := newMemoMiss(b, tc.locked, tc.deadline), newGoCacheOnce(b, tc.deadline)
			interleave(b, 16, tc.name, ours, "once", theirs)
		})
	}
}
