package backend_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/backendtest"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/internal/glob"
)

// mapBackend implements only backend.Backend, so the suite exercises the
// package helpers' fallbacks and their ErrUnsupported answers.
type mapBackend struct {
	mu sync.Mutex
	m  map[string]entry
}

type entry struct {
	v   []byte
	exp time.Time
}

func (b *mapBackend) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[key]
	if !ok || (!e.exp.IsZero() && time.Now().After(e.exp)) {
		return nil, backend.ErrNotFound
	}
	return append([]byte{}, e.v...), nil
}

func (b *mapBackend) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return backend.ErrInvalidKey
	}
	if err := backend.CheckTTL(ttl); err != nil {
		return err
	}
	var exp time.Time
	if ttl != backend.NoExpiry {
		exp = time.Now().Add(ttl)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key] = entry{append([]byte{}, v...), exp}
	return nil
}

func (b *mapBackend) Delete(ctx context.Context, keys ...string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		delete(b.m, k)
	}
	return nil
}

func TestConformanceMinimal(t *testing.T) {
	b := &mapBackend{m: map[string]entry{}}
	backendtest.Run(t, func(*testing.T) backend.Backend { return b })
}

func TestCheckTTL(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{0, -1, -time.Hour} {
		if err := backend.CheckTTL(ttl); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Errorf("CheckTTL(%v) = %v, want ErrInvalidTTL", ttl, err)
		}
	}
	for _, ttl := range []time.Duration{1, time.Second, backend.NoExpiry} {
		if err := backend.CheckTTL(ttl); err != nil {
			t.Errorf("CheckTTL(%v) = %v, want nil", ttl, err)
		}
	}
}

// TestCheckWrite: a bad TTL is reported first, then an oversized value;
// exactly maxValue bytes with NoExpiry pass.
func TestCheckWrite(t *testing.T) {
	for _, tc := range []struct {
		n    int
		ttl  time.Duration
		want error
	}{
		{10, time.Minute, nil},
		{10, backend.NoExpiry, nil},
		{11, time.Minute, backend.ErrTooLarge},
		{10, 0, backend.ErrInvalidTTL},
		{11, -time.Second, backend.ErrInvalidTTL},
	} {
		err := backend.CheckWrite("k", tc.n, tc.ttl, 10)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("CheckWrite(k, %d, %v, 10) = %v, want %v", tc.n, tc.ttl, err, tc.want)
		}
	}
}

func TestCheckPattern(t *testing.T) {
	t.Parallel()
	ok := []string{"a", "user:*", strings.Repeat("*", backend.MaxPatternWildcards), `a\*` + strings.Repeat(`\*`, 20), strings.Repeat("a", backend.MaxPatternLen)}
	bad := []string{"", strings.Repeat("*", backend.MaxPatternWildcards+1), strings.Repeat("a", backend.MaxPatternLen+1),
		"user:[", "user:[a", "user:[^", `user:\`, "[a-]", `a[\]`}
	for _, p := range ok {
		if err := backend.CheckPattern(p); err != nil {
			t.Errorf("CheckPattern(%.30q) = %v, want nil", p, err)
		}
	}
	for _, p := range bad {
		if err := backend.CheckPattern(p); !errors.Is(err, backend.ErrInvalidPattern) {
			t.Errorf("CheckPattern(%.30q) = %v, want ErrInvalidPattern", p, err)
		}
	}
}

func TestEscapeKeyPart(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"plain-id_42.x", "plain-id_42.x"},
		{"a:b", "a%3Ab"},
		{"{tag}", "%7Btag%7D"},
		{"*?[]\\", "%2A%3F%5B%5D%5C"},
		{"100%", "100%25"},
		{"sp ace\n", "sp%20ace%0A"},
		{"", ""},
		{"ünïcode", "ünïcode"},
	}
	for _, c := range cases {
		if got := backend.EscapeKeyPart(c.in); got != c.want {
			t.Errorf("EscapeKeyPart(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := backend.UnescapeKeyPart(c.want); got != c.in {
			t.Errorf("UnescapeKeyPart(%q) = %q, want %q", c.want, got, c.in)
		}
		if got := string(backend.AppendEscapeKeyPart([]byte("p:"), c.in)); got != "p:"+c.want {
			t.Errorf("AppendEscapeKeyPart(p:, %q) = %q, want %q", c.in, got, "p:"+c.want)
		}
		if got := backend.EscapedKeyPartLen(c.in); got != len(c.want) {
			t.Errorf("EscapedKeyPartLen(%q) = %d, want %d", c.in, got, len(c.want))
		}
	}
	if backend.EscapeKeyPart("a:b")+":"+backend.EscapeKeyPart("c") == backend.EscapeKeyPart("a")+":"+backend.EscapeKeyPart("b:c") {
		t.Errorf("different splits of the same parts collide")
	}
}

func TestQuoteGlob(t *testing.T) {
	t.Parallel()
	if got, want := backend.QuoteGlob(`a*b?[c]\`), `a\*b\?\[c\]\\`; got != want {
		t.Errorf("QuoteGlob = %q, want %q", got, want)
	}
	if got := backend.QuoteGlob("plain:key"); got != "plain:key" {
		t.Errorf("QuoteGlob(plain) = %q, want unchanged", got)
	}
}

func FuzzEscapeKeyPart(f *testing.F) {
	for _, s := range []string{"", "a:b", "{x}", "*", "%", "%zz", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := backend.EscapeKeyPart(s)
		if strings.ContainsAny(e, ":{}*?[]\\ ") {
			t.Fatalf("EscapeKeyPart(%q) = %q contains a special character", s, e)
		}
		if got := backend.UnescapeKeyPart(e); got != s {
			t.Fatalf("UnescapeKeyPart(EscapeKeyPart(%q)) = %q", s, got)
		}
		if got := string(backend.AppendEscapeKeyPart([]byte("p:"), s)); got != "p:"+e {
			t.Fatalf("AppendEscapeKeyPart(%q, %q) = %q, want %q", "p:", s, got, "p:"+e)
		}
		if n := backend.EscapedKeyPartLen(s); n != len(e) {
			t.Fatalf("EscapedKeyPartLen(%q) = %d, want len(%q)", s, n, e)
		}
		_ = backend.UnescapeKeyPart(s) // never panics on arbitrary input
	})
}

// FuzzQuoteGlob checks the quoting helpers against the Redis glob matcher
// both backends use: a quoted string matches itself and only itself, and
// an escaped key part is a literal, well-formed pattern.
func FuzzQuoteGlob(f *testing.F) {
	for _, s := range []string{"", "a", "*", "[", `\`, "user:[a", "a?b", "{x}"} {
		f.Add(s, "user:*")
	}
	f.Fuzz(func(t *testing.T, s, other string) {
		q := backend.QuoteGlob(s)
		if !glob.Match(q, s) {
			t.Fatalf("Match(QuoteGlob(%q) = %q, %q) = false, want true", s, q, s)
		}
		if s != other && glob.Match(q, other) {
			t.Fatalf("Match(QuoteGlob(%q) = %q, %q) = true, want false", s, q, other)
		}
		if s != "" && !glob.Match(q+"*", s+other) {
			t.Fatalf("Match(%q, %q) = false, want true", q+"*", s+other)
		}
		if s != "" && glob.Validate(q) != nil {
			t.Fatalf("QuoteGlob(%q) = %q is not a well-formed pattern: %v", s, q, glob.Validate(q))
		}
		ek := backend.EscapeKeyPart(s)
		if !glob.Match(ek, ek) || glob.HasMeta(ek) || glob.Validate(ek) != nil {
			t.Fatalf("EscapeKeyPart(%q) = %q is not a literal pattern", s, ek)
		}
	})
}

// TestGetNonEmptyFallback: on a backend without the capability,
// GetNonEmpty is Get with an empty value read as a miss.
func TestGetNonEmptyFallback(t *testing.T) {
	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_ = b.Set(ctx, "v", []byte("x"), time.Minute)
	_ = b.Set(ctx, "empty", []byte{}, time.Minute)
	if v, err := backend.GetNonEmpty(ctx, b, "v"); err != nil || string(v) != "x" {
		t.Fatalf("GetNonEmpty(v) = %q, %v", v, err)
	}
	for _, k := range []string{"empty", "missing"} {
		if v, err := backend.GetNonEmpty(ctx, b, k); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("GetNonEmpty(%s) = %q, %v; want ErrNotFound", k, v, err)
		}
	}
}
