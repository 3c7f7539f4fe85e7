package memo_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// TestEveryKeyExpires: after loads and a Clear on a real redis-server,
// every key memo wrote has a TTL (the generation key was written with
// backend.NoExpiry), and a node using the namespace pushes the generation
// key's expiry back, so it survives (no cold cache) past its first TTL.
func TestEveryKeyExpires(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	rc := s.Client(t)
	ctx := t.Context()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	ns := redistest.Prefix(t)
	n := newNode[string](t, s.Addr, memo.Options{Namespace: ns, TTL: 24 * time.Hour,
		Locker: memo.LockerFunc(noLock), Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	var loads atomic.Int32
	load := func(context.Context) (string, error) { loads.Add(1); return "v", nil }
	getAll := func() {
		t.Helper()
		for i := range 20 {
			if v, err := n.cache.Get(ctx, fmt.Sprint("k", i), load); err != nil || v != "v" {
				t.Fatalf("Get = %q, %v", v, err)
			}
		}
	}
	getAll()
	if err := n.cache.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	getAll()

	var keys []string
	iter := rc.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil || len(keys) < 21 {
		t.Fatalf("SCAN = %d keys, %v; want the values and the generation", len(keys), err)
	}
	for _, k := range keys {
		if ttl, err := rc.PTTL(ctx, k).Result(); err != nil || ttl < 0 {
			t.Errorf("key %q: PTTL %v, %v; want an expiry", k, ttl, err)
		}
	}

	// The generation is near its expiry; the node still uses the namespace.
	genKey := ""
	for _, k := range keys {
		if strings.HasSuffix(k, ":v1:gen") {
			genKey = k
		}
	}
	gen, err := rc.Get(ctx, genKey).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", genKey, err)
	}
	if ttl, _ := rc.PTTL(ctx, genKey).Result(); ttl < 29*24*time.Hour {
		t.Fatalf("generation TTL %v, want about 30 days", ttl)
	}
	if err := rc.PExpire(ctx, genKey, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(2 * time.Hour))
	before := loads.Load()
	deadline := time.Now().Add(5 * time.Second)
	for {
		getAll() // re-reads the generation in the background
		ttl, err := rc.PTTL(ctx, genKey).Result()
		if err == nil && ttl > 24*time.Hour {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("generation TTL %v, %v: not pushed back while in use", ttl, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if now, err := rc.Get(ctx, genKey).Result(); err != nil || now != gen {
		t.Fatalf("generation %q, %v after the refresh; want %q kept", now, err, gen)
	}
	getAll()
	if l := loads.Load(); l != before {
		t.Fatalf("loads %d → %d across the refresh: the cache went cold", before, l)
	}
}
