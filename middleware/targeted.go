package middleware

import (
	"github.com/dunglas/httpsfv"
)

// parseTargeted parses a targeted cache-control field such as
// CDN-Cache-Control (RFC 9213 §2.1): a Structured Field dictionary (RFC
// 8941 §3.2). ok=false means the field must be ignored, as if absent: a
// syntax error (uppercase key, space around "=", an unknown type), or a
// known directive whose value has the wrong type (max-age="60", a
// negative age, no-store=1, or the qualified no-cache="f" and
// private="f", which RFC 9213 does not carry). Parameters are ignored,
// and so are unknown directives.
func parseTargeted(lines []string) (d directives, ok bool) {
	dict, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return directives{}, false
	}
	d = noDirectives
	for _, name := range dict.Names() {
		m, _ := dict.Get(name)
		it, isItem := m.(httpsfv.Item)
		switch name {
		case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
			if !isItem {
				return directives{}, false
			}
			n, isInt := it.Value.(int64)
			if !isInt || n < 0 {
				return directives{}, false
			}
			n = min(n, maxDelta)
			switch name {
			case "max-age":
				d.maxAge = n
			case "s-maxage":
				d.sMaxAge = n
			case "stale-while-revalidate":
				d.swr = n
			default:
				d.sie = n
			}
		case "no-store", "no-cache", "private", "public", "must-revalidate", "proxy-revalidate", "immutable":
			if !isItem {
				return directives{}, false
			}
			b, isBool := it.Value.(bool)
			if !isBool {
				return directives{}, false
			}
			switch name {
			case "no-store":
				d.noStore = b
			case "no-cache":
				d.noCache = b
			case "private":
				d.private = b
			case "public":
				d.public = b
			case "must-revalidate":
				d.mustRevalidate = b
			case "proxy-revalidate":
				d.proxyRevalidate = b
			default:
				d.immutable = b
			}
		}
	}
	return d, true
}
