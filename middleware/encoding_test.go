package middleware

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// Spellings of the same Accept-Encoding preference share one variant
// (defect 10), and no client ever gets a coding it does not accept.
func TestAcceptEncodingVariantsNormalised(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		if acc, _ := acceptedCodings(r.Header.Values("Accept-Encoding"), []string{"gzip"}); len(acc) > 0 {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "GZ")
			return
		}
		io.WriteString(w, "plain")
	}))
	get := func(ae string) (string, string) {
		w := do(h, http.MethodGet, "http://example.com/e", "Accept-Encoding", ae)
		return w.Body.String(), w.Header().Get("Content-Encoding")
	}
	for _, ae := range []string{"gzip", "deflate, gzip", "GZIP", "gzip;q=1.0, br;q=0", "br, gzip, deflate"} {
		if body, ce := get(ae); body != "GZ" || ce != "gzip" {
			t.Fatalf("Accept-Encoding %q: %q (%s), want the gzip response", ae, body, ce)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("handler calls for five spellings of gzip = %d, want 1", calls.Load())
	}
	for range 3 {
		for _, ae := range []string{"identity", "br", "gzip;q=0", "deflate, gzip"} {
			body, ce := get(ae)
			gz := strings.Contains(ae, "gzip") && !strings.Contains(ae, "q=0")
			if (body == "GZ") != gz || (ce == "gzip") != gz {
				t.Fatalf("Accept-Encoding %q: %q (Content-Encoding %q), want gzip=%v", ae, body, ce, gz)
			}
		}
	}
}

func FuzzAcceptedCodings(f *testing.F) {
	for _, s := range []string{"gzip", "deflate, gzip;q=0.5", "*;q=0", "identity;q=0, *", "gzip;q=x", ",,;"} {
		f.Add(s)
	}
	known := []string{"br", "gzip", "identity"}
	f.Fuzz(func(t *testing.T, s string) {
		acc, ok := acceptedCodings([]string{s}, known)
		if ok != (len(acc) > 0) {
			t.Fatalf("acceptedCodings(%q) = %v, %v", s, acc, ok)
		}
		for _, a := range acc {
			if !strings.Contains(strings.Join(known, ","), a) {
				t.Fatalf("acceptedCodings(%q) = %v: %q is not known", s, acc, a)
			}
		}
	})
}
