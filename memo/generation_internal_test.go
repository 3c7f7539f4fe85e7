package memo

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestOwnMintIsARename: when this node's write of a new generation lands
// but its reply is lost, the next read of the generation finds the node's
// own and moves to it as a rename (the L1 kept, as for the mint that
// answered), not as another node's Clear (the L1 flushed and every key
// loaded again: seen under -race right after a Redis restart).
func TestOwnMintIsARename(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	client := s.Client(t)
	b, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New[string](b, &Options{Namespace: redistest.Prefix(t), L1Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	if _, err := c.Get(ctx, "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}

	g := rand.Uint64() | 1
	c.minted.Store(g) // the node's mint of g ...
	if err := client.Set(ctx, c.keys.gen(), strconv.FormatUint(g, 10), time.Hour).Err(); err != nil {
		t.Fatal(err) // ... landed, and its reply was lost
	}
	c.loadGeneration(ctx)
	if got := c.gen.Load(); got != g {
		t.Fatalf("generation = %d after the read, want %d", got, g)
	}
	if _, ok := c.l1.get("k", g, c.nanotime()); !ok {
		t.Errorf("the L1 entry is gone: the node's own generation was taken for another node's Clear")
	}

	// Another generation than its own is a Clear: the L1 is flushed.
	other := g + 2
	if err := client.Set(ctx, c.keys.gen(), strconv.FormatUint(other, 10), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	c.loadGeneration(ctx)
	if _, ok := c.l1.get("k", other, c.nanotime()); ok || c.gen.Load() != other {
		t.Errorf("generation %d, L1 entry kept = %v after another generation was read; want %d, flushed", c.gen.Load(), ok, other)
	}
}
