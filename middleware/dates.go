package middleware

import (
	"strings"
	"time"
)

// parseAge parses an Age field (RFC 9111 §5.1): the first member of a
// list; an invalid value is ignored (ok=false).
func parseAge(lines []string) (time.Duration, bool) {
	if len(lines) == 0 {
		return 0, false
	}
	first, _, _ := strings.Cut(lines[0], ",")
	n := deltaSeconds(strings.TrimSpace(first), true)
	if n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// parseDate parses a field holding one HTTP-date (IMF-fixdate, RFC 850 or
// asctime), strictly: see parseHTTPDate.
func parseDate(lines []string) (time.Time, bool) {
	if len(lines) != 1 {
		return time.Time{}, false
	}
	return parseHTTPDate(strings.Trim(lines[0], " \t"))
}

// parseExpires parses Expires (RFC 9111 §5.3): an invalid value, such as
// "0", means already expired (ok=true, expired=true).
func parseExpires(lines []string) (t time.Time, present, expired bool) {
	if len(lines) == 0 {
		return time.Time{}, false, false
	}
	t, ok := parseDate(lines)
	if !ok {
		return time.Time{}, true, true
	}
	return t, true, false
}
