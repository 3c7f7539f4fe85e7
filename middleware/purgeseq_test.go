package middleware

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/redistest"
)

// taggedOrigin answers every GET with a fresh, tagged response whose body
// counts the calls; unsafe methods get 204.
func taggedOrigin(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		n := calls.Add(1)
		h := w.Header()
		h.Set("Cache-Control", "max-age=600")
		h.Set("Cache-Tag", "t "+strings.TrimPrefix(r.URL.Path, "/"))
		switch {
		case strings.HasPrefix(r.URL.Path, "/vary"):
			h.Set("Vary", "Accept-Language")
		case strings.HasPrefix(r.URL.Path, "/cookie"):
			h.Set("Set-Cookie", "s=1") // not stored: a hit-for-miss mark
		}
		fmt.Fprintf(w, "render %d of %s", n, r.URL.Path)
	})
}

// After traffic with purges of every kind (tags, URLs, prefixes, PURGE
// requests, unsafe methods on keyed URLs, hit-for-miss marks, variants),
// every key in the Redis server has an expiry: the purge sequence
// included, which used to be written without one.
func TestRedisEveryKeyExpiresAfterPurges(t *testing.T) {
	srv := redistest.Start(t)
	b, err := goredis.New(srv.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(b, &Options{
		KeyHeaders: []string{"X-Tenant"}, // keyed: an unsafe method purges the URL's tag
		AllowPurge: func(*http.Request) bool { return true },
		Logger:     discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var calls atomic.Int64
	h := c.Handler(taggedOrigin(&calls))
	ctx := t.Context()
	for round := range 3 {
		for _, p := range []string{"/a", "/b", "/vary", "/cookie", "/docs/x"} {
			for _, lang := range []string{"en", "fr"} {
				do(h, http.MethodGet, "http://example.com"+p, "Accept-Language", lang, "X-Tenant", "t1")
				do(h, http.MethodGet, "http://example.com"+p, "Accept-Language", lang, "X-Tenant", "t2")
			}
		}
		do(h, http.MethodPost, "http://example.com/a", "X-Tenant", "t1")
		do(h, "PURGE", "http://example.com/b", "X-Tenant", "t1")
		do(h, "PURGE", "http://example.com/x", "Cache-Tag", "t")
		if err := c.PurgeTags(ctx, "t"); err != nil {
			t.Fatalf("round %d: PurgeTags: %v", round, err)
		}
		if err := c.PurgeURL(ctx, "http://example.com/vary"); err != nil {
			t.Fatalf("round %d: PurgeURL: %v", round, err)
		}
		if _, err := c.PurgePrefix(ctx, "http://example.com/docs/"); err != nil {
			t.Fatalf("round %d: PurgePrefix: %v", round, err)
		}
	}

	rc := srv.Client(t)
	var keys []string
	iter := rc.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(keys) < 10 {
		t.Fatalf("%d keys after the traffic, want more (the traffic did not store)", len(keys))
	}
	seen := false
	for _, k := range keys {
		seen = seen || k == c.seqKey
		ttl, err := rc.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl == -1*time.Nanosecond || ttl == -1*time.Millisecond { // go-redis reports "no expiry" as -1
			t.Errorf("key %q has no expiry", k)
		}
	}
	if !seen {
		t.Errorf("purge sequence %q not among the %d keys", c.seqKey, len(keys))
	}
	if ttl, _ := rc.PTTL(ctx, c.seqKey).Result(); ttl < seqTTL-time.Hour {
		t.Errorf("purge sequence PTTL = %v, want about %v", ttl, seqTTL)
	}
}

// The purge sequence's life is renewed by every purge, and a counter left
// by an older version (no expiry, a small value) gets one and moves to the
// clock.
func TestRedisPurgeSequenceRenewed(t *testing.T) {
	srv := redistest.Shared(t)
	b, err := goredis.New(srv.Client(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(b, &Options{Namespace: strings.TrimSuffix(redistest.Prefix(t), ":"), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, rc := t.Context(), srv.Client(t)
	if err := rc.Set(ctx, c.seqKey, "41", 0).Err(); err != nil { // an old, immortal counter
		t.Fatal(err)
	}
	if err := c.PurgeTags(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	v, _ := rc.Get(ctx, c.seqKey).Int64()
	if v < seqFloor {
		t.Errorf("purge sequence after a purge = %d, want it moved to the clock (≥ %d)", v, int64(seqFloor))
	}
	if ttl, _ := rc.PTTL(ctx, c.seqKey).Result(); ttl < seqTTL-time.Hour {
		t.Errorf("PTTL of a legacy counter after a purge = %v, want about %v", ttl, seqTTL)
	}
	if err := rc.PExpire(ctx, c.seqKey, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.PurgeTags(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := rc.PTTL(ctx, c.seqKey).Result(); ttl < seqTTL-time.Hour {
		t.Errorf("PTTL after a purge = %v, want it renewed to about %v", ttl, seqTTL)
	}
	if w, _ := rc.Get(ctx, c.seqKey).Int64(); w != v+1 {
		t.Errorf("purge sequence = %d after one more purge from %d, want %d", w, v, v+1)
	}
}

// A purge sequence that is gone (expired or evicted) is never read as an
// older one: the next purge's generation differs from every generation
// issued before, so a response stored before the purge is not served
// after it. (Restarting the counter from 0 gave the same generation again
// and served the purged response as a hit.)
func TestPurgeSequenceLostIsNeverReused(t *testing.T) {
	t.Parallel()
	for name, newBackend := range map[string]func(t *testing.T) backend.Backend{
		"memory": func(t *testing.T) backend.Backend {
			b, err := memory.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
		"redis": func(t *testing.T) backend.Backend {
			b, err := goredis.New(redistest.Shared(t).Client(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			c, err := New(b, &Options{Namespace: "seq" + strconv.FormatInt(time.Now().UnixNano(), 36), Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			var calls atomic.Int64
			h := c.Handler(taggedOrigin(&calls))
			get := func() string { return do(h, http.MethodGet, "http://example.com/p").Body.String() }
			ctx := context.Background()
			get()                                         // stored with tag p's generation 0
			if err := c.PurgeTags(ctx, "p"); err != nil { // p: generation g1
				t.Fatal(err)
			}
			before := get() // render 2, stored recording g1
			if got := get(); got != before {
				t.Fatalf("GET after the refill = %q, want the stored %q", got, before)
			}
			if err := b.Delete(ctx, c.seqKey); err != nil { // the counter expires or is evicted
				t.Fatal(err)
			}
			if err := c.PurgeTags(ctx, "p"); err != nil {
				t.Fatal(err)
			}
			if got := get(); got == before {
				t.Errorf("GET after a purge (the sequence had been lost) = %q, the purged response", got)
			}
			if n := calls.Load(); n != 3 {
				t.Errorf("origin calls = %d, want 3", n)
			}
		})
	}
}

// A response stored before a tag purge and not requested since stays
// purged after the tag's generation expires (a week without purges): a
// missing generation is a new one, not "never purged", which used to make
// the purged response current again.
func TestPurgedStaysPurgedAfterTagExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	b, err := memory.New(&memory.Options{Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	c, err := New(b, &Options{Now: clk.Now, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var calls atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=2592000") // 30 days
		w.Header().Set("Cache-Tag", "release")
		fmt.Fprintf(w, "render %d", n)
	}))
	get := func() string { return do(h, http.MethodGet, "http://example.com/asset").Body.String() }
	if a, b := get(), get(); a != "render 1" || b != a {
		t.Fatalf("GET, GET = %q, %q; want render 1 stored and hit", a, b)
	}
	if err := c.PurgeTags(t.Context(), "release"); err != nil {
		t.Fatal(err)
	}
	clk.Add(tagTTL + 24*time.Hour) // no request meanwhile: the generation expires
	if got := get(); got == "render 1" {
		t.Errorf("GET %v after the purge = %q, the purged response", tagTTL+24*time.Hour, got)
	}
	if got := get(); got != "render 2" {
		t.Errorf("GET after the refill = %q, want render 2 stored and hit", got)
	}
}
