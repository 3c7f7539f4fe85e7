package middleware

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/redistest"
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

// MaxBodySize must fit in one backend value (with room for headers and
// encoding): a MaxBodySize the backend cannot store is an error from New,
// and the default is lowered to fit a backend with a smaller limit, so a
// body under the cap is stored and one over it is served, not stored.
func TestMaxBodySizeFitsBackend(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10 // room: 64 KiB; bodies up to 192 KiB fit
	b, err := memory.New(&memory.Options{MaxValueBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if got := b.MaxValueBytes(); got != limit {
		t.Fatalf("memory MaxValueBytes() = %d, want %d", got, limit)
	}
	for _, size := range []int{1 << 20, limit, limit - 1<<10} {
		if c, err := New(b, &Options{MaxBodySize: size}); !errors.Is(err, ErrInvalidOptions) {
			if c != nil {
				c.Close()
			}
			t.Errorf("New(MaxBodySize %d, backend limit %d): err = %v, want ErrInvalidOptions", size, limit, err)
		}
	}
	c, err := New(b, &Options{MaxBodySize: 192 << 10})
	if err != nil {
		t.Fatalf("New(MaxBodySize 192 KiB, backend limit 256 KiB): %v", err)
	}
	c.Close()

	c, err = New(b, &Options{Logger: discardLogger()}) // default MaxBodySize: lowered to 192 KiB
	if err != nil {
		t.Fatalf("New(default MaxBodySize, backend limit 256 KiB): %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if c.o.MaxBodySize != 192<<10 {
		t.Errorf("default MaxBodySize on a 256 KiB backend = %d, want %d", c.o.MaxBodySize, 192<<10)
	}
	for _, tc := range []struct {
		size   int
		stored bool
	}{{190 << 10, true}, {200 << 10, false}} {
		var calls atomic.Int64
		h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Cache-Control", "max-age=60")
			w.Write(bytes.Repeat([]byte("x"), tc.size))
		}))
		url := fmt.Sprintf("http://example.com/body/%d", tc.size)
		for i := range 2 {
			w := do(h, http.MethodGet, url)
			if w.Code != http.StatusOK || w.Body.Len() != tc.size {
				t.Fatalf("GET %s #%d = %d with %d bytes, want 200 with %d", url, i, w.Code, w.Body.Len(), tc.size)
			}
			if cs := w.Header().Get("Cache-Status"); i == 0 && strings.Contains(cs, "stored") != tc.stored {
				t.Errorf("GET %s (body %d): Cache-Status %q, want stored=%v", url, tc.size, cs, tc.stored)
			}
		}
		if want := map[bool]int64{true: 1, false: 2}[tc.stored]; calls.Load() != want {
			t.Errorf("body %d: handler calls = %d, want %d", tc.size, calls.Load(), want)
		}
	}
}

// The Redis backend reports its MaxValueBytes too, and New checks
// MaxBodySize against it.
func TestMaxBodySizeFitsRedisBackend(t *testing.T) {
	srv := redistest.Shared(t)
	b, err := goredis.New(srv.Client(t), &goredis.Options{MaxValueBytes: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.MaxValueBytes(); got != 512<<10 {
		t.Fatalf("goredis MaxValueBytes() = %d, want %d", got, 512<<10)
	}
	if c, err := New(b, &Options{MaxBodySize: 1 << 20}); !errors.Is(err, ErrInvalidOptions) {
		if c != nil {
			c.Close()
		}
		t.Errorf("New(MaxBodySize 1 MiB, goredis MaxValueBytes 512 KiB): err = %v, want ErrInvalidOptions", err)
	}
	c, err := New(b, &Options{Namespace: strings.TrimSuffix(redistest.Prefix(t), ":")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if want := 512<<10 - 64<<10; c.o.MaxBodySize != want {
		t.Errorf("default MaxBodySize on goredis MaxValueBytes 512 KiB = %d, want %d", c.o.MaxBodySize, want)
	}
}
