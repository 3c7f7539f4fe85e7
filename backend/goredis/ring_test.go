package goredis_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

func TestRing(t *testing.T) {
	t.Parallel()
	servers := redistest.StartN(t, 2)
	r := redis.NewRing(&redis.RingOptions{
		Addrs:                 map[string]string{"a": servers[0].Addr, "b": servers[1].Addr},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = r.Close() })
	b, err := goredis.New(r, nil)
	if err != nil {
		t.Fatalf("New(ring) = %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := t.Context()
	var keys []string
	var items []backend.Item
	for i := range 200 {
		k := fmt.Sprintf("k:%d", i)
		keys = append(keys, k)
		items = append(items, backend.Item{Key: k, Value: []byte("v"), TTL: time.Minute})
	}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	for i, s := range servers {
		if n := s.Client(t).DBSize(ctx).Val(); n == 0 {
			t.Fatalf("shard %d holds no key: the test needs both shards", i)
		}
	}
	vals, err := b.GetMany(ctx, append(keys, "missing"))
	if err != nil || len(vals) != 201 || vals[200] != nil {
		t.Fatalf("GetMany(200 keys on 2 shards, missing) = %d values, %v", len(vals), err)
	}
	for i, v := range vals[:200] {
		if string(v) != "v" {
			t.Fatalf("GetMany[%d] = %q, want v", i, v)
		}
	}
	ops := []backend.Op{backend.IncrOp("n", 2, time.Minute)}
	for _, k := range keys[:50] {
		ops = append(ops, backend.GetOp(k), backend.TTLOp(k))
	}
	res, err := backend.Pipeline(ctx, b, ops)
	if err != nil || res[0].N != 2 {
		t.Fatalf("Pipeline on a Ring = %v, %v; want Incr 2", res, err)
	}
	for i, r := range res[1:] {
		if r.Err != nil || (i%2 == 0 && string(r.Value) != "v") || (i%2 == 1 && r.TTL <= 0) {
			t.Fatalf("Pipeline on a Ring: op %d = %+v", i+1, r)
		}
	}
	if n, err := b.KeyCount(ctx); err != nil || n != 201 {
		t.Fatalf("KeyCount = %d, %v; want 201 (both shards)", n, err)
	}
	seen := map[string]bool{}
	if err := b.Scan(ctx, "k:*", func(k string) error { seen[k] = true; return nil }); err != nil || len(seen) != 200 {
		t.Fatalf("Scan found %d keys, %v; want 200", len(seen), err)
	}
	if err := b.Delete(ctx, keys[:100]...); err != nil {
		t.Fatalf("Delete(100 keys over 2 shards) = %v", err)
	}
	if n, err := b.DeletePattern(ctx, "k:*"); err != nil || n != 100 {
		t.Fatalf("DeletePattern = %d, %v; want 100", n, err)
	}
	// A Ring subscription lives on one shard; Publish reaches every shard.
	sub, err := b.Subscribe(ctx, "c1", "c2", "c3")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, ch := range []string{"c1", "c2", "c3"} {
		if err := b.Publish(ctx, ch, []byte(ch)); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, sub); m.Channel != ch || string(m.Payload) != ch {
			t.Fatalf("received %+v, want %s", m, ch)
		}
	}
}
