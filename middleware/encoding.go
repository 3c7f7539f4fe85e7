package middleware

import (
	"slices"
	"strconv"
	"strings"
)

// Accept-Encoding variants. Clients spell the same preference many ways
// ("gzip", "deflate, gzip", "gzip;q=1.0, br;q=0"); keyed on the raw value
// each spelling would be a variant of its own. A vary index remembers the
// content codings its URL's responses used, and a request is keyed on the
// subset of them it accepts instead. A response is stored under that key
// only if its own coding is in the subset, so every client sharing the key
// accepts it. A request that accepts none of them is keyed on its raw
// value, as RFC 9111 §4.1 describes.

// maxEncodings bounds the codings an index remembers.
const maxEncodings = 8

// contentCoding is the coding a response used: its Content-Encoding, lower
// case, or "identity".
func contentCoding(ce string) string {
	ce = strings.ToLower(strings.TrimSpace(ce))
	if ce == "" {
		return "identity"
	}
	return ce
}

// acceptedCodings returns the members of known (sorted) that the
// Accept-Encoding field lines accept (RFC 9110 §12.5.3), or ok=false when
// the field does not parse or accepts none of them.
func acceptedCodings(lines []string, known []string) (accepted []string, ok bool) {
	q := map[string]float64{}
	for _, l := range lines {
		for m := range strings.SplitSeq(l, ",") {
			coding, params, _ := strings.Cut(m, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding == "" {
				continue
			}
			w := 1.0
			if params = strings.TrimSpace(params); params != "" {
				name, val, found := strings.Cut(params, "=")
				if !found || strings.ToLower(strings.TrimSpace(name)) != "q" {
					return nil, false
				}
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil || f < 0 || f > 1 {
					return nil, false
				}
				w = f
			}
			if _, dup := q[coding]; !dup {
				q[coding] = w
			}
		}
	}
	for _, k := range known {
		w, listed := q[k]
		if !listed {
			star, hasStar := q["*"]
			switch {
			case hasStar:
				w = star
			case k == "identity":
				w = 1 // identity is acceptable unless excluded
			}
		}
		if w > 0 {
			accepted = append(accepted, k)
		}
	}
	return accepted, len(accepted) > 0
}

// withCoding returns known with coding added (sorted), and whether it was
// new; the list is bounded by maxEncodings.
func withCoding(known []string, coding string) ([]string, bool) {
	if slices.Contains(known, coding) || len(known) >= maxEncodings {
		return known, false
	}
	out := append(slices.Clone(known), coding)
	slices.Sort(out)
	return out, true
}
