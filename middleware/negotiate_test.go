package middleware

import (
	"net/http"
	"testing"
	"time"
)

func TestNormAcceptLanguage(t *testing.T) {
	t.Parallel()
	same := [][]string{
		{"en-US, da;q=0.5", "da;q=0.50,EN-us", "en-us;q=1.0 , da ; q=0.5", "en-US;Q=1, , da;q=0.500"},
		{"fr, de", "fr,de"},
	}
	for _, group := range same {
		want, ok := normAcceptLanguage([]string{group[0]})
		if !ok {
			t.Fatalf("normAcceptLanguage(%q) not ok", group[0])
		}
		for _, v := range group[1:] {
			if got, ok := normAcceptLanguage([]string{v}); !ok || got != want {
				t.Errorf("normAcceptLanguage(%q) = %q, %v; want %q (as %q)", v, got, ok, want, group[0])
			}
		}
	}
	// Order among equal weights is a preference: kept.
	a, _ := normAcceptLanguage([]string{"fr, de"})
	b, _ := normAcceptLanguage([]string{"de, fr"})
	if a == b {
		t.Errorf("fr,de and de,fr normalise alike (%q): order of equal weights must be kept", a)
	}
	for _, bad := range []string{"en;q=2", "en;q=0.1234", "en;x=1", "en;q=", ";q=1", "e n"} {
		if got, ok := normAcceptLanguage([]string{bad}); ok {
			t.Errorf("normAcceptLanguage(%q) = %q, want not ok", bad, got)
		}
	}
}

// TestVaryAcceptLanguageNormalised: equivalent Accept-Language values
// select the same stored variant; a different preference does not.
func TestVaryAcceptLanguageNormalised(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now})
	o := &origin{header: map[string]string{"Cache-Control": "max-age=60", "Vary": "Accept-Language"}, body: "x", now: clk.Now}
	h := c.Handler(o)
	do(h, http.MethodGet, "/l", "Accept-Language", "en-US, da;q=0.5")
	if w := do(h, http.MethodGet, "/l", "Accept-Language", "da;q=0.50,EN-us"); o.calls.Load() != 1 {
		t.Fatalf("equivalent Accept-Language: handler called %d times (Cache-Status %q), want 1", o.calls.Load(), w.Header().Get("Cache-Status"))
	}
	do(h, http.MethodGet, "/l", "Accept-Language", "da, en-US;q=0.5")
	if o.calls.Load() != 2 {
		t.Fatalf("different preference: handler called %d times, want 2", o.calls.Load())
	}
}

// TestIfModifiedSinceWithoutLastModified: RFC 9111 §4.3.2, a stored
// response without Last-Modified answers If-Modified-Since by its Date.
func TestIfModifiedSinceWithoutLastModified(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now})
	o := &origin{header: map[string]string{"Cache-Control": "max-age=60", "Etag": `"v1"`}, body: "x", now: clk.Now}
	h := c.Handler(o)
	do(h, http.MethodGet, "/m")
	clk.Add(10 * time.Second)
	date := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	if w := do(h, http.MethodGet, "/m", "If-Modified-Since", date.Format(http.TimeFormat)); w.Code != http.StatusNotModified {
		t.Fatalf("If-Modified-Since = Date: %d, want 304", w.Code)
	}
	if w := do(h, http.MethodGet, "/m", "If-Modified-Since", date.Add(-time.Hour).Format(http.TimeFormat)); w.Code != http.StatusOK || w.Body.String() != "x" {
		t.Fatalf("If-Modified-Since before Date: %d %q, want 200", w.Code, w.Body.String())
	}
	if o.calls.Load() != 1 {
		t.Fatalf("handler called %d times, want 1", o.calls.Load())
	}
}

func FuzzAcceptLanguage(f *testing.F) {
	for _, s := range []string{"en-US, da;q=0.5", "*;q=0", "en;q=1.000", ",,;", "fr;q=0.1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm, ok := normAcceptLanguage([]string{s})
		if !ok {
			return
		}
		// Normalising is idempotent.
		again, ok := normAcceptLanguage([]string{norm})
		if !ok || again != norm {
			t.Fatalf("normAcceptLanguage(%q) = %q, then %q, %v", s, norm, again, ok)
		}
	})
}
