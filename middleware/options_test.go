package middleware

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

// Engine settings the middleware owns are rejected, not silently replaced.
func TestNewRejectsOwnedMemoFields(t *testing.T) {
	t.Parallel()
	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	for name, mo := range map[string]*memo.Options{
		"Namespace":   {Namespace: "x"},
		"TTL":         {TTL: time.Minute},
		"Jitter":      {Jitter: 0.2},
		"StaleTTL":    {StaleTTL: time.Second},
		"StaleIfErr":  {StaleIfError: time.Second},
		"Beta":        {Beta: 1},
		"NegativeTTL": {NegativeTTL: time.Second},
		"Now":         {Now: time.Now},
	} {
		if c, err := New(b, &Options{Memo: mo}); !errors.Is(err, errOptions) {
			if c != nil {
				c.Close()
			}
			t.Errorf("New with Memo.%s set: err = %v, want errOptions", name, err)
		}
	}
	c, err := New(b, &Options{Memo: &memo.Options{BackendTimeout: time.Second, L1Size: -1, LoadTimeout: time.Second}})
	if err != nil {
		t.Fatalf("New with engine settings: %v", err)
	}
	c.Close()
}

// Stats count variant traffic too.
func TestStatsIncludeVariants(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "hello "+r.Header.Get("Accept-Language"))
	}))
	do(h, http.MethodGet, "http://example.com/v", "Accept-Language", "en") // builds the index
	do(h, http.MethodGet, "http://example.com/v", "Accept-Language", "fr") // variant miss
	for range 3 {
		do(h, http.MethodGet, "http://example.com/v", "Accept-Language", "fr") // variant hits
	}
	s, idx := c.Stats(), c.resp.Stats()
	if s.HitsL1+s.HitsBackend < idx.HitsL1+idx.HitsBackend+3 {
		t.Fatalf("Stats hits = %d, want the index's %d plus 3 variant hits", s.HitsL1+s.HitsBackend, idx.HitsL1+idx.HitsBackend)
	}
	if s.Loads < 2 {
		t.Fatalf("Stats loads = %d, want ≥ 2 (one per variant)", s.Loads)
	}
}

// Every invalid option wraps ErrInvalidOptions, the engine's included.
func TestInvalidOptionsWrapped(t *testing.T) {
	t.Parallel()
	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	for name, o := range map[string]*Options{
		"negative":        {DefaultTTL: -1},
		"DefaultTTL long": {DefaultTTL: memo.MaxTTL + time.Hour},
		"engine":          {Memo: &memo.Options{BackendTimeout: memo.MaxTTL + time.Hour}},
	} {
		c, err := New(b, o)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: New = %v, want ErrInvalidOptions", name, err)
		}
		if name == "engine" && !errors.Is(err, memo.ErrInvalidOptions) {
			t.Errorf("%s: New = %v, want memo.ErrInvalidOptions kept", name, err)
		}
	}
}

// A response fresh for longer than memo.MaxTTL is cached (for MaxTTL), not
// silently refused by the engine.
func TestHugeMaxAgeCached(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls int
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Cache-Control", "max-age=9999999999")
		io.WriteString(w, "forever")
	}))
	for range 3 {
		if w := do(h, http.MethodGet, "http://example.com/huge"); w.Body.String() != "forever" {
			t.Fatalf("body %q", w.Body.String())
		}
	}
	if calls != 1 {
		t.Fatalf("origin called %d times, want 1", calls)
	}
}
