package middleware

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestRedisPurgeAcrossNodes: two middleware instances on separate Redis
// clients share entries; a tag purge on one is seen by the other.
func TestRedisPurgeAcrossNodes(t *testing.T) {
	srv := redistest.Shared(t)
	ns := strings.TrimSuffix(redistest.Prefix(t), ":")
	var calls atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "news")
		io.WriteString(w, "story")
	})
	var nodes []http.Handler
	var caches []*Cache
	for range 2 {
		b, err := goredis.New(srv.Client(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(b, &Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		caches = append(caches, c)
		nodes = append(nodes, c.Handler(origin))
	}
	status := func(n int) string {
		return do(nodes[n], http.MethodGet, "http://example.com/a").Header().Get("Cache-Status")
	}
	status(0)
	if cs := status(1); !strings.Contains(cs, "hit") {
		t.Fatalf("node 1 after node 0 stored: %q, want hit", cs)
	}
	status(0) // node 0's L1 holds it now
	if err := caches[1].PurgeTags(context.Background(), "news"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(status(0), "fwd=uri-miss") })
	if cs := status(1); !strings.Contains(cs, "hit") {
		t.Fatalf("node 1 after node 0 refilled: %q, want hit", cs)
	}
	if calls.Load() != 2 {
		t.Errorf("origin calls = %d, want 2", calls.Load())
	}
}

// An invalidation after a write is not lost while Redis is unavailable
// (defect 9): the node that took the write bypasses its cache for the URL
// until the invalidation lands, retries it in the background, and other
// nodes converge once it lands. The test logs the staleness measured on
// the other node after Redis resumes.
func TestRedisInvalidationSurvivesOutage(t *testing.T) {
	srv := redistest.Start(t)
	var version atomic.Int64
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			version.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=30")
		fmt.Fprintf(w, "v%d", version.Load())
	})
	var nodes []http.Handler
	var caches []*Cache
	for range 2 {
		b, err := goredis.New(srv.Client(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(b, &Options{Logger: discardLogger(), Memo: &memo.Options{BackendTimeout: 100 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		caches = append(caches, c)
		nodes = append(nodes, c.Handler(origin))
	}
	get := func(n int) (string, string) {
		w := do(nodes[n], http.MethodGet, "http://example.com/r")
		return w.Body.String(), w.Header().Get("Cache-Status")
	}
	get(0)
	if body, cs := get(1); body != "v0" || !strings.Contains(cs, "hit") {
		t.Fatalf("node 1 before the outage: %q %q, want a hit of v0", body, cs)
	}
	srv.Pause(t)
	paused := true
	defer func() {
		if paused {
			srv.Resume(t)
		}
	}()
	if w := do(nodes[0], http.MethodPut, "http://example.com/r"); w.Code != http.StatusNoContent {
		t.Fatalf("PUT during the outage: %d", w.Code)
	}
	if s := caches[0].InvalidationStats(); s.Failures == 0 || s.Pending != 1 {
		t.Fatalf("after a PUT during the outage: failures=%d pending=%d, want ≥1 and 1", s.Failures, s.Pending)
	}
	for range 3 {
		if body, cs := get(0); body != "v1" {
			t.Fatalf("node that took the write, during the outage: %q (%s), want v1", body, cs)
		}
	}
	srv.Resume(t)
	paused = false
	resumed := time.Now()
	waitFor(t, func() bool { return caches[0].InvalidationStats().Pending == 0 })
	landed := time.Since(resumed)
	waitFor(t, func() bool { body, _ := get(1); return body == "v1" })
	converged := time.Since(resumed)
	if s := caches[0].InvalidationStats(); s.Landed != 1 || s.Dropped != 0 {
		t.Fatalf("after recovery: landed=%d dropped=%d, want 1 and 0", s.Landed, s.Dropped)
	}
	if body, cs := get(0); body != "v1" {
		t.Fatalf("node 0 after recovery: %q (%s), want v1", body, cs)
	}
	t.Logf("after Redis resumed: invalidation landed in %v, the other node served v1 after %v", landed, converged)
}

// A miss while Redis does not answer costs about one BackendTimeout, not
// one per backend call the middleware makes (defect 6: the lookup, then
// the purge sequence and tag generations of a tagged response).
func TestRedisOneBackendBudgetPerRequest(t *testing.T) {
	srv := redistest.Start(t)
	b, err := goredis.New(srv.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	const budget = 300 * time.Millisecond
	c, err := New(b, &Options{Logger: discardLogger(), Memo: &memo.Options{BackendTimeout: budget}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Tag", "news")
		io.WriteString(w, "story")
	}))
	srv.Pause(t)
	defer srv.Resume(t)
	start := time.Now()
	w := do(h, http.MethodGet, "http://example.com/frozen")
	took := time.Since(start)
	if w.Body.String() != "story" {
		t.Fatalf("miss with Redis frozen: %d %q, want the handler's response", w.Code, w.Body.String())
	}
	if took >= budget*7/4 { // two backend timeouts (the defect) take ≥ 2×budget
		t.Fatalf("miss with Redis frozen took %v, want about one BackendTimeout (%v), not one per backend call", took, budget)
	}
}
