package memo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/codec"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// TestGetManyMixedCodecs: a GetMany over keys written by caches of every
// codec and compression (msgpack plain, S2 and zstd; JSON, which the
// reader accepts for a migration; gob, which it does not) and keys never
// written, across several of the chunks readBatch decodes at a time,
// gives each key what a Get gives it: the written value for the codecs
// the reader reads, the loaded one for the others and the absent keys.
func TestGetManyMixedCodecs(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: redistest.Shared(t).Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	be, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ns := redistest.Prefix(t)
	writers := []*memo.Cache[string]{
		newCache[string](t, be, &memo.Options{Namespace: ns, TTL: time.Hour}),
		newCache[string](t, be, &memo.Options{Namespace: ns, TTL: time.Hour, Compression: codec.S2, CompressionThreshold: -1}),
		newCache[string](t, be, &memo.Options{Namespace: ns, TTL: time.Hour, Compression: codec.Zstd, CompressionThreshold: -1}),
		newCache[string](t, be, &memo.Options{Namespace: ns, TTL: time.Hour, Codec: codec.JSON}),
		newCache[string](t, be, &memo.Options{Namespace: ns, TTL: time.Hour, Codec: codec.Gob}),
		nil, // never written
	}
	keys := make([]string, 61)
	want := map[string]string{}
	for i := range keys {
		k := fmt.Sprintf("k%02d", i)
		keys[i] = k
		switch w := writers[i%len(writers)]; {
		case w == nil, i%len(writers) == 4:
			want[k] = "loaded " + k
			if w == nil {
				break
			}
			fallthrough
		default:
			v := fmt.Sprintf("written %s %d", k, i%len(writers))
			if err := w.Set(ctx, k, v); err != nil {
				t.Fatal(err)
			}
			if _, ok := want[k]; !ok {
				want[k] = v
			}
		}
	}
	reader := newCache[string](t, be, &memo.Options{Namespace: ns, TTL: time.Hour, AcceptCodecs: []codec.Codec{codec.JSON}, Logger: discardLogger()})
	load := func(_ context.Context, ks []string) (map[string]string, error) {
		m := map[string]string{}
		for _, k := range ks {
			m[k] = "loaded " + k
		}
		return m, nil
	}
	// Run twice: the second GetMany reads what the first one stored.
	for round := range 2 {
		got, err := reader.GetMany(ctx, keys, load)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if got[k] != want[k] {
				t.Errorf("round %d: GetMany[%s] = %q, want %q", round, k, got[k], want[k])
			}
		}
		if len(got) != len(keys) {
			t.Errorf("round %d: GetMany gave %d keys, want %d", round, len(got), len(keys))
		}
	}
}
