package memo_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// sealed returns an envelope (version 1, msgpack, a value, zero metadata)
// around payload, with a correct checksum: what a hostile writer with
// access to the backend can store.
func sealed(payload []byte) []byte {
	b := append([]byte{0xC1, 0x4B, 1, 1, 0, 0, 0, 0, 0, 0, 0}, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// TestGetManyCorruptEntriesAreCountedMisses: in a GetMany of 40 stored
// keys (several of the chunks readBatch decodes at a time), entries
// overwritten with corrupt bytes (a flipped bit, garbage, a truncated
// entry) or hostile ones (a correct checksum over a msgpack header that
// claims 1 GiB, or nests past the depth limit) are misses, each counted
// once as corrupt and reloaded; every other key is a backend hit. The
// reload overwrites them: the next GetMany hits every key.
func TestGetManyCorruptEntriesAreCountedMisses(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: redistest.Shared(t).Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	rb, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, be := range map[string]backend.Backend{"memory": newMemory(t, nil), "redis": rb} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			ns := redistest.Prefix(t)
			var mu sync.Mutex
			corruptSeen := map[string]int{}
			obs := memo.ObserverFunc(func(e memo.Event) {
				if e.Kind == memo.EventCorrupt {
					mu.Lock()
					corruptSeen[e.Key]++
					mu.Unlock()
				}
			})
			c := newCache[string](t, be, &memo.Options{Namespace: ns, TTL: time.Hour, BackendTimeout: 5 * time.Second,
				Observer: obs, Logger: discardLogger()})
			keys := make([]string, 40)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%02d", i)
			}
			var asked []string
			load := func(prefix string) memo.BatchLoadFunc[string] {
				return func(_ context.Context, ks []string) (map[string]string, error) {
					asked = append(asked, ks...)
					m := map[string]string{}
					for _, k := range ks {
						m[k] = prefix + k
					}
					return m, nil
				}
			}
			if m, err := c.GetMany(ctx, keys, load("v")); err != nil || len(m) != len(keys) {
				t.Fatalf("GetMany fill = %d values, %v", len(m), err)
			}
			dataKeys := map[string]string{} // user key -> data key
			if err := backend.Scan(ctx, be, backend.QuoteGlob(backend.EscapeKeyPart(ns))+":*", func(key string) error {
				if k := key[strings.LastIndexByte(key, ':')+1:]; slices.Contains(keys, k) {
					dataKeys[k] = key // not the namespace's generation key
				}
				return nil
			}); err != nil || len(dataKeys) != len(keys) {
				t.Fatalf("found %d of %d entries: %v", len(dataKeys), len(keys), err)
			}
			good, err := be.Get(ctx, dataKeys["k00"])
			if err != nil {
				t.Fatal(err)
			}
			flipped := slices.Clone(good)
			flipped[len(flipped)/2] ^= 0x01
			bad := map[string][]byte{
				"k03": flipped,
				"k16": []byte("\xc1garbage"),
				"k17": sealed([]byte{0xc6, 0x40, 0x00, 0x00, 0x00}),   // bin32 of 1 GiB in 5 bytes
				"k31": append(slices.Repeat([]byte{0x91}, 100), 0xc0), // nested 100 deep, unsealed
				"k32": sealed(append(slices.Repeat([]byte{0x91}, 100), 0xc0)),
				"k39": good[:len(good)-1],
			}
			for k, v := range bad {
				if err := be.Set(ctx, dataKeys[k], v, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			asked = nil
			before := c.Stats()
			m, err := c.GetMany(ctx, keys, load("re"))
			if err != nil || len(m) != len(keys) {
				t.Fatalf("GetMany = %d values, %v; want %d", len(m), err, len(keys))
			}
			for _, k := range keys {
				want := "v" + k
				if bad[k] != nil {
					want = "re" + k
				}
				if m[k] != want {
					t.Errorf("GetMany[%s] = %q, want %q", k, m[k], want)
				}
			}
			slices.Sort(asked)
			wantAsked := slices.Sorted(func(yield func(string) bool) {
				for k := range bad {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(asked, wantAsked) {
				t.Errorf("loaded %v, want the corrupt keys %v", asked, wantAsked)
			}
			after := c.Stats()
			if got := after.CorruptEntries - before.CorruptEntries; got != uint64(len(bad)) {
				t.Errorf("corrupt entries counted = %d, want %d", got, len(bad))
			}
			if got := after.HitsBackend - before.HitsBackend; got != uint64(len(keys)-len(bad)) {
				t.Errorf("backend hits = %d, want %d", got, len(keys)-len(bad))
			}
			mu.Lock()
			for k := range bad {
				if corruptSeen[k] != 1 {
					t.Errorf("EventCorrupt for %s seen %d times, want 1", k, corruptSeen[k])
				}
			}
			if len(corruptSeen) != len(bad) {
				t.Errorf("EventCorrupt for %v, want only the corrupt keys", corruptSeen)
			}
			mu.Unlock()

			// The reload overwrote them.
			asked = nil
			if m, err := c.GetMany(ctx, keys, load("again")); err != nil || len(m) != len(keys) || m["k17"] != "rek17" || len(asked) != 0 {
				t.Fatalf("GetMany after the reload = %d values (k17 %q), %v, loaded %v; want every key a hit", len(m), m["k17"], err, asked)
			}
			if got := c.Stats().CorruptEntries - after.CorruptEntries; got != 0 {
				t.Errorf("corrupt entries after the reload = %d, want 0", got)
			}
		})
	}
}
