package middleware

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
