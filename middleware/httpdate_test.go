package middleware

import (
	"net/http"
	"testing"
	"time"
)

// TestHTTPDateStrict checks the three RFC 9110 §5.6.7 formats and the
// malformed dates of the cache-tests suite's expires-parse group.
func TestHTTPDateStrict(t *testing.T) {
	t.Parallel()
	want := time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)
	valid := map[string]time.Time{
		"Thu, 18 Aug 2050 02:01:18 GMT":    want,
		"Thursday, 18-Aug-50 02:01:18 GMT": want,
		"Thu Aug 18 02:01:18 2050":         want,
		"Thu Aug  8 02:01:18 2050":         time.Date(2050, 8, 8, 2, 1, 18, 0, time.UTC),
		"Sunday, 06-Nov-94 08:49:37 GMT":   time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC),
		"THU, 18 Aug 2050 02:01:18 GMT":    want, // case: see parseHTTPDate
		"Thu, 18 AUG 2050 02:01:18 GMT":    want,
		"Thu, 18 Aug 2050 02:01:18 gMT":    want,
		"Tue, 19 Jan 2038 14:14:08 GMT":    time.Date(2038, 1, 19, 14, 14, 8, 0, time.UTC),
		"Sun, 21 Nov 2286 04:46:39 GMT":    time.Date(2286, 11, 21, 4, 46, 39, 0, time.UTC),
		"Wed, 31 Dec 2025 23:59:60 GMT":    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for s, w := range valid {
		got, ok := parseHTTPDate(s)
		if !ok || !got.Equal(w) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want %v", s, got, ok, w)
		}
	}
	for _, s := range []string{
		"0", "", "-1",
		"Thu, 18 Aug 2050 02:01:18 UTC",  // http.ParseTime accepts any zone in RFC 850 only, but UTC is not GMT
		"Thu, 18 Aug 2050 02:01:18 AEST", //
		"Thu, 18 Aug 50 02:01:18 GMT",    // two-digit year in IMF-fixdate
		"Thu 18 Aug 2050 02:01:18 GMT",   // missing comma
		"Thu, 18  Aug  2050 02:01:18 GMT",
		"Thu, 18-Aug-2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 02.01.18 GMT",
		"Thu, 18 Aug 2050 2:01:18 GMT",     // one-digit hour: http.ParseTime accepts it
		"Thu, 18 Aug 2050 02:01:18.5 GMT",  // fractional seconds: http.ParseTime accepts them
		"Thursday, 18-Aug-50 02:01:18 PST", // http.ParseTime accepts any zone here
		"Thu, 31 Feb 2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 24:01:18 GMT",
		"Xyz, 18 Aug 2050 02:01:18 GMT",
		"Thu, 18 Aug 2050 02:01:18 GMT ",
		"Thu Aug 8 02:01:18 2050",
		"Thu Aug 18 02:01:18 50",
	} {
		if got, ok := parseHTTPDate(s); ok {
			t.Errorf("parseHTTPDate(%q) = %v, want invalid", s, got)
		}
	}
}

// TestExpiresMalformedIsExpired: RFC 9111 §5.3, a malformed Expires is a
// time in the past; it is not parsed leniently into a future date.
func TestExpiresMalformedIsExpired(t *testing.T) {
	t.Parallel()
	for _, exp := range []string{
		"Thu, 18 Aug 2050 2:01:18 GMT",     // one-digit hour
		"Thursday, 18-Aug-50 02:01:18 PST", // wrong zone
		"Thu, 18 Aug 2050 02:01:18.5 GMT",  // fractional seconds
	} {
		t.Run(exp, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c := newTestCache(t, &Options{Now: clk.Now})
			o := &origin{header: map[string]string{"Expires": exp, "Date": clk.Now().Format(http.TimeFormat)}, body: "x"}
			h := c.Handler(o)
			do(h, "GET", "/d")
			do(h, "GET", "/d")
			if n := o.calls.Load(); n != 2 {
				t.Fatalf("origin called %d times, want 2 (malformed Expires is expired)", n)
			}
		})
	}
	// The wrong case of a well-formed date is still a future date.
	clk := newClock()
	c := newTestCache(t, &Options{Now: clk.Now})
	o := &origin{header: map[string]string{"Expires": "THU, 18 AUG 2050 02:01:18 gmt", "Date": clk.Now().Format(http.TimeFormat)}, body: "x"}
	h := c.Handler(o)
	do(h, "GET", "/c")
	do(h, "GET", "/c")
	if n := o.calls.Load(); n != 1 {
		t.Fatalf("origin called %d times, want 1 (case-insensitive date is fresh)", n)
	}
}

func FuzzHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "0", "Thu, 31 Feb 2050 02:01:18 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseHTTPDate(s)
		if !ok {
			return
		}
		// A valid date formats to an IMF-fixdate that parses back to it.
		imf := d.Format(http.TimeFormat)
		back, ok := parseHTTPDate(imf)
		if d.Year() >= 0 && d.Year() <= 9999 && (!ok || !back.Equal(d)) {
			t.Fatalf("parseHTTPDate(%q) = %v, but %q = %v, %v", s, d, imf, back, ok)
		}
	})
}
