package glob

import (
	"strings"
	"testing"
	"time"
)

var matchTests = []struct {
	pattern, s string
	want       bool
}{
	// Plain and empty.
	{"", "", true},
	{"", "a", false},
	{"a", "", false},
	{"abc", "abc", true},
	{"abc", "abd", false},
	{"abc", "ab", false},
	{"ab", "abc", false},
	{"Abc", "abc", false}, // case-sensitive

	// '*'. Redis 7.0 never matches an empty subject with a non-empty pattern.
	{"*", "", false},
	{"**", "", false},
	{"*", "a", true},
	{"*", "/a/b", true}, // '*' crosses '/', unlike path.Match
	{"a*", "a", true},
	{"a**", "a", true},
	{"a*", "abc", true},
	{"*c", "abc", true},
	{"*c", "abd", false},
	{"a*b*c", "abc", true},
	{"a*b*c", "axxbyyc", true},
	{"a*b*c", "axxbyy", false},
	{"h*llo", "hllo", true},
	{"h*llo", "heeeello", true},
	{"user:*", "user:", true}, // subject ends: trailing stars are skipped
	{"user:*", "user:1:profile", true},
	{"*a", "a", true},
	{"*?", "a", true},
	{"*??", "a", false},
	{"a*a*a*a*a*b", strings.Repeat("a", 40), false},

	// '?'.
	{"?", "a", true},
	{"?", "", false},
	{"??", "a", false},
	{"h?llo", "hello", true},
	{"h?llo", "hxllo", true},
	{"h?llo", "hllo", false},
	{"?", "\xff", true}, // byte-wise
	{"?", "é", false},   // two bytes

	// Sets.
	{"h[ae]llo", "hello", true},
	{"h[ae]llo", "hallo", true},
	{"h[ae]llo", "hillo", false},
	{"h[^e]llo", "hallo", true},
	{"h[^e]llo", "hello", false},
	{"h[a-b]llo", "hbllo", true},
	{"h[a-b]llo", "hcllo", false},
	{"[z-a]", "m", true}, // reversed range is swapped
	{"[z-a]", "A", false},
	{"[a-]", "-", false}, // "a-]" is the range ']'..'a'
	{"[a-]", "_", true},
	{"[a-]", "a", true},
	{"[-a]", "-", true},
	{"[\\]]", "]", true},
	{"[\\-]", "-", true},
	{"[\\^]", "^", true},
	{"[^]", "x", true}, // negated empty set: any byte
	{"[]", "]", false},
	{"[]", "x", false},
	{"[]a]", "]", false},
	{"[^\\]]", "]", false},
	{"[^\\]]", "x", true},
	{"[a-c][x-z]", "bz", true},

	// Malformed sets: end of pattern closes the set.
	{"user:[", "user:", false},
	{"user:[", "user:a", false},
	{"user:[", "user:[", false},
	{"user:[a", "user:a", true},
	{"user:[a", "user:b", false},
	{"user:[ab", "user:b", true},
	{"[^", "x", true},
	{"[^", "", false},
	{"[a-", "a", true},  // 'a' then '-' as a single byte each
	{"[a-", "-", true},  //
	{"[a-", "b", false}, //
	{"[\\", "\\", true}, // lone '\' in a set is a literal
	{"[a\\", "\\", true},

	// Escapes.
	{"\\*", "*", true},
	{"\\*", "a", false},
	{"a\\*b", "a*b", true},
	{"a\\*b", "axb", false},
	{"\\?", "?", true},
	{"\\[a]", "[a]", true},
	{"\\\\", "\\", true},
	{"\\", "\\", true}, // trailing lone '\' is literal
	{"a\\", "a\\", true},
	{"a\\", "a", false},
	{"\\a", "a", true},
	{"]", "]", true},

	// Signed-char ranges: bytes ≥ 0x80 are negative in the C comparison.
	{"[\xff-\x01]", "\x00", true},
	{"[\xff-\x01]", "\xff", true},
	{"[\xff-\x01]", "\x01", true},
	{"[\xff-\x01]", "\x80", false},
	{"[\xff-\x01]", "\x02", false},
	{"[\x01-\xff]", "\x00", true}, // swapped to \xff-\x01
	{"[a-\xff]", "\x80", false},
	{"[a-\xff]", "b", false},
	{"[a-\xff]", "A", true},
	{"[\x80-\xbf]", "\x90", true},
	{"[\x80-\xbf]", "a", false},

	// Embedded NUL bytes are ordinary bytes.
	{"a\x00b", "a\x00b", true},
	{"[\x00]", "\x00", true},
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tt := range matchTests {
		if got := Match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
		if got := naive(tt.pattern, tt.s); got != tt.want {
			t.Errorf("naive(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestMatchPathological(t *testing.T) {
	t.Parallel()
	// CVE-2022-36021: without skipLongerMatches this is exponential.
	pattern := strings.Repeat("*a", 8) + "*b"
	s := strings.Repeat("a", 10_000)
	start := time.Now()
	if Match(pattern, s) {
		t.Fatalf("Match(%q, a×10000) = true, want false", pattern)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Match took %v, want polynomial time", d)
	}
	if !Match(pattern, s+"b") {
		t.Errorf("Match(%q, a×10000+b) = false, want true", pattern)
	}
}

func TestMatchNesting(t *testing.T) {
	t.Parallel()
	// Far deeper than MaxNesting: must neither overflow the stack nor take
	// long, and gives up with "no match".
	pattern := strings.Repeat("*a", 100_000)
	s := strings.Repeat("a", 100_000)
	if Match(pattern, s) {
		t.Errorf("Match(*a×100000, a×100000) = true, want false (nesting bound)")
	}
	// Within the bound the same shape matches.
	pattern = strings.Repeat("*a", MaxNesting/2)
	s = strings.Repeat("a", MaxNesting/2)
	if !Match(pattern, s) {
		t.Errorf("Match(*a×%d, a×%d) = false, want true", MaxNesting/2, MaxNesting/2)
	}
}

func TestHasMetaLiteralPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		meta    bool
		prefix  string
	}{
		{"", false, ""},
		{"user:1", false, "user:1"},
		{"user:*", true, "user:"},
		{"user:?", true, "user:"},
		{"user:[ab]", true, "user:"},
		{"a]b", false, "a]b"},
		{"a\\*b", false, "a*b"},
		{"a\\*b*", true, "a*b"},
		{"a\\", false, "a\\"},
		{"\\\\x*", true, "\\x"},
		{"*", true, ""},
	}
	for _, tt := range tests {
		if got := HasMeta(tt.pattern); got != tt.meta {
			t.Errorf("HasMeta(%q) = %v, want %v", tt.pattern, got, tt.meta)
		}
		if got := LiteralPrefix(tt.pattern); got != tt.prefix {
			t.Errorf("LiteralPrefix(%q) = %q, want %q", tt.pattern, got, tt.prefix)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.pattern, tt.s)
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Match(pattern, s) // must not panic

		// The CVE fix is an optimisation: it never changes the answer.
		if len(pattern) <= 24 && len(s) <= 24 && strings.Count(pattern, "*") <= 4 {
			if want := naive(pattern, s); got != want {
				t.Fatalf("Match(%q, %q) = %v, naive = %v", pattern, s, got, want)
			}
		}

		prefix := LiteralPrefix(pattern)
		if got && !strings.HasPrefix(s, prefix) {
			t.Fatalf("Match(%q, %q) = true but s lacks LiteralPrefix %q", pattern, s, prefix)
		}
		if !HasMeta(pattern) && got != (s == prefix) {
			t.Fatalf("Match(%q, %q) = %v for a literal pattern %q", pattern, s, got, prefix)
		}

	})
}

// naive is stringmatchlen without the skipLongerMatches early exit and
// without a nesting bound: exponential, for cross-checking small inputs.
func naive(p, s string) bool {
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for at(p, 1) == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if naive(p[1:], s) {
					return true
				}
				s = s[1:]
			}
			return false
		case '?':
			s = s[1:]
		case '[':
			i := 1
			not := at(p, i) == '^'
			if not {
				i++
			}
			matched := false
			for ; ; i++ {
				if at(p, i) == '\\' && len(p)-i >= 2 {
					i++
					matched = matched || p[i] == s[0]
				} else if at(p, i) == ']' {
					break
				} else if i >= len(p) {
					i--
					break
				} else if len(p)-i >= 3 && p[i+1] == '-' {
					lo, hi := int8(p[i]), int8(p[i+2])
					if lo > hi {
						lo, hi = hi, lo
					}
					matched = matched || (int8(s[0]) >= lo && int8(s[0]) <= hi)
					i += 2
				} else {
					matched = matched || p[i] == s[0]
				}
			}
			if matched == not {
				return false
			}
			s = s[1:]
			p = p[i:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for at(p, 0) == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
