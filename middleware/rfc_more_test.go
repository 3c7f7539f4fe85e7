package middleware

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// countingOrigin answers with body and the given headers, counting calls.
func countingOrigin(calls *atomic.Int64, body string, hdr ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			io.WriteString(w, body)
		}
	})
}

// RFC 9111 §4.3.4: a 304 from an in-process handler (which sets no Date)
// freshens the stored response, so the next request is a hit.
func TestRevalidation304WithoutDateFreshens(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body")
	}))
	do(h, http.MethodGet, "http://example.com/r")
	clk.Add(20 * time.Second) // stale: revalidated with a 304
	if w := do(h, http.MethodGet, "http://example.com/r"); w.Code != 200 || w.Body.String() != "body" {
		t.Fatalf("revalidated response = %d %q, want the full stored body", w.Code, w.Body.String())
	}
	clk.Add(time.Second)
	w := do(h, http.MethodGet, "http://example.com/r")
	if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Fatalf("after a 304 freshened the entry: Cache-Status %q, want a hit", cs)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("origin calls = %d, want 2 (store, revalidate)", n)
	}
}

// RFC 9110 §13.1.1: If-Match: * is true for any stored representation,
// entity tag or not.
func TestIfMatchStarWithoutETag(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	h := c.Handler(countingOrigin(&calls, "x", "Cache-Control", "max-age=60"))
	do(h, http.MethodGet, "http://example.com/m")
	if w := do(h, http.MethodGet, "http://example.com/m", "If-Match", "*"); w.Code != http.StatusOK {
		t.Fatalf("If-Match: * on a stored response without ETag = %d, want 200", w.Code)
	}
}

// RFC 9111 §4.4: a successful unsafe request invalidates its target, also
// when the handler writes nothing (an implicit 200) and for extension
// methods.
func TestUnsafeMethodsInvalidate(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodDelete, "MKCOL", "PROPPATCH"} {
		c := newTestCache(t, nil)
		var calls atomic.Int64
		h := c.Handler(countingOrigin(&calls, "x", "Cache-Control", "max-age=60"))
		do(h, http.MethodGet, "http://example.com/u")
		if cs := do(h, http.MethodGet, "http://example.com/u").Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
			t.Fatalf("second GET not a hit: %q", cs)
		}
		do(h, method, "http://example.com/u") // writes nothing: implicit 200
		if cs := do(h, http.MethodGet, "http://example.com/u").Header().Get("Cache-Status"); strings.Contains(cs, "hit") {
			t.Fatalf("GET after a successful %s is still a hit: %q", method, cs)
		}
	}
}

// Streams (WebSocket upgrades, Server-Sent Events) bypass the cache: they
// must not queue behind one flight per URL.
func TestStreamRequestsBypass(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	h := c.Handler(countingOrigin(&calls, "event: x\n\n", "Cache-Control", "max-age=60", "Content-Type", "text/event-stream"))
	for _, hdr := range [][]string{{"Accept", "text/event-stream"}, {"Connection", "Upgrade", "Upgrade", "websocket"}} {
		w := do(h, http.MethodGet, "http://example.com/events", hdr...)
		if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "fwd=bypass") || !strings.Contains(cs, "stream") {
			t.Fatalf("stream request %v: Cache-Status %q, want a bypass", hdr, cs)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("origin calls = %d, want 2 (never served from cache)", calls.Load())
	}
}

// Hit-for-pass: once a URL's response turned out not storable (here: it
// sets a cookie), its requests go to the handler concurrently instead of
// queueing behind one shared call each.
func TestHitForPass(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	const n = 8
	var inFlight, calls atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-Barrier") != "" {
			// Every request must be in the handler at once: impossible if
			// they were serialised behind one flight.
			if inFlight.Add(1) == n {
				once.Do(func() { close(release) })
			}
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
		w.Header().Set("Set-Cookie", "session=per-user")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "personal")
	}))
	do(h, http.MethodGet, "http://example.com/p") // learns: not storable
	var wg sync.WaitGroup
	statuses := make(chan string, n)
	for range n {
		wg.Go(func() {
			w := do(h, http.MethodGet, "http://example.com/p", "X-Barrier", "1")
			statuses <- w.Header().Get("Cache-Status")
		})
	}
	wg.Wait()
	close(statuses)
	for cs := range statuses {
		if !strings.Contains(cs, "uncacheable") {
			t.Fatalf("request to a known-uncacheable URL: Cache-Status %q, want hit-for-miss (detail=uncacheable)", cs)
		}
	}
	select {
	case <-release:
	default:
		t.Fatalf("only %d of %d requests reached the handler together: they were serialised", inFlight.Load(), n)
	}
}

// A request's own credentials do not mark its URL uncacheable for others.
func TestNoPassForCredentialedRequest(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	h := c.Handler(countingOrigin(&calls, "page", "Cache-Control", "max-age=60"))
	do(h, http.MethodGet, "http://example.com/page", "Authorization", "Bearer x") // not stored: Authorization
	do(h, http.MethodGet, "http://example.com/page")                              // stored
	w := do(h, http.MethodGet, "http://example.com/page")
	if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Fatalf("anonymous request after a credentialed one: Cache-Status %q, want a hit", cs)
	}
}

// MaxVariants counts distinct variants: refreshing the same two variants
// many times never hits a cap of 2.
func TestMaxVariantsCountsDistinctVariants(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now, MaxVariants: 2})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=1")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "hello "+r.Header.Get("Accept-Language"))
	}))
	for i := 0; i < 40; i++ {
		for _, lang := range []string{"en", "fr"} {
			do(h, http.MethodGet, "http://example.com/v", "Accept-Language", lang)
		}
		clk.Add(2 * time.Second) // both variants expire: refreshed next round
	}
	for _, lang := range []string{"en", "fr"} {
		do(h, http.MethodGet, "http://example.com/v", "Accept-Language", lang)
		w := do(h, http.MethodGet, "http://example.com/v", "Accept-Language", lang)
		if cs := w.Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
			t.Fatalf("variant %s after 40 refreshes: Cache-Status %q, want a hit (2 variants, cap 2)", lang, cs)
		}
	}
}

// A tag purge that lands while a response is being rendered must not be
// lost: the response (which may predate the purge) is served, not stored.
func TestPurgeTagsDuringRender(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	inHandler := make(chan struct{})
	resume := make(chan struct{})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(inHandler)
			<-resume
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "news")
		io.WriteString(w, "v")
	}))
	done := make(chan struct{})
	go func() { defer close(done); do(h, http.MethodGet, "http://example.com/story") }()
	<-inHandler
	if err := c.PurgeTags(t.Context(), "news"); err != nil {
		t.Fatal(err)
	}
	close(resume)
	<-done
	w := do(h, http.MethodGet, "http://example.com/story")
	if cs := w.Header().Get("Cache-Status"); strings.Contains(cs, "hit") {
		t.Fatalf("response rendered across a purge of its tag was stored and served: %q", cs)
	}
	if calls.Load() != 2 {
		t.Fatalf("origin calls = %d, want 2", calls.Load())
	}
}

// A response streamed past MaxBodySize lives as long as its client, not
// the load timeout; the URL is then remembered as uncacheable.
func TestStreamNotCutAtLoadTimeout(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, &Options{MaxBodySize: 1 << 10, Memo: &memo.Options{LoadTimeout: 100 * time.Millisecond}})
	var cancelled atomic.Bool
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(make([]byte, 2<<10)) // past the cap: streams to the client
		select {
		case <-time.After(300 * time.Millisecond): // a slow upstream, longer than LoadTimeout
		case <-r.Context().Done():
			cancelled.Store(true)
			return
		}
		io.WriteString(w, "END")
	}))
	w := do(h, http.MethodGet, "http://example.com/big")
	if cancelled.Load() || !strings.HasSuffix(w.Body.String(), "END") || w.Body.Len() != 2<<10+3 {
		t.Fatalf("streamed response: cancelled=%v, %d bytes; want all %d bytes and no cancellation", cancelled.Load(), w.Body.Len(), 2<<10+3)
	}
	if cs := do(h, http.MethodGet, "http://example.com/big").Header().Get("Cache-Status"); !strings.Contains(cs, "uncacheable") {
		t.Fatalf("after a streamed response: Cache-Status %q, want hit-for-miss", cs)
	}
}
