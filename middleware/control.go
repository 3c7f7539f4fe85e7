package middleware

import (
	"net/textproto"
	"sort"
	"strconv"
	"strings"
)

// maxDelta is the value RFC 9111 §1.2.2 says to use for a delta-seconds
// that overflows: 2^31 seconds.
const maxDelta = 2147483648

// directives is a parsed Cache-Control (or targeted) field. Durations are
// in seconds; -1 means absent.
type directives struct {
	maxAge, sMaxAge, maxStale, minFresh int64
	swr, sie                            int64
	badMaxAge                           bool // present but invalid: treat as stale
	maxStaleAny                         bool // max-stale without a value
	noStore, noCache, private, public   bool
	mustRevalidate, proxyRevalidate     bool
	onlyIfCached, immutable             bool
}

// noDirectives is an absent Cache-Control field.
var noDirectives = directives{maxAge: -1, sMaxAge: -1, maxStale: -1, minFresh: -1, swr: -1, sie: -1}

// parseDirectives parses Cache-Control field lines (RFC 9111 §5.2). Names
// are case-insensitive; the first occurrence of a directive wins; unknown
// directives are ignored; qualified no-cache="…" and private="…" are
// treated as their unqualified forms (stricter than required).
func parseDirectives(lines []string) directives {
	d := noDirectives
	seen := map[string]bool{}
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line = nextDirective(line)
			name, val, hasVal := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			val = unquote(strings.TrimSpace(val))
			switch name {
			case "max-age":
				d.maxAge = deltaSeconds(val, hasVal)
				d.badMaxAge = d.maxAge < 0
			case "s-maxage":
				d.sMaxAge = deltaSeconds(val, hasVal)
				if d.sMaxAge < 0 {
					d.badMaxAge = true
				}
			case "max-stale":
				if !hasVal {
					d.maxStaleAny = true
				} else {
					d.maxStale = deltaSeconds(val, hasVal)
				}
			case "min-fresh":
				d.minFresh = deltaSeconds(val, hasVal)
			case "stale-while-revalidate":
				d.swr = deltaSeconds(val, hasVal)
			case "stale-if-error":
				d.sie = deltaSeconds(val, hasVal)
			case "no-store":
				d.noStore = true
			case "no-cache":
				d.noCache = true
			case "private":
				d.private = true
			case "public":
				d.public = true
			case "must-revalidate":
				d.mustRevalidate = true
			case "proxy-revalidate":
				d.proxyRevalidate = true
			case "only-if-cached":
				d.onlyIfCached = true
			case "immutable":
				d.immutable = true
			}
		}
	}
	return d
}

// nextDirective splits off the first comma-separated member of s,
// respecting quoted strings.
func nextDirective(s string) (part, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// deltaSeconds parses a delta-seconds value: -1 when absent or invalid,
// capped at 2^31 (RFC 9111 §1.2.2).
func deltaSeconds(s string, present bool) int64 {
	if !present || s == "" {
		return -1
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxDelta {
		return maxDelta
	}
	return n
}

// parseVary returns the canonical, sorted, de-duplicated field names of
// Vary, and star=true when it lists "*".
func parseVary(lines []string) (names []string, star bool) {
	for _, line := range lines {
		for f := range strings.SplitSeq(line, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "":
				continue
			case f == "*":
				star = true
				continue
			case !validToken(f):
				star = true // unparseable: never match
				continue
			}
			names = append(names, textproto.CanonicalMIMEHeaderKey(f))
		}
	}
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out, star
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return s != ""
}
