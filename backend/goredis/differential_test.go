package goredis_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
)

// TestMemoryAgreesWithRedis is a differential test of the two backends'
// pattern operations (not just the matcher): the same random keys go into
// backend/memory and a real redis-server, and Scan and DeletePattern with
// random patterns — metacharacters, escapes, literal patterns, a trailing
// backslash, expired keys — must find the same keys.
func TestMemoryAgreesWithRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newStandalone(t)
	m, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	p := prefix(t)
	rng := rand.New(rand.NewPCG(7, 11))
	const alphabet = "ab:/-^]\\[*?{}"
	var keys []string
	for len(keys) < 200 {
		n := 1 + rng.IntN(5)
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		keys = append(keys, b.String())
	}
	short := map[string]bool{} // keys whose last write had a 1 ms TTL
	for i, k := range keys {
		ttl := time.Minute
		if i%10 == 0 {
			ttl = time.Millisecond // expired by the time we scan
		}
		short[k] = ttl == time.Millisecond
		for _, be := range []backend.Backend{r, m} {
			if err := be.Set(ctx, p+k, []byte("v"), ttl); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Wait (polling with a deadline) until every 1 ms key reads as expired
	// on both backends, so neither scan races an expiry.
	deadline := time.Now().Add(5 * time.Second)
	for k, isShort := range short {
		if !isShort {
			continue
		}
		for _, be := range []backend.Backend{r, m} {
			for {
				if _, err := be.Get(ctx, p+k); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%T: 1 ms key %q never expired", be, k)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	scan := func(be backend.Backend, pattern string) []string {
		var got []string
		if err := backend.Scan(ctx, be, pattern, func(k string) error { got = append(got, k); return nil }); err != nil {
			t.Fatalf("Scan(%q) on %T = %v", pattern, be, err)
		}
		slices.Sort(got)
		return slices.Compact(got)
	}
	const patAlphabet = "ab:/*?[]^-\\"
	for i := 0; i < 150; i++ {
		n := 1 + rng.IntN(6)
		var b strings.Builder
		for range n {
			b.WriteByte(patAlphabet[rng.IntN(len(patAlphabet))])
		}
		pattern := backend.QuoteGlob(p) + b.String()
		if i%5 == 0 {
			pattern = backend.QuoteGlob(p + keys[rng.IntN(len(keys))]) // a literal pattern
		}
		if backend.CheckPattern(pattern) != nil {
			continue
		}
		if got, want := scan(m, pattern), scan(r, pattern); !slices.Equal(got, want) {
			t.Fatalf("Scan(%q): memory %q, redis %q", pattern, got, want)
		}
	}
	// DeletePattern removes the same keys from both.
	for _, pat := range []string{"a*", "*\\*", "[ab]?*", "*"} {
		pattern := backend.QuoteGlob(p) + pat
		nm, err1 := backend.DeletePattern(ctx, m, pattern)
		nr, err2 := backend.DeletePattern(ctx, r, pattern)
		if err1 != nil || err2 != nil || nm != nr {
			t.Fatalf("DeletePattern(%q): memory %d, %v; redis %d, %v", pattern, nm, err1, nr, err2)
		}
		if got, want := scan(m, backend.QuoteGlob(p)+"*"), scan(r, backend.QuoteGlob(p)+"*"); !slices.Equal(got, want) {
			t.Fatalf("after DeletePattern(%q): memory %q, redis %q", pattern, got, want)
		}
	}
}
