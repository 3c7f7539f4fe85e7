package middleware

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
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
