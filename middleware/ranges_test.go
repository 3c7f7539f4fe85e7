package middleware

import (
	"net/http"
	"testing"
)

// TestRangeFromStored: Range requests are answered from the stored
// complete 200 (RFC 9110 §14), the handler running once, without Range.
func TestRangeFromStored(t *testing.T) {
	t.Parallel()
	const lm = "Wed, 01 Jan 2025 11:00:00 GMT"
	tests := []struct {
		name         string
		req          []string
		status       int
		body         string
		contentRange string
	}{
		{name: "single range", req: []string{"Range", "bytes=2-5"}, status: 206, body: "2345", contentRange: "bytes 2-5/10"},
		{name: "suffix range", req: []string{"Range", "bytes=-3"}, status: 206, body: "789", contentRange: "bytes 7-9/10"},
		{name: "open range", req: []string{"Range", "bytes=8-"}, status: 206, body: "89", contentRange: "bytes 8-9/10"},
		{name: "unsatisfiable", req: []string{"Range", "bytes=20-30"}, status: 416, contentRange: "bytes */10"},
		{name: "multiple ranges: whole", req: []string{"Range", "bytes=0-1, 4-5"}, status: 200, body: "0123456789"},
		{name: "other unit: whole", req: []string{"Range", "items=0-1"}, status: 200, body: "0123456789"},
		{name: "If-Range etag match", req: []string{"Range", "bytes=0-1", "If-Range", `"v1"`}, status: 206, body: "01", contentRange: "bytes 0-1/10"},
		{name: "If-Range etag mismatch", req: []string{"Range", "bytes=0-1", "If-Range", `"v0"`}, status: 200, body: "0123456789"},
		{name: "If-Range date match", req: []string{"Range", "bytes=0-1", "If-Range", lm}, status: 206, body: "01", contentRange: "bytes 0-1/10"},
		{name: "If-Range date mismatch", req: []string{"Range", "bytes=0-1", "If-Range", "Wed, 01 Jan 2025 10:00:00 GMT"}, status: 200, body: "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c := newTestCache(t, &Options{Now: clk.Now})
			var sawRange bool
			o := &origin{header: map[string]string{"Cache-Control": "max-age=60", "Etag": `"v1"`, "Last-Modified": lm, "Content-Type": "text/plain"}, body: "0123456789", now: clk.Now}
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sawRange = sawRange || r.Header.Get("Range") != ""
				o.ServeHTTP(w, r)
			}))
			for i, first := range []bool{true, false} { // a miss, then a hit
				w := do(h, http.MethodGet, "/r", tt.req...)
				if w.Code != tt.status || (tt.body != "" && w.Body.String() != tt.body) || w.Header().Get("Content-Range") != tt.contentRange {
					t.Fatalf("request %d (miss=%v): %d %q Content-Range %q, want %d %q %q", i+1, first, w.Code, w.Body.String(), w.Header().Get("Content-Range"), tt.status, tt.body, tt.contentRange)
				}
			}
			if o.calls.Load() != 1 || sawRange {
				t.Fatalf("handler called %d times (saw Range: %v), want once without Range", o.calls.Load(), sawRange)
			}
			if w := do(h, http.MethodGet, "/r"); w.Code != 200 || w.Body.String() != "0123456789" {
				t.Fatalf("full request after ranges: %d %q, want the whole 200", w.Code, w.Body.String())
			}
		})
	}
}

// TestPartialNotStoredAsFull: a 206 from the handler is never stored,
// not even as a full response for later requests.
func TestPartialNotStoredAsFull(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	o := &origin{status: http.StatusPartialContent, header: map[string]string{"Cache-Control": "max-age=60", "Content-Range": "bytes 0-1/10"}, body: "01"}
	h := c.Handler(o)
	do(h, http.MethodGet, "/p", "Range", "bytes=0-1")
	w := do(h, http.MethodGet, "/p")
	if o.calls.Load() != 2 {
		t.Fatalf("handler called %d times, want 2: a 206 must not be stored", o.calls.Load())
	}
	if w.Code != http.StatusPartialContent || w.Body.String() != "01" {
		t.Fatalf("got %d %q, want the handler's own 206", w.Code, w.Body.String())
	}
}
