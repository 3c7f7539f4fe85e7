package middleware

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// normAcceptLanguage normalises Accept-Language for Vary matching (RFC
// 9111 §4.1 allows normalising a field whose semantics say two values are
// equivalent): language ranges are case-insensitive (RFC 4647 §2), spaces
// around members and parameters are insignificant, q-values are compared
// as numbers (q=1, q=1.0 and no q are the same weight, RFC 9110 §12.4.2),
// and members are ordered by weight, keeping the sent order among equal
// weights (the only order a preference can express). ok=false, when a
// member is malformed, keeps the generic normalisation.
func normAcceptLanguage(vals []string) (string, bool) {
	type member struct {
		lang string
		q    int // thousandths
	}
	var ms []member
	for _, line := range vals {
		for m := range strings.SplitSeq(line, ",") {
			lang, params, hasParams := strings.Cut(m, ";")
			lang = strings.ToLower(strings.TrimSpace(lang))
			if lang == "" {
				if hasParams {
					return "", false
				}
				continue // empty list members are allowed (RFC 9110 §5.6.1)
			}
			if !validToken(lang) {
				return "", false
			}
			q := 1000
			if hasParams {
				name, val, ok := strings.Cut(params, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
					return "", false
				}
				var valid bool
				if q, valid = parseQValue(strings.TrimSpace(val)); !valid {
					return "", false
				}
			}
			ms = append(ms, member{lang, q})
		}
	}
	slices.SortStableFunc(ms, func(a, b member) int { return b.q - a.q })
	var sb strings.Builder
	for i, m := range ms {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(m.lang)
		if m.q != 1000 {
			sb.WriteString(";q=")
			sb.WriteString(formatQValue(m.q))
		}
	}
	return sb.String(), true
}

// formatQValue writes thousandths below 1000 as a shortest qvalue.
func formatQValue(q int) string {
	if q == 0 {
		return "0"
	}
	return strings.TrimRight("0."+strconv.Itoa(1000 + q)[1:], "0")
}

// parseQValue parses a qvalue (RFC 9110 §12.4.2: "0" to "1" with up to
// three decimals) into thousandths.
func parseQValue(s string) (int, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if (whole != "0" && whole != "1") || len(frac) > 3 {
		return 0, false
	}
	n := 0
	for i := range 3 {
		n *= 10
		if i < len(frac) {
			if frac[i] < '0' || frac[i] > '9' {
				return 0, false
			}
			n += int(frac[i] - '0')
		}
	}
	if whole == "1" {
		if n != 0 {
			return 0, false
		}
		return 1000, true
	}
	return n, true
}

// imsDate is the date If-Modified-Since is compared with for a stored
// response (RFC 9111 §4.3.2): its Last-Modified, or else its Date, or
// else the time it was received.
func imsDate(h http.Header, received int64) time.Time {
	if lm, ok := parseDate(h.Values("Last-Modified")); ok {
		return lm
	}
	if d, ok := parseDate(h.Values("Date")); ok {
		return d
	}
	return time.Unix(0, received)
}
