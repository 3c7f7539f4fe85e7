package middleware

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// A handler that declares a Content-Length it does not write is not stored
// as a complete response: its client sees the truncation (as without the
// cache), and the next request goes to the handler again.
func TestTruncatedResponseNotStored(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, &Options{Logger: discardLogger()})
	var calls atomic.Int64
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "0123456789")
	})))
	t.Cleanup(srv.Close)
	for i := range 2 {
		resp, err := srv.Client().Get(srv.URL + "/t")
		if err != nil {
			continue // the connection was aborted before the header: fine
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatalf("request %d: read %d bytes (%q) of a response declaring 1000 with no error, Cache-Status %q",
				i, len(body), body, resp.Header.Get("Cache-Status"))
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("handler calls = %d, want 2 (the truncated response was stored)", calls.Load())
	}
}

// A handler cut off at the load timeout that returns after a partial
// write is not stored; its client gets a timeout, not the partial body.
func TestCutOffResponseNotStored(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, &Options{Memo: &memo.Options{LoadTimeout: 50 * time.Millisecond}})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		if calls.Add(1) == 1 {
			io.WriteString(w, "part")
			<-r.Context().Done() // cut off at the load timeout
			return
		}
		io.WriteString(w, "whole")
	}))
	w := do(h, http.MethodGet, "http://example.com/slow")
	if w.Code == http.StatusOK || strings.Contains(w.Body.String(), "part") {
		t.Fatalf("cut-off response: %d %q, want a timeout and no partial body", w.Code, w.Body.String())
	}
	w = do(h, http.MethodGet, "http://example.com/slow")
	if w.Body.String() != "whole" || calls.Load() != 2 {
		t.Fatalf("after a cut-off response: %q with %d handler calls, want \"whole\" from a second call", w.Body.String(), calls.Load())
	}
}

// Error statuses a hostile request can provoke are not stored by default,
// even with explicit freshness (defect 4); 404 is; StoreAllErrors restores
// RFC 9111's maximal storing.
func TestProvokableErrorsNotStored(t *testing.T) {
	t.Parallel()
	for _, all := range []bool{false, true} {
		c := newTestCache(t, &Options{StoreAllErrors: all})
		for _, status := range []int{400, 404, 413, 414, 431, 500, 503} {
			var calls atomic.Int64
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Cache-Control", "public, max-age=60, s-maxage=60")
				w.WriteHeader(status)
			}))
			url := fmt.Sprintf("http://example.com/%d", status)
			do(h, http.MethodGet, url)
			do(h, http.MethodGet, url)
			stored := calls.Load() == 1
			if want := all || status == 404; stored != want {
				t.Errorf("StoreAllErrors=%v: status %d stored=%v, want %v", all, status, stored, want)
			}
		}
	}
}

// Responses to requests with Authorization are shared when they say
// public (RFC 9111 §3.5), and never with PrivateAuthorization (defect 5).
func TestPrivateAuthorization(t *testing.T) {
	t.Parallel()
	for _, private := range []bool{false, true} {
		c := newTestCache(t, &Options{PrivateAuthorization: private})
		h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=60")
			io.WriteString(w, "for "+r.Header.Get("Authorization"))
		}))
		do(h, http.MethodGet, "http://example.com/me", "Authorization", "Bearer alice")
		got := do(h, http.MethodGet, "http://example.com/me").Body.String()
		if shared := got == "for Bearer alice"; shared == private {
			t.Errorf("PrivateAuthorization=%v: anonymous request got %q (shared=%v)", private, got, shared)
		}
	}
}

// One request that makes the application answer with a cookie does not
// turn caching of its URL off for everyone (defect 7): the URL is marked
// hit-for-miss, and the next storable response is stored and clears it.
func TestHitForMissStoresNextCacheableResponse(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Query().Get("x") == "" && r.Header.Get("Accept-Language") == "trigger" {
			w.Header().Set("Set-Cookie", "s=1")
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "page")
	}))
	do(h, http.MethodGet, "http://example.com/p", "Accept-Language", "trigger") // not storable: marks the URL
	if cs := do(h, http.MethodGet, "http://example.com/p").Header().Get("Cache-Status"); !strings.Contains(cs, "stored") {
		t.Fatalf("first storable response after the mark: %q, want it stored", cs)
	}
	if cs := do(h, http.MethodGet, "http://example.com/p").Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Fatalf("after a storable response replaced the mark: %q, want a hit", cs)
	}
	if calls.Load() != 2 {
		t.Fatalf("handler calls = %d, want 2", calls.Load())
	}
}

// A far-future Expires is clamped and stored, and a response is reported
// "stored" only when it was (defect 8).
func TestFarFutureExpiresStored(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := newTestCache(t, &Options{Logger: logger})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Expires", "Sat, 20 Nov 2286 17:46:40 GMT")
		io.WriteString(w, "forever")
	}))
	if cs := do(h, http.MethodGet, "http://example.com/f").Header().Get("Cache-Status"); !strings.Contains(cs, "stored") {
		t.Fatalf("far-future Expires: %q, want stored", cs)
	}
	if cs := do(h, http.MethodGet, "http://example.com/f").Header().Get("Cache-Status"); !strings.Contains(cs, "hit") || calls.Load() != 1 {
		t.Fatalf("second request: %q after %d handler calls, want a hit after 1", cs, calls.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if logs.Len() > 0 {
		t.Fatalf("warnings logged: %s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// only-if-cached never reaches the handler, even for a URL marked
// hit-for-miss.
func TestOnlyIfCachedOnMarkedURL(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Set-Cookie", "s=1")
		w.Header().Set("Cache-Control", "max-age=60")
	}))
	do(h, http.MethodGet, "http://example.com/m") // marks the URL
	if w := do(h, http.MethodGet, "http://example.com/m", "Cache-Control", "only-if-cached"); w.Code != http.StatusGatewayTimeout || calls.Load() != 1 {
		t.Fatalf("only-if-cached on a marked URL: %d after %d handler calls, want 504 after 1", w.Code, calls.Load())
	}
}
