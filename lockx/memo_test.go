package lockx

import (
	"context"
	"fmt"
	"testing"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
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
	locks, err := New(client, nil)
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
	all, noTTL := scanTTLs(t, client)
	// memo keeps one generation counter per namespace without a TTL (its
	// Clear); that one key is memo's business, not a per-key leak.
	if len(noTTL) > 1 || len(noTTL) == 1 && noTTL[0] != "cold:v1:gen" {
		t.Errorf("%d keys without TTL, e.g. %q", len(noTTL), noTTL[0])
	}
	if len(all) < n {
		t.Fatalf("scanned %d keys, want at least the %d cached values", len(all), n)
	}
}
