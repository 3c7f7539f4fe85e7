package benchmarks

import (
	"context"
	"sync"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// postGetter reads the Post cached under one key; it fails the benchmark
// on a miss.
type postGetter func() Post

// newMemoGetter returns a memo.Cache[Post] Get over b, answered by the
// backend (l1 = 0) or the typed L1 (l1 > 0), with the value stored first.
func newMemoGetter(b *testing.B, be backend.Backend, ns string, l1 int) postGetter {
	c, err := memo.New[Post](be, &memo.Options{Namespace: ns, TTL: time.Hour, BackendTimeout: benchBackendTimeout, L1Size: l1, L1TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if loads := c.Stats().Loads; loads != 1 {
			b.Errorf("memo loaded %d times: the benchmark measured misses", loads)
		}
		c.Close()
	})
	ctx := context.Background()
	p := newPost()
	load := func(context.Context) (Post, error) { return p, nil }
	if _, err := c.Get(ctx, "post:42", load); err != nil {
		b.Fatal(err)
	}
	return func() Post {
		v, err := c.Get(ctx, "post:42", load)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// newGoCacheGetter returns a go-redis/cache Get of the same Post. With
// local > 0 it has a TinyLFU local cache of that size (which keeps the
// encoded bytes: every hit decodes). plainMsgpack replaces its default
// encoding (msgpack, then s2 compression above 64 bytes) with msgpack alone,
// like memo's default codec.
func newGoCacheGetter(b *testing.B, client *redis.Client, key string, local int, plainMsgpack bool) postGetter {
	opts := &gocache.Options{Redis: client}
	if local > 0 {
		opts.LocalCache = gocache.NewTinyLFU(local, time.Hour)
	}
	if plainMsgpack {
		opts.Marshal = func(v any) ([]byte, error) { return msgpack.Marshal(v) }
		opts.Unmarshal = func(data []byte, v any) error { return msgpack.Unmarshal(data, v) }
	}
	c := gocache.New(opts)
	ctx := context.Background()
	p := newPost()
	if err := c.Set(&gocache.Item{Ctx: ctx, Key: key, Value: &p, TTL: time.Hour}); err != nil {
		b.Fatal(err)
	}
	return func() Post {
		var v Post
		if err := c.Get(ctx, key, &v); err != nil {
			b.Fatal(err)
		}
		return v
	}
}

func newRedis(b *testing.B) (*redis.Client, *goredis.Backend) {
	s := redistest.Shared(b)
	client := s.Client(b)
	be, err := goredis.New(client, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	return client, be
}

// BenchmarkRedisHit: a Get answered by Redis (no in-process tier) of a
// ~650-byte Post: memo over backend/goredis against go-redis/cache (plain
// msgpack, like memo; and its default msgpack+s2) and a raw go-redis GET
// plus msgpack decode. Issue 4's target: memo ≤ 1.15× raw.
func BenchmarkRedisHit(b *testing.B) {
	b.Run("impl=memo", func(b *testing.B) {
		_, be := newRedis(b)
		get := newMemoGetter(b, be, redistest.Prefix(b), 0)
		b.ReportAllocs()
		for b.Loop() {
			sinkPost = get()
		}
	})
	b.Run("impl=gocache", func(b *testing.B) {
		client, _ := newRedis(b)
		get := newGoCacheGetter(b, client, redistest.Prefix(b)+"post:42", 0, true)
		b.ReportAllocs()
		for b.Loop() {
			sinkPost = get()
		}
	})
	b.Run("impl=gocache-s2", func(b *testing.B) {
		client, _ := newRedis(b)
		get := newGoCacheGetter(b, client, redistest.Prefix(b)+"post:42", 0, false)
		b.ReportAllocs()
		for b.Loop() {
			sinkPost = get()
		}
	})
	b.Run("impl=raw", func(b *testing.B) {
		client, _ := newRedis(b)
		get := newRawGetter(b, client, redistest.Prefix(b)+"post:42")
		b.ReportAllocs()
		for b.Loop() {
			sinkPost = get()
		}
	})
}

// newRawGetter is the floor: GET and msgpack decode, nothing else.
func newRawGetter(b *testing.B, client *redis.Client, key string) postGetter {
	ctx := context.Background()
	p := newPost()
	data, err := msgpack.Marshal(&p)
	if err != nil {
		b.Fatal(err)
	}
	if err := client.Set(ctx, key, data, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	return func() Post {
		data, err := client.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var v Post
		if err := msgpack.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// BenchmarkRedisHitInterleaved runs memo and a reference in alternating
// blocks of 16 Gets on one connection pool and reports the ratio: raw
// GET + msgpack decode (the floor), go-redis/cache with plain msgpack,
// eko/gocache's msgpack Marshaler over its Redis store.
func BenchmarkRedisHitInterleaved(b *testing.B) {
	for _, ref := range []string{"raw", "gocache", "eko"} {
		b.Run("ref="+ref, func(b *testing.B) {
			client, be := newRedis(b)
			ours := newMemoGetter(b, be, redistest.Prefix(b), 0)
			theirs := newRedisPeerGetter(b, client, ref)
			interleave(b, 16, "memo", func() { sinkPost = ours() }, ref, func() { sinkPost = theirs() })
		})
	}
}

// BenchmarkRedisHitCtxInterleaved is BenchmarkRedisHitInterleaved against
// the floor (raw GET + msgpack decode) with a context per call that can
// end, the same for both sides: one with a 10 s deadline (ctx=deadline),
// or one that can be cancelled and has no deadline (ctx=cancel, what every
// net/http request context is, and what middleware passes). A caller that
// can leave must not wait for a backend read past its own context, which
// context.Background's hit does not have to care about. Issue 11's target:
// within ~1.1× of the floor, like the context.Background hit.
func BenchmarkRedisHitCtxInterleaved(b *testing.B) {
	for _, kind := range []string{"deadline", "cancel"} {
		b.Run("ctx="+kind+"/ref=raw", func(b *testing.B) {
			client, be := newRedis(b)
			ours := newMemoGetterCtx(b, be, redistest.Prefix(b), kind)
			theirs := newRawGetterCtx(b, client, redistest.Prefix(b)+"post:42", kind)
			interleave(b, 16, "memo", func() { sinkPost = ours() }, "raw", func() { sinkPost = theirs() })
		})
	}
}

// callCtx returns a context for one call: with a 10 s deadline
// ("deadline") or cancellable without one ("cancel").
func callCtx(kind string) (context.Context, context.CancelFunc) {
	if kind == "deadline" {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}
	return context.WithCancel(context.Background())
}

// newMemoGetterCtx is newMemoGetter without L1, each Get under a context
// of its own (see callCtx).
func newMemoGetterCtx(b *testing.B, be backend.Backend, ns, kind string) postGetter {
	c, err := memo.New[Post](be, &memo.Options{Namespace: ns, TTL: time.Hour, BackendTimeout: benchBackendTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if loads := c.Stats().Loads; loads != 1 {
			b.Errorf("memo loaded %d times: the benchmark measured misses", loads)
		}
		c.Close()
	})
	p := newPost()
	load := func(context.Context) (Post, error) { return p, nil }
	if _, err := c.Get(context.Background(), "post:42", load); err != nil {
		b.Fatal(err)
	}
	return func() Post {
		ctx, cancel := callCtx(kind)
		defer cancel()
		v, err := c.Get(ctx, "post:42", load)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// newRawGetterCtx is newRawGetter, each GET under a context of its own
// (see callCtx).
func newRawGetterCtx(b *testing.B, client *redis.Client, key, kind string) postGetter {
	p := newPost()
	data, err := msgpack.Marshal(&p)
	if err != nil {
		b.Fatal(err)
	}
	if err := client.Set(context.Background(), key, data, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	return func() Post {
		ctx, cancel := callCtx(kind)
		defer cancel()
		data, err := client.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var v Post
		if err := msgpack.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// newRedisPeerGetter returns the Redis-tier reference ref ("raw",
// "gocache", "eko") reading the Post under its own key.
func newRedisPeerGetter(b *testing.B, client *redis.Client, ref string) postGetter {
	key := redistest.Prefix(b) + "post:42"
	switch ref {
	case "raw":
		return newRawGetter(b, client, key)
	case "gocache":
		return newGoCacheGetter(b, client, key, 0, true)
	case "eko":
		return newEkoGetter(b, client, key)
	}
	b.Fatalf("unknown reference %q", ref)
	return nil
}

// BenchmarkL1Hit: a Get answered in process. memo's typed L1 returns the
// stored Post without decoding; go-redis/cache's TinyLFU local cache keeps
// bytes and decodes on every hit; sync.Map returning the same Post is the
// floor. Issue 4's target: memo ≤ 100 ns/op, 0 allocs, within 2× of sync.Map.
func BenchmarkL1Hit(b *testing.B) {
	b.Run("impl=memo", func(b *testing.B) {
		get := newMemoL1Getter(b)
		b.ReportAllocs()
		for b.Loop() {
			sinkPost = get()
		}
	})
	b.Run("impl=gocache", func(b *testing.B) {
		client, _ := newRedis(b)
		get := newGoCacheGetter(b, client, redistest.Prefix(b)+"post:42", 1000, true)
		b.ReportAllocs()
		for b.Loop() {
			sinkPost = get()
		}
	})
	b.Run("impl=syncmap", func(b *testing.B) {
		get := newSyncMapPostGetter()
		b.ReportAllocs()
		for b.Loop() {
			sinkPost = get()
		}
	})
}

// newMemoL1Getter: memo with an L1 over backend/memory (the backend does
// not matter for an L1 hit).
func newMemoL1Getter(b *testing.B) postGetter {
	m, err := memory.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return newMemoGetter(b, m, "bench", 1024)
}

func newSyncMapPostGetter() postGetter {
	var m sync.Map
	p := newPost()
	m.Store("post:42", &p)
	return func() Post {
		v, _ := m.Load("post:42")
		return *v.(*Post)
	}
}

// BenchmarkL1HitInterleaved runs memo's L1 and a reference in alternating
// blocks of 256 Gets and reports the ratio. The in-process references
// (sync.Map, otter, ristretto: floors; sturdyc: a peer) hold the Post
// itself and return a copy, as memo's L1 does.
func BenchmarkL1HitInterleaved(b *testing.B) {
	for _, ref := range []struct {
		name string
		new  func(*testing.B) postGetter
	}{
		{"syncmap", func(*testing.B) postGetter { return newSyncMapPostGetter() }},
		{"otter", newOtterPostGetter},
		{"ristretto", newRistrettoPostGetter},
		{"sturdyc", newSturdycGetter},
	} {
		b.Run("ref="+ref.name, func(b *testing.B) {
			ours, theirs := newMemoL1Getter(b), ref.new(b)
			interleave(b, 256, "memo", func() { sinkPost = ours() }, ref.name, func() { sinkPost = theirs() })
		})
	}
	b.Run("ref=gocache", func(b *testing.B) {
		client, _ := newRedis(b)
		ours := newMemoL1Getter(b)
		theirs := newGoCacheGetter(b, client, redistest.Prefix(b)+"post:42", 1000, true)
		interleave(b, 256, "memo", func() { sinkPost = ours() }, "gocache", func() { sinkPost = theirs() })
	})
}
