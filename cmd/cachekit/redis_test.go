package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/codec"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// target is a server the commands run against.
type target struct {
	name   string
	url    string // the --redis value
	client redis.UniversalClient
	b      *goredis.Backend
}

// generation returns the current generation of namespace ns (version 1),
// which memo.New creates.
func (tg target) generation(t *testing.T, ns string) uint64 {
	t.Helper()
	raw, err := tg.client.Get(t.Context(), memo.GenerationKey(ns, 1)).Bytes()
	if err != nil {
		t.Fatalf("GET %s: %v", memo.GenerationKey(ns, 1), err)
	}
	g, err := memo.ParseGeneration(raw)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// targets returns the shared standalone server and the shared 3-master
// Cluster, addressed the two ways a Cluster can be: one node (detected)
// and a comma-separated seed list.
func targets(t *testing.T) []target {
	t.Helper()
	s := redistest.Shared(t)
	sc := s.Client(t)
	cl := redistest.SharedCluster(t)
	cc := cl.Client(t)
	var seeds []string
	for _, a := range cl.Addrs() {
		seeds = append(seeds, "redis://"+a)
	}
	mk := func(name, url string, c redis.UniversalClient) target {
		b, err := goredis.New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return target{name, url, c, b}
	}
	return []target{
		mk("standalone", "redis://"+s.Addr, sc),
		mk("cluster-node", "redis://"+cl.Nodes[1].Addr, cc),
		mk("cluster-seeds", strings.Join(seeds, ","), cc),
	}
}

// nsName is a namespace unique to the test, with characters that need
// escaping.
func nsName(t *testing.T) string {
	return "t:" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
}

// seed stores values in a memo cache of namespace ns and returns it.
func seed(t *testing.T, tg target, ns string, keys ...string) *memo.Cache[map[string]any] {
	t.Helper()
	c, err := memo.New[map[string]any](tg.b, &memo.Options{Namespace: ns, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, k := range keys {
		if err := c.Set(t.Context(), k, map[string]any{"key": k, "n": 7}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// each runs f as a parallel subtest per target.
func each(t *testing.T, f func(t *testing.T, tg target)) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f(t, tg)
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, tg target) {
		ns := nsName(t)
		seed(t, tg, ns, "user:1", "user:2", "post:{9}*", strings.Repeat("x", 300))
		cli(t, "", tg.url, "keys", ns).want(t, exitOK, "user:1\n", "user:2\n", "post:{9}*\n", "3 key(s)", "1 more stored under a hash")
		r := cli(t, "", tg.url, "keys", "--redis", tg.url, ns, "user:*", "--progress")
		r.want(t, exitOK, "2 key(s) matching \"user:*\"")
		if r.stdout != "user:1\nuser:2\n" {
			t.Errorf("keys user:* = %q", r.stdout)
		}
		cli(t, "", tg.url, "keys", ns, "--limit", "1").want(t, exitOK, "stopped at --limit 1")
		cli(t, "", tg.url, "keys", ns+"-missing").want(t, exitNotFound, "does not exist")
		cli(t, "", tg.url, "keys", ns, "--ns-version", "2").want(t, exitNotFound, "it has keys of version 1")
		cli(t, "", tg.url, "keys", ns, strings.Repeat("*", 20)).want(t, exitUsage, "wildcards")
	})
}

func TestGet(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, tg target) {
		ns := nsName(t)
		c := seed(t, tg, ns, "user:1", "gone")
		r := cli(t, "", tg.url, "get", ns, "user:1")
		r.want(t, exitOK, "kind:", "value", "codec:", "msgpack", "compression:", "none", "created at:", "soft expiry:", ": fresh",
			"stale windows:", "TTL:", "payload (msgpack, as JSON)", `"key": "user:1"`, `"n": 7`)
		stored := memo.DataKey(ns, 1, tg.generation(t, ns), "user:1")
		cli(t, "", tg.url, "get", "--stored", stored).want(t, exitOK, "key:", "user:1", `"n": 7`)

		if err := c.Invalidate(t.Context(), "gone"); err != nil {
			t.Fatal(err)
		}
		cli(t, "", tg.url, "get", ns, "gone").want(t, exitOK, "tombstone", "payload: none")

		cli(t, "", tg.url, "get", ns, "nope").want(t, exitNotFound, `no entry for key "nope"`)
		cli(t, "", tg.url, "get", ns+"-x", "user:1").want(t, exitNotFound, "does not exist")
		cli(t, "", tg.url, "get", "--stored", "plain-redis-key").want(t, exitUsage, "not a cachekit key")
		cli(t, "", tg.url, "get", "--stored", memo.GenerationKey(ns, 1)).want(t, exitUsage, "generation key")

		// A key in the namespace's layout that someone else wrote.
		foreign := memo.DataKey(ns, 1, tg.generation(t, ns), "foreign")
		tg.client.Set(t.Context(), foreign, "hello", time.Minute)
		cli(t, "", tg.url, "get", ns, "foreign").want(t, exitUsage, "not a cachekit key", "not a cachekit envelope")
		list := memo.DataKey(ns, 1, tg.generation(t, ns), "list")
		tg.client.RPush(t.Context(), list, "a")
		tg.client.Expire(t.Context(), list, time.Minute)
		cli(t, "", tg.url, "get", ns, "list").want(t, exitUsage, "not a cachekit key", "holds a Redis list")
	})
}

func TestGetExplainsNotFoundAndGob(t *testing.T) {
	t.Parallel()
	tg := targets(t)[0]
	ns := nsName(t)
	c, err := memo.New[string](tg.b, &memo.Options{Namespace: ns, NegativeTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Get(t.Context(), "missing", func(context.Context) (string, error) { return "", memo.ErrNotFound })
	if err == nil {
		t.Fatal("loader's ErrNotFound not returned")
	}
	cli(t, "", tg.url, "get", ns, "missing").want(t, exitOK, "not-found", "payload: none")

	g, err := memo.New[string](tg.b, &memo.Options{Namespace: ns + "-gob", Codec: codec.Gob})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Set(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	cli(t, "", tg.url, "get", ns+"-gob", "k").want(t, exitOK, "gob", "gob cannot decode without the Go type")
}

func TestTTLExpirePersist(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, tg target) {
		ns := nsName(t)
		seed(t, tg, ns, "k")
		stored := memo.DataKey(ns, 1, tg.generation(t, ns), "k")
		cli(t, "", tg.url, "ttl", ns, "k").want(t, exitOK, stored)
		cli(t, "", tg.url, "expire", ns, "k", "90s").want(t, exitOK, "TTL 1m30s")
		if d := tg.client.PTTL(t.Context(), stored).Val(); d <= time.Minute || d > 90*time.Second {
			t.Errorf("PTTL after expire 90s = %v", d)
		}
		cli(t, "", tg.url, "expire", ns, "k", "120").want(t, exitOK, "TTL 2m0s")
		cli(t, "", tg.url, "persist", ns, "k").want(t, exitOK, "persisted", "warning: the key now never expires")
		if d := tg.client.PTTL(t.Context(), stored).Val(); d != -1 {
			t.Errorf("PTTL after persist = %v, want -1", d)
		}
		cli(t, "", tg.url, "ttl", ns, "k").want(t, exitOK, "none: the key never expires")
		cli(t, "", tg.url, "persist", ns, "k").want(t, exitOK, "already without expiry")
		cli(t, "", tg.url, "expire", ns, "k", "1h").want(t, exitOK)

		cli(t, "", tg.url, "expire", ns, "k", "0s").want(t, exitUsage, "want > 0")
		cli(t, "", tg.url, "expire", ns, "k", "soon").want(t, exitUsage, "DURATION")
		cli(t, "", tg.url, "expire", ns, "k").want(t, exitUsage, "NAMESPACE KEY DURATION")
		cli(t, "", tg.url, "ttl", ns, "nope").want(t, exitNotFound, "no entry")
		cli(t, "", tg.url, "persist", ns+"-x", "k").want(t, exitNotFound, "does not exist")
		tg.client.Set(t.Context(), memo.DataKey(ns, 1, tg.generation(t, ns), "raw"), "x", time.Minute)
		cli(t, "", tg.url, "persist", ns, "raw").want(t, exitUsage, "not a cachekit key")
		if d := tg.client.PTTL(t.Context(), memo.DataKey(ns, 1, tg.generation(t, ns), "raw")).Val(); d < 0 {
			t.Errorf("persist changed a non-cachekit key: PTTL %v", d)
		}
	})
}

// loads counts how often a key is loaded through c.
func loads(t *testing.T, c *memo.Cache[map[string]any], keys ...string) int {
	t.Helper()
	var n atomic.Int32
	for _, k := range keys {
		_, err := c.Get(t.Context(), k, func(context.Context) (map[string]any, error) {
			n.Add(1)
			return map[string]any{"key": k}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return int(n.Load())
}

func TestPurgeNamespace(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, tg target) {
		ns := nsName(t)
		c := seed(t, tg, ns, "a", "b", "c")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--dry-run").want(t, exitOK, "dry run: would clear", "its 3 key(s)")
		cli(t, "n\n", tg.url, "purge", "--namespace", ns).want(t, exitAborted, "(3 keys)? [y/N]", "nothing purged")
		cli(t, "", tg.url, "purge", "--namespace", ns).want(t, exitAborted, "stdin closed")
		if n := loads(t, c, "a", "b", "c"); n != 0 {
			t.Fatalf("%d load(s) after a declined purge, want 0", n)
		}
		cli(t, "y\n", tg.url, "purge", "--namespace", ns).want(t, exitOK, "cleared namespace", "one write")
		// The seeding cache learns the new generation within a second (or
		// at once through pub/sub).
		deadline := time.Now().Add(5 * time.Second)
		for loads(t, c, "a") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the namespace still serves its entries 5s after purge --namespace")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cli(t, "", tg.url, "purge", "--namespace", ns+"-missing", "--yes").want(t, exitNotFound, "does not exist")
	})
}

func TestPurgePatternAndPrefix(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, tg target) {
		ns := nsName(t)
		var keys []string
		for i := range 300 {
			keys = append(keys, fmt.Sprintf("user:%d", i))
		}
		c := seed(t, tg, ns, append(keys, "post:1", "post:2", "other")...)
		cli(t, "", tg.url, "purge", "--namespace", ns, "--pattern", "*").want(t, exitUsage, "matches every key", "--all")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--pattern", "**").want(t, exitUsage, "matches every key")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--prefix", "").want(t, exitUsage, "matches every key")
		cli(t, "", tg.url, "purge", "--pattern", "user:*").want(t, exitUsage, "needs --namespace")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--pattern", "a", "--prefix", "b").want(t, exitUsage, "choose one of")
		cli(t, "", tg.url, "purge").want(t, exitUsage, "nothing to purge")

		cli(t, "", tg.url, "purge", "--namespace", ns, "--pattern", "user:*", "--dry-run").want(t, exitOK, "would purge 300 key(s)")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--pattern", "user:*", "--yes", "--progress").want(t, exitOK, "purged 300 key(s)", "purging")
		if n := loads(t, c, keys[0], keys[299]); n != 2 {
			t.Errorf("%d load(s) of purged keys, want 2", n)
		}
		if n := loads(t, c, "post:1", "other"); n != 0 {
			t.Errorf("%d load(s) of keys the pattern does not match, want 0", n)
		}
		cli(t, "y\n", tg.url, "purge", "--namespace", ns, "--prefix", "post:").want(t, exitOK, "Purge 2 key(s)", "purged 2 key(s)")
		if n := loads(t, c, "post:1", "post:2", "other"); n != 2 {
			t.Errorf("%d load(s) after purging prefix post:, want 2", n)
		}
		cli(t, "", tg.url, "purge", "--namespace", ns, "--prefix", "zzz", "--yes").want(t, exitOK, "no key matches")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--pattern", "*", "--all", "--dry-run").want(t, exitOK, "would purge")
	})
}

func TestPurgeTagAndURL(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, tg target) {
		ns := nsName(t)
		mc, err := middleware.New(tg.b, &middleware.Options{Namespace: ns, Memo: &memo.Options{L1Size: -1}})
		if err != nil {
			t.Fatal(err)
		}
		defer mc.Close()
		var calls atomic.Int32
		h := mc.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Cache-Control", "max-age=600")
			w.Header().Set("Cache-Tag", "tag-"+strings.TrimPrefix(r.URL.Path, "/"))
			fmt.Fprint(w, "body of ", r.URL.Path)
		}))
		get := func(path string) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://example.com"+path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, rec.Code)
			}
		}
		// served reports how many of paths ran the handler.
		served := func(paths ...string) int {
			before := calls.Load()
			for _, p := range paths {
				get(p)
			}
			return int(calls.Load() - before)
		}
		served("/a", "/b", "/docs/x")
		if n := served("/a", "/b", "/docs/x"); n != 0 {
			t.Fatalf("%d handler call(s) on cached paths, want 0", n)
		}
		cli(t, "", tg.url, "purge", "--namespace", ns, "--tag", "tag-a", "--dry-run").want(t, exitOK, "would purge tag(s) tag-a")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--tag", "tag-a", "--yes").want(t, exitOK, "purged tag(s) tag-a")
		waitServed := func(path string) {
			deadline := time.Now().Add(5 * time.Second) // other nodes' L1: pub/sub, or the 2 s tag L1 TTL
			for served(path) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%s still cached 5s after its purge", path)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		waitServed("/a")
		if n := served("/b"); n != 0 {
			t.Errorf("/b was purged by tag-a")
		}
		cli(t, "y\n", tg.url, "purge", "--namespace", ns, "--url", "http://example.com/b").want(t, exitOK, "purged the responses of http://example.com/b")
		waitServed("/b")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--prefix", "http://example.com/docs/", "--dry-run").want(t, exitOK, "would purge about")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--prefix", "http://example.com/docs/", "--yes").want(t, exitOK, "stored response(s) under")
		waitServed("/docs/x")

		cli(t, "", tg.url, "purge", "--namespace", ns, "--url", "example.com/b").want(t, exitUsage, "absolute")
		cli(t, "", tg.url, "purge", "--namespace", ns, "--tag", "").want(t, exitUsage, "empty tag")
		cli(t, "", tg.url, "purge", "--namespace", ns+"-none", "--tag", "x", "--yes").want(t, exitNotFound, "does not exist")
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, tg target) {
		ns := nsName(t)
		seed(t, tg, ns, "a", "b")
		bad := "t-nottl-" + ns
		tg.client.Set(t.Context(), bad, "x", 0)
		t.Cleanup(func() { tg.client.Del(context.Background(), bad) })
		r := cli(t, "", tg.url, "stats", "--sample", "100000", "--progress")
		r.want(t, exitOK, "server:", "redis 7", "hit ratio:", "sampled", "namespace", "TTL histogram", "1h – 1d",
			"have no TTL (a cache should never have them)")
		if !regexp.MustCompile(regexp.QuoteMeta(ns) + `\s+v1\s+2\s`).MatchString(r.stdout) {
			t.Errorf("stats lacks 2 entries for %s v1:\n%s", ns, r.stdout)
		}
		if tg.name != "standalone" && !strings.Contains(r.stdout, "3 master(s)") {
			t.Errorf("Cluster stats do not cover 3 masters:\n%s", r.stdout)
		}
		cli(t, "", tg.url, "stats", "--sample", "0").want(t, exitUsage, "--sample")
	})
}

func TestStatsWarnsOnEvictingPolicy(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
	cli(t, "", "", "stats", "--redis", "redis://"+s.Addr).want(t, exitOK, "policy allkeys-lru",
		"warning: maxmemory-policy allkeys-lru can evict lock keys")
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		code int
		want string
	}{
		{"http://127.0.0.1:6379", exitUsage, `scheme "http"`},
		{"redis://127.0.0.1:notaport", exitUsage, "bad --redis URL"},
		{"redis://127.0.0.1:6379/x", exitUsage, "bad --redis URL"},
		{"127.0.0.1:6379", exitUsage, "bad --redis URL"},
		{"redis://127.0.0.1:1", exitFailure, "redis at 127.0.0.1:1"},
		{"redis://127.0.0.1:1,redis://127.0.0.1:2", exitFailure, "redis at 127.0.0.1:1,127.0.0.1:2"},
	} {
		cli(t, "", "", "keys", "app", "--redis", tc.url, "--timeout", "2s").want(t, tc.code, tc.want)
	}
	cli(t, "", "", "stats", "--redis", "redis://127.0.0.1:1", "--timeout", "0s").want(t, exitUsage, "--timeout")
	// rediss:// speaks TLS: against a plain server the handshake fails, as
	// a failure (1) with the address, not a usage error.
	plain := redistest.Shared(t)
	cli(t, "", "", "stats", "--redis", "rediss://"+plain.Addr, "--timeout", "1s").want(t, exitFailure, "redis at "+plain.Addr, "does the server?")
	// $REDIS_URL is used when --redis is absent.
	cli(t, "", "redis://127.0.0.1:1", "stats").want(t, exitFailure, "redis at 127.0.0.1:1")
}

func TestFrozenServerBoundedByTimeout(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	s.Pause(t)
	t.Cleanup(func() { s.Resume(t) })
	for _, args := range [][]string{
		{"stats"}, {"keys", "app"}, {"get", "app", "k"}, {"purge", "--namespace", "app", "--yes"},
	} {
		start := time.Now()
		r := cli(t, "", "redis://"+s.Addr, append(args, "--timeout", "300ms")...)
		r.want(t, exitFailure, "did not answer within 300ms")
		// One timed-out round trip; the rest is process scheduling on a
		// loaded machine.
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("%v on a frozen server took %v with --timeout 300ms", args, el)
		}
	}
}

func TestFrozenClusterNodeBoundedByTimeout(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	cl.Nodes[2].Pause(t)
	t.Cleanup(func() { cl.Nodes[2].Resume(t) })
	seeds := "redis://" + cl.Nodes[0].Addr + ",redis://" + cl.Nodes[1].Addr
	for _, args := range [][]string{
		{"stats", "--redis", "redis://" + cl.Nodes[0].Addr},
		{"keys", "app", "--redis", seeds},
		{"purge", "--namespace", "app", "--yes", "--redis", seeds},
	} {
		start := time.Now()
		cli(t, "", "", append(args, "--timeout", "300ms")...).want(t, exitFailure, "did not answer within 300ms")
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%v with a frozen Cluster node took %v with --timeout 300ms", args, el)
		}
	}
}
