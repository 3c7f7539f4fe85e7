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
	"github.com/cachekit/cachekit/memo"
)

// The miss path: every call reads a key never seen before, "loads" the
// Post (the loader returns it at once, so the cost measured is the cache's
// own) and stores it with a one-hour TTL, sequentially. memo runs without
// L1 and without a Locker (coalescing per process), so a miss is GET,
// re-check GET and one compare-and-swap + PUBLISH script: 3 round trips.
// The floor is cache-aside by hand: GET (nil) + msgpack.Marshal + SET EX,
// 2 round trips; go-redis/cache's Once (singleflight, GET, SET) and
// eko/gocache's Marshaler (Get, then Set) make the same 2.

// missFunc runs one miss (fresh key, load, store).
type missFunc func()

// newMemoMiss returns memo's miss path over be; at cleanup it checks that
// every call ran the loader once.
func newMemoMiss(b *testing.B, be backend.Backend, ns string) missFunc {
	c, err := memo.New[Post](be, &memo.Options{Namespace: ns, TTL: time.Hour, BackendTimeout: benchBackendTimeout})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
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
