package lockx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// TestMemoColdLoadsLeaveNoKeyWithoutTTL is issue 9's set-up as a user
// builds it (README: lockx as memo's Locker on the cache's server): after
// N cold loads, a Clear and N more, every key in the server has a TTL
// but memo's one namespace generation. Before, each cold key left a lockx
// fence counter without one (2,000 here).
func TestMemoColdLoadsLeaveNoKeyWithoutTTL(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	client := s.Client(t)
	ctx := t.Context()
	b, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	locks, err := lockx.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := memo.New[string](b, &memo.Options{Namespace: "cold", Locker: locks})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 1000
	load := func(context.Context) (string, error) { return "v", nil }
	for round := range 2 {
		for i := range n {
			if _, err := c.Get(ctx, fmt.Sprint("k", i), load); err != nil {
				t.Fatalf("Get = %v", err)
			}
		}
		if round == 0 {
			if err := c.Clear(ctx); err != nil {
				t.Fatalf("Clear = %v", err)
			}
		}
	}
	var cursor uint64
	seen := 0
	for {
		keys, next, err := client.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		for _, k := range keys {
			ttl, err := client.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatalf("PTTL: %v", err)
			}
			// memo keeps one generation counter per namespace without a
			// TTL (its Clear); that one key is memo's business, not a
			// per-key leak.
			if ttl == -1 && k != "cold:v1:gen" {
				t.Errorf("key %q has no TTL", k)
			}
		}
		seen += len(keys)
		if cursor = next; cursor == 0 {
			break
		}
	}
	if seen < n {
		t.Fatalf("scanned %d keys, want at least the %d cached values", seen, n)
	}
}
