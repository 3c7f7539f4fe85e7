package goredis_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
)

// nodeOf returns the index of the cluster node that owns key's slot.
func nodeOf(t *testing.T, cl *redistest.Cluster, c *redis.ClusterClient, key string) int {
	t.Helper()
	slot, err := c.ClusterKeySlot(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	return int(slot) * len(cl.Nodes) / 16384
}

func TestClusterBatchesSpanAllNodes(t *testing.T) {
	t.Parallel()
	cl := redistest.SharedCluster(t)
	b := newCluster(t)
	cc := b.Client().(*redis.ClusterClient)
	ctx := t.Context()
	p := prefix(t)
	var keys []string
	var items []backend.Item
	perNode := make([]int, len(cl.Nodes))
	for i := range 100 {
		k := fmt.Sprintf("%s%d", p, i)
		keys = append(keys, k)
		items = append(items, backend.Item{Key: k, Value: []byte(fmt.Sprint(i)), TTL: time.Minute})
		perNode[nodeOf(t, cl, cc, k)]++
	}
	for i, n := range perNode {
		if n == 0 {
			t.Fatalf("no key on node %d (%v): the test needs keys on every node", i, perNode)
		}
	}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatalf("SetMany(100 keys over 3 nodes) = %v", err)
	}
	got, err := b.GetMany(ctx, append(keys, p+"missing"))
	if err != nil {
		t.Fatalf("GetMany(101 keys over 3 nodes) = %v", err)
	}
	for i, k := range keys {
		if string(got[i]) != fmt.Sprint(i) {
			t.Fatalf("GetMany[%q] = %q, want %d", k, got[i], i)
		}
	}
	if got[100] != nil {
		t.Fatalf("GetMany[missing] = %q, want nil", got[100])
	}
	// Same-slot keys (one hash tag) go in one UNLINK; the others in one
	// UNLINK per slot. Neither may fail with CROSSSLOT.
	tagged := []string{p + "{t}a", p + "{t}b", p + "{t}c"}
	for _, k := range tagged {
		if err := b.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(ctx, append(keys[:50], tagged...)...); err != nil {
		t.Fatalf("Delete(53 keys over 3 nodes) = %v", err)
	}
	if err := b.Delete(ctx, keys[50:]...); err != nil {
		t.Fatalf("Delete(50 keys over 3 nodes) = %v", err)
	}
	got, err = b.GetMany(ctx, append(keys, tagged...))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != nil {
			t.Fatalf("GetMany after Delete: entry %d = %q, want nil", i, v)
		}
	}
}

func TestScanEveryMaster(t *testing.T) {
	t.Parallel()
	cl := redistest.SharedCluster(t)
	b := newCluster(t)
	ctx := t.Context()
	p := prefix(t)
	const n = 3000
	items := make([]backend.Item, n)
	for i := range items {
		items[i] = backend.Item{Key: fmt.Sprintf("%sk:%d", p, i), Value: []byte("v"), TTL: time.Minute}
	}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	keep := []string{p + "other:1", p + "kk", p + "x:k:1"}
	for _, k := range keep {
		if err := b.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// A plain ClusterClient.Scan sees one node: this is what Scan fixes.
	var oneNode int
	iter := b.Client().Scan(ctx, 0, p+"k:*", 500).Iterator()
	for iter.Next(ctx) {
		oneNode++
	}
	if oneNode >= n {
		t.Logf("ClusterClient.Scan found %d of %d keys (expected fewer: one node)", oneNode, n)
	}
	seen := make(map[string]bool)
	err := b.Scan(ctx, p+"k:*", func(k string) error {
		if !strings.HasPrefix(k, p+"k:") {
			t.Errorf("Scan(%q) reported %q", p+"k:*", k)
		}
		seen[k] = true
		return nil
	})
	if err != nil || len(seen) != n {
		t.Fatalf("Scan over the cluster found %d distinct keys, %v; want %d (ClusterClient.Scan alone: %d)", len(seen), err, n, oneNode)
	}
	deleted, err := b.DeletePattern(ctx, p+"k:*")
	if err != nil || deleted != n {
		t.Fatalf("DeletePattern = %d, %v; want %d", deleted, err, n)
	}
	for i, node := range cl.Nodes {
		if left, err := node.Client(t).Keys(ctx, p+"k:*").Result(); err != nil || len(left) != 0 {
			t.Fatalf("node %d after DeletePattern: %d keys left, %v", i, len(left), err)
		}
	}
	got, err := b.GetMany(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v == nil {
			t.Fatalf("DeletePattern(%q) deleted %q", p+"k:*", keep[i])
		}
	}
}

func TestSlotMatchesServer(t *testing.T) {
	t.Parallel()
	cc := redistest.SharedCluster(t).Client(t)
	ctx := t.Context()
	for _, k := range []string{"", "a", "foo", "user:1000", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{}", "}{", "x{y", "\xff\x00{z}"} {
		want, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
		}
		if got := goredisSlot(k); int64(got) != want {
			t.Fatalf("slot(%q) = %d, want %d (CLUSTER KEYSLOT)", k, got, want)
		}
	}
}

// TestEscapedPartsCannotInject shows that backend.EscapeKeyPart stops a
// user-supplied part from choosing the key's slot with a {hash tag} or
// widening a pattern with '*'.
func TestEscapedPartsCannotInject(t *testing.T) {
	t.Parallel()
	cc := redistest.SharedCluster(t).Client(t)
	ctx := t.Context()
	keyslot := func(k string) int64 {
		t.Helper()
		s, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const user = "{x}"
	raw := "profile:" + user + ":name"
	escaped := "profile:" + backend.EscapeKeyPart(user) + ":name"
	if keyslot(raw) != keyslot("x") {
		t.Fatalf("unescaped %q: slot %d, want the injected tag's slot %d (the attack this test guards against)", raw, keyslot(raw), keyslot("x"))
	}
	if keyslot(escaped) == keyslot("x") || strings.ContainsAny(escaped, "{}") {
		t.Fatalf("escaped %q: slot %d = slot of the injected tag", escaped, keyslot(escaped))
	}
	// With the application's own tag, an escaped part stays in its slot.
	owned := "{tenant7}:" + backend.EscapeKeyPart("}{x}")
	if keyslot(owned) != keyslot("tenant7") {
		t.Fatalf("%q: slot %d, want the slot of {tenant7} %d", owned, keyslot(owned), keyslot("tenant7"))
	}

	topologies(t, func(t *testing.T, b *goredisBackend) {
		p := prefix(t)
		for _, id := range []string{"a*", "abc", "a", "a*b"} {
			for i := range 3 {
				if err := b.Set(t.Context(), fmt.Sprintf("%suser:%s:%d", p, backend.EscapeKeyPart(id), i), []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		}
		n, err := b.DeletePattern(t.Context(), p+"user:"+backend.EscapeKeyPart("a*")+":*")
		if err != nil || n != 3 {
			t.Fatalf("DeletePattern(escaped a*) = %d, %v; want exactly the 3 keys of user a*", n, err)
		}
		left := 0
		if err := b.Scan(t.Context(), p+"user:*", func(string) error { left++; return nil }); err != nil || left != 9 {
			t.Fatalf("keys left = %d, %v; want 9 (users abc, a, a*b untouched)", left, err)
		}
	})
}
