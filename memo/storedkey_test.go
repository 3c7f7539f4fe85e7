package memo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

// TestStoredKeysParse checks ParseStoredKey against the keys a real Cache
// writes, before and after Clear, with escaped and hashed user keys.
func TestStoredKeysParse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := memo.New[string](b, &memo.Options{Namespace: "app:x", Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw0, err := b.Get(ctx, memo.GenerationKey("app:x", 3))
	if err != nil {
		t.Fatalf("Get(GenerationKey) after New = %v; want the generation New created", err)
	}
	gen0, err := memo.ParseGeneration(raw0)
	if err != nil || gen0 == 0 {
		t.Fatalf("ParseGeneration(%q) = %d, %v; want a non-zero first generation", raw0, gen0, err)
	}
	long := strings.Repeat("k", 300)
	userKeys := []string{"plain", "user:{1}*", long}
	for _, k := range userKeys {
		if err := c.Set(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "after", "v"); err != nil {
		t.Fatal(err)
	}
	raw, err := b.Get(ctx, memo.GenerationKey("app:x", 3))
	if err != nil {
		t.Fatalf("Get(GenerationKey) = %v", err)
	}
	gen, err := memo.ParseGeneration(raw)
	if err != nil || gen == 0 {
		t.Fatalf("ParseGeneration(%q) = %d, %v; want a non-zero generation", raw, gen, err)
	}
	found := map[string]memo.StoredKey{}
	err = backend.Scan(ctx, b, memo.NamespacePattern("app:x"), func(key string) error {
		sk, ok := memo.ParseStoredKey(key)
		if !ok {
			t.Errorf("ParseStoredKey(%q) = false for a key the Cache wrote", key)
		}
		if sk.Namespace != "app:x" || sk.Version != 3 {
			t.Errorf("ParseStoredKey(%q) = %+v, want namespace app:x v3", key, sk)
		}
		found[key] = sk
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"plain", "user:{1}*"} {
		dk := memo.DataKey("app:x", 3, gen0, k)
		if sk, ok := found[dk]; !ok || sk.Role != memo.RoleData || sk.Key != k || sk.Generation != gen0 {
			t.Errorf("DataKey(%q) = %q: found %v as %+v", k, dk, ok, sk)
		}
	}
	if sk := found[memo.DataKey("app:x", 3, gen0, long)]; !sk.Hashed || sk.Key != "" {
		t.Errorf("long key parsed as %+v, want Hashed", sk)
	}
	if sk := found[memo.DataKey("app:x", 3, gen, "after")]; sk.Key != "after" || sk.Generation != gen {
		t.Errorf("key after Clear parsed as %+v, want generation %d", sk, gen)
	}
	if sk := found[memo.GenerationKey("app:x", 3)]; sk.Role != memo.RoleGeneration {
		t.Errorf("generation key parsed as %+v", sk)
	}
	if len(found) != 5 {
		t.Errorf("scan found %d keys, want 5: %v", len(found), found)
	}
	var n int
	_ = backend.Scan(ctx, b, memo.DataPattern("app:x", 3, gen), func(string) error { n++; return nil })
	if n != 1 {
		t.Errorf("DataPattern of the new generation matched %d keys, want 1", n)
	}
}

func TestParseStoredKeyRejects(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"", "plain", "a:b", "a:v1", "a:v0:gen", "a:v01:gen", "a:vx:0:k", ":v1:0:k",
		"a:v1:events", "a:v1:0:k:extra", "a:v1:ZZ:k", "a:v1:00:k", "a:v1:0:%#abc", "lockx:{memo-lock:a:v1:0:k}"} {
		if sk, ok := memo.ParseStoredKey(k); ok {
			t.Errorf("ParseStoredKey(%q) = %+v, true; want false", k, sk)
		}
	}
	if sk, ok := memo.ParseStoredKey("a:v1:n:hits"); !ok || sk.Role != memo.RoleCounter || sk.Key != "hits" {
		t.Errorf("ParseStoredKey(counter) = %+v, %v", sk, ok)
	}
}

// FuzzParseStoredKey: any string parses without panicking, and every key
// DataKey builds parses back to its parts.
func FuzzParseStoredKey(f *testing.F) {
	f.Add("app", "user:1", uint64(0), "app:v1:0:user%3A1")
	f.Add("a b", "{x}*", uint64(1<<63|5), "a:v1:gen")
	f.Fuzz(func(t *testing.T, ns, key string, gen uint64, arbitrary string) {
		memo.ParseStoredKey(arbitrary)
		if ns == "" {
			return
		}
		dk := memo.DataKey(ns, 2, gen, key)
		sk, ok := memo.ParseStoredKey(dk)
		if !ok || sk.Role != memo.RoleData || sk.Namespace != ns || sk.Version != 2 || sk.Generation != gen {
			if gen == 23 { // "n": documented as read as a counter
				return
			}
			t.Fatalf("ParseStoredKey(DataKey(%q, 2, %d, %q) = %q) = %+v, %v", ns, gen, key, dk, sk, ok)
		}
		if !sk.Hashed && sk.Key != key {
			t.Fatalf("key %q parsed back as %q", key, sk.Key)
		}
	})
}
