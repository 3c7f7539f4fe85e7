package benchmarks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	ekocache "github.com/eko/gocache/lib/v4/cache"
	ekomarshaler "github.com/eko/gocache/lib/v4/marshaler"
	ekostore "github.com/eko/gocache/lib/v4/store"
	ekoredis "github.com/eko/gocache/store/redis/v4"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"
)

// The peers added for issue 13's report: eko/gocache (lib/v4 with its
// msgpack Marshaler over store/redis/v4), sturdyc (in-process, with an
// optional Redis "distributed storage" we write for it: sturdyc encodes
// JSON itself) and ristretto v2 (in-process floor beside otter).

// newEkoCache returns eko/gocache's Marshaler over its Redis store with a
// one-hour expiration: msgpack (vmihailenco/msgpack/v5, like memo's
// default codec), one GET per Get, one SET ... EX per Set.
func newEkoCache(client *redis.Client) *ekomarshaler.Marshaler {
	store := ekoredis.NewRedis(client, ekostore.WithExpiration(time.Hour))
	return ekomarshaler.New(ekocache.New[any](store))
}

// newEkoGetter returns an eko/gocache Get of the Post under key (stored
// first).
func newEkoGetter(b *testing.B, client *redis.Client, key string) postGetter {
	c := newEkoCache(client)
	ctx := context.Background()
	p := newPost()
	if err := c.Set(ctx, key, &p); err != nil {
		b.Fatal(err)
	}
	return func() Post {
		var v Post
		if _, err := c.Get(ctx, key, &v); err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// isEkoMiss reports whether err is eko/gocache's "not found".
func isEkoMiss(err error) bool {
	return errors.Is(err, ekostore.NotFound{}) || errors.Is(err, redis.Nil)
}

// newOtterPostGetter: otter v2 holding *Post, copied out like the sync.Map
// floor (an in-process floor with size bound and TTL).
func newOtterPostGetter(b *testing.B) postGetter {
	c := otter.Must(&otter.Options[string, *Post]{
		MaximumSize:      1024,
		ExpiryCalculator: otter.ExpiryWriting[string, *Post](time.Hour),
	})
	p := newPost()
	c.Set("post:42", &p)
	return func() Post {
		v, ok := c.GetIfPresent("post:42")
		if !ok {
			b.Fatal("otter: miss")
		}
		return *v
	}
}

// newRistrettoPost returns a ristretto v2 cache of up to size *Post (cost
// 1 each, 10 counters per entry as its documentation advises).
func newRistrettoPost(b *testing.B, size int) *ristretto.Cache[string, *Post] {
	c, err := ristretto.NewCache(&ristretto.Config[string, *Post]{
		NumCounters: int64(10 * size), MaxCost: int64(size), BufferItems: 64, IgnoreInternalCost: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// newRistrettoPostGetter: ristretto v2 holding *Post, copied out.
func newRistrettoPostGetter(b *testing.B) postGetter {
	c := newRistrettoPost(b, 1024)
	p := newPost()
	c.SetWithTTL("post:42", &p, 1, time.Hour)
	c.Wait() // ristretto's Set is asynchronous
	return func() Post {
		v, ok := c.Get("post:42")
		if !ok {
			b.Fatal("ristretto: miss")
		}
		return *v
	}
}

// newSturdyc returns an in-process sturdyc client of up to size Posts,
// TTL one hour, 10 shards, evicting 10% when full; with st != nil its
// GetOrFetch reads st before loading (sturdyc's "distributed storage").
func newSturdyc(size int, st sturdyc.DistributedStorage) *sturdyc.Client[Post] {
	var opts []sturdyc.Option
	if st != nil {
		opts = append(opts, sturdyc.WithDistributedStorage(st))
	}
	return sturdyc.New[Post](size, 10, time.Hour, 10, opts...)
}

// newSturdycGetter: sturdyc's GetOrFetch answered by its in-memory tier
// (it stores V itself and returns a copy: no decoding).
func newSturdycGetter(b *testing.B) postGetter {
	c := newSturdyc(1024, nil)
	ctx := context.Background()
	p := newPost()
	fetch := func(context.Context) (Post, error) {
		b.Error("sturdyc: fetched on a hit")
		return p, nil
	}
	c.Set("post:42", p)
	return func() Post {
		v, err := c.GetOrFetch(ctx, "post:42", fetch)
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
}

// sturdycRedis is the sturdyc.DistributedStorage a user writes for
// go-redis: GET/SET with a one-hour TTL, MGET and a pipelined SET for
// batches. sturdyc leaves the TTL to the storage.
type sturdycRedis struct{ c *redis.Client }

func (s sturdycRedis) Get(ctx context.Context, key string) ([]byte, bool) {
	v, err := s.c.Get(ctx, key).Bytes()
	return v, err == nil
}

func (s sturdycRedis) Set(ctx context.Context, key string, value []byte) {
	s.c.Set(ctx, key, value, time.Hour)
}

func (s sturdycRedis) GetBatch(ctx context.Context, keys []string) map[string][]byte {
	vals, err := s.c.MGet(ctx, keys...).Result()
	out := make(map[string][]byte, len(keys))
	if err != nil {
		return out
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[keys[i]] = []byte(str)
		}
	}
	return out
}

func (s sturdycRedis) SetBatch(ctx context.Context, records map[string][]byte) {
	p := s.c.Pipeline()
	for k, v := range records {
		p.Set(ctx, k, v, time.Hour)
	}
	_, _ = p.Exec(ctx)
}
