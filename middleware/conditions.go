package middleware

import (
	"net/http"
	"strings"
)

// evalConditions evaluates the request's preconditions against a stored
// 200 response (RFC 9110 §13.2.2): 412, 304, or 0 for "send it".
// received is when it was received (unix ns), the last resort for
// If-Modified-Since.
func evalConditions(r *http.Request, h http.Header, received int64) int {
	etag := h.Get("Etag")
	lm, hasLM := parseDate(h.Values("Last-Modified"))
	if im := r.Header.Values("If-Match"); len(im) > 0 {
		if !matchETag(im, etag, true) {
			return http.StatusPreconditionFailed
		}
	} else if ius, ok := parseDate(r.Header.Values("If-Unmodified-Since")); ok && hasLM && lm.After(ius) {
		return http.StatusPreconditionFailed
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		if matchETag(inm, etag, false) {
			return http.StatusNotModified
		}
		return 0
	}
	if ims, ok := parseDate(r.Header.Values("If-Modified-Since")); ok && !imsDate(h, received).After(ims) {
		return http.StatusNotModified
	}
	return 0
}

// matchETag reports whether the list of entity tags matches etag, with
// the strong or weak comparison (RFC 9110 §8.8.3.2).
func matchETag(lines []string, etag string, strong bool) bool {
	for _, l := range lines {
		for t := range strings.SplitSeq(l, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "*":
				// "*" matches any current representation (RFC 9110
				// §13.1.1-2), and conditions are evaluated only on a
				// stored one, with or without an entity tag.
				return true
			case etag == "":
				continue
			case strong:
				if t == etag && !strings.HasPrefix(t, "W/") {
					return true
				}
			case strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/"):
				return true
			}
		}
	}
	return false
}
