package memo_test

import (
	"context"
	"errors"
	"log/slog"
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

// evict deletes the keys matching pattern out of band, as maxmemory
// eviction does.
func evict(t *testing.T, rc *redis.Client, pattern string) {
	t.Helper()
	keys, err := rc.Keys(t.Context(), pattern).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("KEYS %s = %v, %v; want keys to evict", pattern, keys, err)
	}
	if err := rc.Del(t.Context(), keys...).Err(); err != nil {
		t.Fatal(err)
	}
}

// dataKeyPattern matches the data key of key in namespace ns, version 1,
// under any generation.
func dataKeyPattern(ns, key string) string {
	return backend.QuoteGlob(backend.EscapeKeyPart(ns)) + ":v1:*:" + backend.QuoteGlob(backend.EscapeKeyPart(key))
}

// A load that overlapped an invalidation is not stored even when the
// invalidation's tombstone was evicted before the load's compare-and-swap
// (which then finds the key absent, as the load did, and would succeed).
func TestInvalidateSurvivesEvictedTombstone(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	rc := s.Client(t)
	for _, tc := range []struct {
		name  string
		other bool // the invalidation comes from another node, by pub/sub
	}{{"same node", false}, {"other node", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := redistest.Prefix(t)
			o := memo.Options{Namespace: ns, L1Size: 10, L1TTL: time.Hour, TTL: time.Hour, Logger: discardLogger()}
			loader := newNode[string](t, s.Addr, o)
			inval := loader
			if tc.other {
				inval = newNode[string](t, s.Addr, o)
			}
			ctx := t.Context()
			started, release := make(chan struct{}), make(chan struct{})
			got := make(chan string, 1)
			go func() {
				v, _ := loader.cache.Get(ctx, "k", func(context.Context) (string, error) {
					close(started)
					<-release
					return "old", nil
				})
				got <- v
			}()
			<-started
			if err := inval.cache.Invalidate(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if tc.other {
				// Messages arrive in order: once the loader's node has
				// evicted "marker" from its L1, it has heard of "k" too.
				marker := func(context.Context) (string, error) { return "m", nil }
				for range 2 {
					if _, err := loader.cache.Get(ctx, "marker", marker); err != nil {
						t.Fatal(err)
					}
				}
				before := loader.cache.Stats().L1Invalidations
				if err := inval.cache.Invalidate(ctx, "marker"); err != nil {
					t.Fatal(err)
				}
				waitUntil(t, 5*time.Second, "the loader's node hears the invalidations", func() bool {
					return loader.cache.Stats().L1Invalidations > before
				})
			}
			evict(t, rc, dataKeyPattern(ns, "k")) // the tombstone
			close(release)
			<-got
			if keys, _ := rc.Keys(ctx, dataKeyPattern(ns, "k")).Result(); len(keys) != 0 {
				t.Fatalf("after an invalidation during the load, the load stored %v; want nothing stored", keys)
			}
			fresh := newNode[string](t, s.Addr, o)
			if v, err := fresh.cache.Get(ctx, "k", func(context.Context) (string, error) { return "new", nil }); v != "new" {
				t.Fatalf("Get on a fresh node = %q, %v; want new (the value loaded before the invalidation was stored)", v, err)
			}
		})
	}
}

// An evicted generation key never sends nodes back to an older generation:
// values from before a Clear are not served again.
func TestClearSurvivesEvictedGeneration(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	rc := s.Client(t)
	ns := redistest.Prefix(t)
	o := memo.Options{Namespace: ns, TTL: time.Hour, Logger: discardLogger()}
	a := newNode[string](t, s.Addr, o)
	b := newNode[string](t, s.Addr, o)
	ctx := t.Context()
	value := func(v string) memo.LoadFunc[string] {
		return func(context.Context) (string, error) { return v, nil }
	}
	if v, _ := a.cache.Get(ctx, "k", value("before")); v != "before" {
		t.Fatalf("Get = %q", v)
	}
	if err := a.cache.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "b follows the Clear", func() bool {
		v, _ := b.cache.Get(ctx, "k", value("after"))
		return v == "after"
	})
	evict(t, rc, backend.QuoteGlob(memo.GenerationKey(ns, 1)))
	// Every node re-reads the generation within a second or so; until it
	// moves to a new one it serves "after", then loads "cold". Never
	// "before".
	moved := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(moved) < 2 {
		for name, n := range map[string]node[string]{"a": a, "b": b} {
			v, err := n.cache.Get(ctx, "k", value("cold"))
			switch {
			case err != nil:
				t.Fatalf("%s: Get = %v", name, err)
			case v == "before":
				t.Fatalf("%s: Get = %q after the generation key was evicted: a Clear was undone", name, v)
			case v == "cold":
				moved[name] = true
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes moved to a new generation: %v; want both within 5s", moved)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	c := newNode[string](t, s.Addr, o)
	if v, _ := c.cache.Get(ctx, "k", value("cold")); v == "before" {
		t.Fatalf("a new node serves %q: a Clear was undone", v)
	}
}

// TestEvictionPolicyChecked: New warns about a server that can evict keys
// and fails with StrictEviction; noeviction is silent; a server that
// refuses CONFIG is not an error even when strict.
func TestEvictionPolicyChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		evicts bool
	}{
		{"allkeys-lru", []string{"--maxmemory-policy", "allkeys-lru", "--maxmemory", "64mb"}, true},
		{"noeviction", []string{"--maxmemory-policy", "noeviction", "--maxmemory", "64mb"}, false},
		{"refused", []string{"--maxmemory-policy", "allkeys-lru", "--maxmemory", "64mb", "--rename-command", "CONFIG", ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t, tc.args...)
			b, err := goredis.New(s.Client(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			var mu sync.Mutex
			logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
			c, err := memo.New[string](b, &memo.Options{Namespace: redistest.Prefix(t), Logger: logger})
			if err != nil {
				t.Fatalf("New = %v, want a Cache (warning only)", err)
			}
			_ = c.Close()
			mu.Lock()
			warned := strings.Contains(logs.String(), "can evict keys")
			mu.Unlock()
			if warned != tc.evicts {
				t.Fatalf("warned = %v, want %v (logs: %s)", warned, tc.evicts, logs.String())
			}
			c, err = memo.New[string](b, &memo.Options{Namespace: redistest.Prefix(t), Logger: discardLogger(), StrictEviction: true})
			if tc.evicts {
				if !errors.Is(err, memo.ErrEvictionPolicy) || !strings.Contains(err.Error(), s.Addr) {
					t.Fatalf("strict New = %v, want ErrEvictionPolicy naming %s", err, s.Addr)
				}
				return
			}
			if err != nil {
				t.Fatalf("strict New = %v, want a Cache", err)
			}
			_ = c.Close()
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
