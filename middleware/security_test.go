package middleware

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSetCookieNeverShared: 100 coalesced requests for a response carrying
// Set-Cookie each run the handler and get their own cookie.
func TestSetCookieNeverShared(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	gate := make(chan struct{})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n == 1 {
			<-gate
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Set-Cookie", fmt.Sprintf("session=%d", n))
		fmt.Fprintf(w, "%d", n)
	}))
	const N = 100
	var wg sync.WaitGroup
	cookies := make([]string, N)
	bodies := make([]string, N)
	for i := range N {
		wg.Go(func() {
			w := do(h, http.MethodGet, "http://example.com/login")
			cookies[i], bodies[i] = w.Header().Get("Set-Cookie"), w.Body.String()
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Misses < N && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	seen := map[string]bool{}
	for i, ck := range cookies {
		if ck != "session="+bodies[i] || seen[ck] {
			t.Fatalf("response %d: Set-Cookie %q with body %q (seen before: %v)", i, ck, bodies[i], seen[ck])
		}
		seen[ck] = true
	}
	if got := calls.Load(); got != N {
		t.Errorf("handler calls = %d, want %d", got, N)
	}
}

// TestCoalescing: concurrent misses for a storable response run the
// handler once.
func TestCoalescing(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	gate := make(chan struct{})
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-gate
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "shared")
	}))
	const N = 50
	var wg sync.WaitGroup
	for range N {
		wg.Go(func() {
			if w := do(h, http.MethodGet, "http://example.com/a"); w.Body.String() != "shared" {
				t.Errorf("body = %q", w.Body.String())
			}
		})
	}
	waitFor(t, func() bool { return c.Stats().Misses >= N })
	close(gate)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("handler calls = %d, want 1", got)
	}
}

// TestUnkeyedHeaderPoisoning: X-Forwarded-Host is not keyed, so the
// handler behind the cache never sees it.
func TestUnkeyedHeaderPoisoning(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if x := r.Header.Get("X-Forwarded-Host"); x != "" {
			host = x
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, `<script src="https://%s/app.js">`, host)
	}))
	do(h, http.MethodGet, "http://example.com/", "X-Forwarded-Host", "evil.example")
	w := do(h, http.MethodGet, "http://example.com/")
	if strings.Contains(w.Body.String(), "evil") {
		t.Fatalf("poisoned: %q", w.Body.String())
	}
	// Another Host is another key; with an allowlist it is not cached.
	c2 := newTestCache(t, &Options{Hosts: []string{"example.com"}})
	var calls atomic.Int64
	h2 := c2.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
	}))
	do(h2, http.MethodGet, "http://evil.example/")
	do(h2, http.MethodGet, "http://evil.example/")
	if calls.Load() != 2 {
		t.Errorf("host outside allowlist was cached")
	}
}

// TestAuthorizationNotShared: a response to a request with Authorization
// is not stored without public/s-maxage/must-revalidate.
func TestAuthorizationNotShared(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "data for %q", r.Header.Get("Authorization"))
	}))
	do(h, http.MethodGet, "http://example.com/me", "Authorization", "Bearer alice")
	if w := do(h, http.MethodGet, "http://example.com/me"); strings.Contains(w.Body.String(), "alice") {
		t.Fatalf("anonymous request got %q", w.Body.String())
	}
	if w := do(h, http.MethodGet, "http://example.com/me", "Authorization", "Bearer bob"); !strings.Contains(w.Body.String(), "bob") {
		t.Fatalf("bob got %q", w.Body.String())
	}
}

// TestWebCacheDeception: /account/x.css served by a path-confused handler
// with the victim's cookie is not stored: the cache goes by the response's
// headers only (never the extension) and requires an explicit public
// response for requests carrying cookies.
func TestWebCacheDeception(t *testing.T) {
	t.Parallel()
	for _, hdr := range []string{"", "max-age=60"} {
		c := newTestCache(t, nil)
		h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/account") {
				if hdr != "" {
					w.Header().Set("Cache-Control", hdr)
				}
				ck, _ := r.Cookie("session")
				if ck != nil {
					fmt.Fprintf(w, "account of %s", ck.Value)
					return
				}
				io.WriteString(w, "please log in")
			}
		}))
		do(h, http.MethodGet, "http://example.com/account/x.css", "Cookie", "session=victim")
		if w := do(h, http.MethodGet, "http://example.com/account/x.css"); strings.Contains(w.Body.String(), "victim") {
			t.Fatalf("Cache-Control %q: attacker got %q", hdr, w.Body.String())
		}
	}
}

// TestStreamingBoundedMemory: a 1 GiB response streams to its client with
// bounded memory and is not stored.
func TestStreamingBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB")
	}
	c := newTestCache(t, nil)
	const size = 1 << 30
	chunk := make([]byte, 64<<10)
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})))
	defer srv.Close()
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	resp, err := http.Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(stop)
	wg.Wait()
	if err != nil || n != size {
		t.Fatalf("read %d bytes, err %v; want %d", n, err, size)
	}
	if p := peak.Load(); p > 64<<20 {
		t.Errorf("peak heap in use = %d MiB, want ≤ 64 MiB", p>>20)
	}
	if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "stored") {
		t.Errorf("Cache-Status = %q: a streamed response was stored", cs)
	}
	t.Logf("peak heap in use: %d MiB", peak.Load()>>20)
}

// TestPanicMidBodyNotCached: a handler that panics after writing part of
// its body aborts the response and nothing is stored.
func TestPanicMidBodyNotCached(t *testing.T) {
	t.Parallel()
	for _, size := range []int{100, 2 << 20} { // recorded, and streamed past the cap
		c := newTestCache(t, nil)
		var calls atomic.Int64
		srv := httptest.NewUnstartedServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Write(make([]byte, size))
			if calls.Add(1) == 1 {
				panic("boom")
			}
		})))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.Start()
		resp, err := http.Get(srv.URL)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("size %d: first response completed despite the panic", size)
		}
		resp, err = http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != size || calls.Load() != 2 {
			t.Errorf("size %d: second response %d bytes after %d calls, want %d after 2", size, len(b), calls.Load(), size)
		}
		srv.Close()
	}
}

// TestFlushStreams: a handler that flushes streams to its client through
// the wrapper, and the response is not stored.
func TestFlushStreams(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	got := make(chan string, 1)
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "event: 1\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Error("client did not receive the flushed event")
		}
	})))
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		_, err = io.ReadFull(resp.Body, buf)
		got <- string(buf)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if calls.Load() != 2 {
		t.Errorf("flushed response was served from cache")
	}
}

// TestHijackThroughWrapper: Hijacker keeps working.
func TestHijackThroughWrapper(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		brw.Flush()
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hi" {
		t.Errorf("body = %q, want hi", b)
	}
}
