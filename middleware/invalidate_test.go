package middleware

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
)

// scanCounter is the memory backend with its pattern operations counted.
type scanCounter struct {
	*memory.Backend
	scans atomic.Int64
}

func (s *scanCounter) Scan(ctx context.Context, pattern string, fn func(string) error) error {
	s.scans.Add(1)
	return s.Backend.Scan(ctx, pattern, fn)
}

func (s *scanCounter) DeletePattern(ctx context.Context, pattern string) (int64, error) {
	s.scans.Add(1)
	return s.Backend.DeletePattern(ctx, pattern)
}

func newScanCounter(t testing.TB, o *memory.Options) *scanCounter {
	t.Helper()
	mb, err := memory.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mb.Close() })
	return &scanCounter{Backend: mb}
}

// With KeyHeaders, a successful unsafe request invalidates every key-header
// variation of its URL without walking the keyspace (defect 2): no scan,
// and the next GET of each variation is a miss.
func TestUnsafeInvalidationWithKeyHeadersNoScan(t *testing.T) {
	t.Parallel()
	b := newScanCounter(t, nil)
	c, err := New(b, &Options{KeyHeaders: []string{"X-Tenant"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var version atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			version.Add(1)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "%s v%d", r.Header.Get("X-Tenant"), version.Load())
	}))
	for _, tenant := range []string{"a", "b"} {
		do(h, http.MethodGet, "http://example.com/doc", "X-Tenant", tenant)
		if cs := do(h, http.MethodGet, "http://example.com/doc", "X-Tenant", tenant).Header().Get("Cache-Status"); !strings.Contains(cs, "hit") {
			t.Fatalf("tenant %s second GET: %q, want a hit", tenant, cs)
		}
	}
	do(h, http.MethodPost, "http://example.com/doc", "X-Tenant", "a")
	for _, tenant := range []string{"a", "b"} {
		w := do(h, http.MethodGet, "http://example.com/doc", "X-Tenant", tenant)
		if got, want := w.Body.String(), tenant+" v1"; got != want {
			t.Fatalf("tenant %s after POST: %q (%s), want %q", tenant, got, w.Header().Get("Cache-Status"), want)
		}
	}
	if n := b.scans.Load(); n != 0 {
		t.Fatalf("backend scans = %d, want 0 (invalidation must be O(1) in the number of keys)", n)
	}
	if err := c.PurgeURL(t.Context(), "http://example.com/doc"); err != nil {
		t.Fatal(err)
	}
	if cs := do(h, http.MethodGet, "http://example.com/doc", "X-Tenant", "b").Header().Get("Cache-Status"); strings.Contains(cs, "hit") {
		t.Fatalf("after PurgeURL: %q, want a miss", cs)
	}
	if n := b.scans.Load(); n != 0 {
		t.Fatalf("backend scans after PurgeURL = %d, want 0", n)
	}
}

var invalidateKeys = flag.Int("invalidate-keys", 300000, "stored keys of the large case of BenchmarkUnsafeInvalidation (10,000 with -benchtime 1x or -short)")

// BenchmarkUnsafeInvalidation reports the cost of a POST (handler plus
// invalidation, KeyHeaders set) with 1,000 and with many unrelated keys
// stored, interleaved in one run: the ratio must stay near 1.
func BenchmarkUnsafeInvalidation(b *testing.B) {
	big := *invalidateKeys
	if f := flag.Lookup("test.benchtime"); testing.Short() || (f != nil && f.Value.String() == "1x") {
		big = min(big, 10000)
	}
	post := func(n int) (http.Handler, *http.Request) {
		mb := newScanCounter(b, &memory.Options{MaxEntries: n + 10000, MaxBytes: int64(n+10000) * 512})
		ctx := context.Background()
		for i := range n {
			if err := mb.Set(ctx, fmt.Sprintf("http:v1:http://example.com/other/%d?0&0", i), []byte("x"), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		c, err := New(mb, &Options{KeyHeaders: []string{"X-Tenant"}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		r := httptest.NewRequest(http.MethodPost, "http://example.com/doc", nil)
		r.Header.Set("X-Tenant", "a")
		return h, r
	}
	hs, rs := post(1000)
	hb, rb := post(big)
	var small, large time.Duration
	n := 0
	d := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		serveLoop(hs, rs, d)
		t1 := time.Now()
		serveLoop(hb, rb, d)
		small, large = small+t1.Sub(t0), large+time.Since(t1)
		n++
	}
	b.ReportMetric(float64(small.Nanoseconds())/float64(n), "ns/post-1k-keys")
	b.ReportMetric(float64(large.Nanoseconds())/float64(n), fmt.Sprintf("ns/post-%dk-keys", big/1000))
	b.ReportMetric(float64(large)/float64(small), "ratio")
}
