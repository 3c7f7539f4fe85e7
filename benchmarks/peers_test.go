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
// msgpack Marshaler over store/redis/v4), sturdyc (in process: its Redis
// "distributed storage" is only read on an in-memory miss, JSON-encoded,
// so it has no Redis-tier hit to compare) and ristretto v2 (in-process
// floor beside otter).

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
// TTL one hour, 10 shards, evicting 10% when full.
func newSturdyc(size int) *sturdyc.Client[Post] {
	return sturdyc.New[Post](size, 10, time.Hour, 10)
}

// newSturdycGetter: sturdyc's GetOrFetch answered by its in-memory tier
// (it stores V itself and returns a copy: no decoding).
func newSturdycGetter(b *testing.B) postGetter {
	c := newSturdyc(1024)
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
