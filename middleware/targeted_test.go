package middleware

import (
	"net/http"
	"testing"
	"time"
)

// TestTargetedStructuredField checks CDN-Cache-Control as an RFC 8941
// dictionary (RFC 9213 §2.1): an invalid field is ignored as a whole and
// Cache-Control applies; the cases mirror the cache-tests suite's
// cdn-cache-control group.
func TestTargetedStructuredField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cc, cdn string
		step          time.Duration
		calls         int64
	}{
		{name: "valid max-age", cc: "no-store", cdn: "max-age=600", step: time.Minute, calls: 1},
		{name: "extension member", cdn: "foobar, max-age=3600", step: time.Minute, calls: 1},
		{name: "max-age over 2^31", cdn: "max-age=99999999999", step: time.Hour, calls: 1},
		{name: "parameters ignored", cdn: "max-age=600;x=1", step: time.Minute, calls: 1},
		{name: "unknown type invalidates", cc: "no-store", cdn: "max-age=10000, &&&&&", calls: 2},
		{name: "string max-age invalidates", cc: "no-store", cdn: `max-age="10000"`, calls: 2},
		{name: "negative max-age invalidates", cc: "no-store", cdn: "max-age=-1", calls: 2},
		{name: "decimal max-age invalidates", cc: "no-store", cdn: "max-age=1.5", calls: 2},
		{name: "space before =", cc: "max-age=1", cdn: "max-age =100", step: 2 * time.Second, calls: 2},
		{name: "space after =", cc: "max-age=1", cdn: "max-age= 100", step: 2 * time.Second, calls: 2},
		{name: "uppercase key", cc: "max-age=1", cdn: "MaX-aGe=3600", step: 2 * time.Second, calls: 2},
		{name: "no-store as integer invalidates", cc: "max-age=600", cdn: "no-store=1", step: time.Minute, calls: 1},
		{name: "qualified private invalidates", cc: "max-age=600", cdn: `private="set-cookie"`, step: time.Minute, calls: 1},
		{name: "no-store", cc: "max-age=600", cdn: "no-store", calls: 2},
		{name: "no-store false", cc: "no-store", cdn: "no-store=?0, max-age=600", step: time.Minute, calls: 1},
		{name: "private", cc: "max-age=600", cdn: "private", calls: 2},
		{name: "short targeted wins", cc: "max-age=3600", cdn: "max-age=1", step: 2 * time.Second, calls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c := newTestCache(t, &Options{Now: clk.Now})
			hdr := map[string]string{"Cdn-Cache-Control": tt.cdn}
			if tt.cc != "" {
				hdr["Cache-Control"] = tt.cc
			}
			o := &origin{header: hdr, body: "x", now: clk.Now}
			h := c.Handler(o)
			do(h, http.MethodGet, "/t")
			clk.Add(tt.step)
			do(h, http.MethodGet, "/t")
			if n := o.calls.Load(); n != tt.calls {
				t.Fatalf("CDN-Cache-Control %q, Cache-Control %q: origin called %d times, want %d", tt.cdn, tt.cc, n, tt.calls)
			}
		})
	}
}

func FuzzTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", "no-store, max-age=1;a=2", `max-age="1"`, "a=(1 2), b=?1", "&&&", "max-age=999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseTargeted([]string{s})
		if ok && (d.maxAge < -1 || d.maxAge > maxDelta || d.sMaxAge < -1 || d.sMaxAge > maxDelta || d.swr > maxDelta || d.sie > maxDelta) {
			t.Fatalf("parseTargeted(%q) = %+v", s, d)
		}
	})
}
