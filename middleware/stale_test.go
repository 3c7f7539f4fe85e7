package middleware

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStaleWhileRevalidate (RFC 5861 §3): a stale response within its
// window is served at once and revalidated once in the background.
func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
		fmt.Fprintf(w, "v%d", n)
	}))
	do(h, http.MethodGet, "http://example.com/")
	clk.Add(2 * time.Second)
	w := do(h, http.MethodGet, "http://example.com/")
	if w.Body.String() != "v1" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("stale response = %q (%q), want v1 hit", w.Body.String(), w.Header().Get("Cache-Status"))
	}
	waitFor(t, func() bool { return calls.Load() == 2 })
	waitFor(t, func() bool { return do(h, http.MethodGet, "http://example.com/").Body.String() == "v2" })
	if calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", calls.Load())
	}
}

// TestStaleIfError (RFC 5861 §4): a stale response within its
// stale-if-error window is served when the handler fails with 5xx.
func TestStaleIfError(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now})
	var fail atomic.Bool
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=60")
		io.WriteString(w, "good")
	}))
	do(h, http.MethodGet, "http://example.com/")
	fail.Store(true)
	clk.Add(2 * time.Second)
	if w := do(h, http.MethodGet, "http://example.com/"); w.Code != 200 || w.Body.String() != "good" {
		t.Fatalf("within stale-if-error: %d %q, want 200 good", w.Code, w.Body.String())
	}
	clk.Add(2 * time.Minute)
	if w := do(h, http.MethodGet, "http://example.com/"); w.Code != 503 {
		t.Fatalf("past stale-if-error: %d, want 503", w.Code)
	}
}

// TestMustRevalidateNoStale (RFC 9111 §5.2.2.2): must-revalidate
// forbids serving stale, even with a configured stale-if-error.
func TestMustRevalidateNoStale(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now, StaleIfError: time.Hour})
	var fail atomic.Bool
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, must-revalidate")
		io.WriteString(w, "good")
	}))
	do(h, http.MethodGet, "http://example.com/")
	fail.Store(true)
	clk.Add(2 * time.Second)
	if w := do(h, http.MethodGet, "http://example.com/"); w.Code != 502 {
		t.Fatalf("status = %d, want 502", w.Code)
	}
}

// TestUnsafeInvalidates (RFC 9111 §4.4): a successful POST invalidates
// the target URI and the same-origin Location.
func TestUnsafeInvalidates(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/other")
			w.WriteHeader(http.StatusCreated)
			return
		}
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
	}))
	do(h, http.MethodGet, "http://example.com/x")
	do(h, http.MethodGet, "http://example.com/other")
	do(h, http.MethodPost, "http://example.com/x")
	do(h, http.MethodGet, "http://example.com/x")
	do(h, http.MethodGet, "http://example.com/other")
	if got := calls.Load(); got != 4 {
		t.Errorf("GET calls = %d, want 4", got)
	}
}

// TestPurge covers purge by tag, URL (with variants), prefix and the
// PURGE method.
func TestPurge(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, &Options{AllowPurge: func(r *http.Request) bool { return r.Header.Get("X-Token") == "ok" }})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Tag", "all "+strings.Trim(r.URL.Path, "/"))
		w.Header().Set("Vary", "Accept-Language")
	}))
	get := func(p string) string {
		return do(h, http.MethodGet, "http://example.com"+p, "Accept-Language", "en").Header().Get("Cache-Status")
	}
	ctx := context.Background()
	for _, step := range []struct {
		purge func()
		path  string
		hit   bool
	}{
		{nil, "/docs/a", false},
		{nil, "/docs/a", true},
		{func() { c.PurgeTags(ctx, "docs/a") }, "/docs/a", false},
		{nil, "/docs/a", true},
		{func() { c.PurgeURL(ctx, "http://example.com/docs/a") }, "/docs/a", false},
		{nil, "/blog", false},
		{func() { c.PurgePrefix(ctx, "http://example.com/docs/") }, "/docs/a", false},
		{nil, "/blog", true},
		{func() { c.PurgeTags(ctx, "all") }, "/blog", false},
		{func() { do(h, "PURGE", "http://example.com/blog", "X-Token", "no") }, "/blog", true},
		{func() { do(h, "PURGE", "http://example.com/blog", "X-Token", "ok") }, "/blog", false},
		{func() { do(h, "PURGE", "http://example.com/x", "X-Token", "ok", "Cache-Tag", "blog") }, "/blog", false},
	} {
		if step.purge != nil {
			step.purge()
		}
		if cs := get(step.path); strings.Contains(cs, "hit") != step.hit {
			t.Fatalf("GET %s: Cache-Status %q, want hit=%v", step.path, cs, step.hit)
		}
	}
}

// TestReverseProxy runs the middleware in front of httputil.ReverseProxy
// and an upstream server: the gateway-cache deployment.
func TestReverseProxy(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"abc"`)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "upstream %s", r.URL.Path)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	c := newTestCache(t, nil)
	front := httptest.NewServer(c.Handler(httputil.NewSingleHostReverseProxy(u)))
	defer front.Close()
	for i := range 3 {
		resp, err := http.Get(front.URL + "/page")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "upstream /page" || resp.Header.Get("Etag") != `"abc"` {
			t.Fatalf("response %d = %q %v", i, b, resp.Header)
		}
		if cs := resp.Header.Get("Cache-Status"); (i > 0) != strings.Contains(cs, "hit") {
			t.Errorf("response %d: Cache-Status %q", i, cs)
		}
		if i > 0 && resp.Header.Get("Age") == "" {
			t.Errorf("hit without Age")
		}
	}
	req, _ := http.NewRequest(http.MethodGet, front.URL+"/page", nil)
	req.Header.Set("If-None-Match", `"abc"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional request: %d, want 304", resp.StatusCode)
	}
	if calls.Load() != 1 {
		t.Errorf("upstream calls = %d, want 1", calls.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
