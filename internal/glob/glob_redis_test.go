package glob_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/cachekit/cachekit/internal/glob"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestMatchAgreesWithRedis is a differential test: random keys and random
// patterns (heavy on metacharacters, including malformed sets and stray
// escapes), matched by a real redis-server with KEYS and by glob.Match.
func TestMatchAgreesWithRedis(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	c := s.Client(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))

	const keyAlphabet = "ab/:-^]\\[*?\x80\xff"
	const patAlphabet = "ab/:*?[]^-\\\x80"
	keys := map[string]bool{}
	for len(keys) < 300 {
		n := 1 + rng.IntN(6)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(keyAlphabet[rng.IntN(len(keyAlphabet))])
		}
		keys[b.String()] = true
	}
	pipe := c.Pipeline()
	for k := range keys {
		pipe.Set(ctx, k, "1", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("SET keys: %v", err)
	}

	for i := 0; i < 400; i++ {
		n := 1 + rng.IntN(7)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteByte(patAlphabet[rng.IntN(len(patAlphabet))])
		}
		pattern := b.String()
		got, err := c.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatalf("KEYS %q: %v", pattern, err)
		}
		sort.Strings(got)
		var want []string
		for k := range keys {
			if glob.Match(pattern, k) {
				want = append(want, k)
			}
		}
		sort.Strings(want)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("pattern %q: redis matched %q, glob.Match matched %q", pattern, got, want)
		}
	}
}
