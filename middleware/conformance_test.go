package middleware

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// origin is a test handler answering with fixed headers, counting calls.
type origin struct {
	calls  atomic.Int64
	status int
	header map[string]string
	body   string
	// on304: answer 304 when the request's If-None-Match matches ETag.
	on304 bool
	now   func() time.Time
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.calls.Add(1)
	for k, v := range o.header {
		w.Header().Set(k, v)
	}
	if _, ok := o.header["Date"]; !ok && o.now != nil {
		w.Header().Set("Date", o.now().UTC().Format(http.TimeFormat))
	}
	if o.on304 && r.Header.Get("If-None-Match") != "" && r.Header.Get("If-None-Match") == o.header["Etag"] {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if o.status != 0 {
		w.WriteHeader(o.status)
	}
	_, _ = w.Write([]byte(o.body))
}

// TestConformance checks RFC 9111 (and 9110, 9213) rules, each case
// written from the RFC text: two requests, a clock step between them, and
// how many times the origin was called.
func TestConformance(t *testing.T) {
	t.Parallel()
	date := func(c *clock, d time.Duration) string { return c.Now().Add(d).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name    string
		rule    string
		status  int
		header  func(c *clock) map[string]string
		req1    []string // header pairs of the first request
		req2    []string // header pairs of the second request
		method2 string
		step    time.Duration
		calls   int64  // origin calls after both requests
		status2 int    // expected status of the 2nd response (0: 200)
		want2   string // substring of Cache-Status of the 2nd response
		on304   bool
		opts    *Options
	}{
		{name: "max-age fresh", rule: "9111 §4.2.1 max-age", header: cc("max-age=60"), step: 30 * time.Second, calls: 1, want2: "hit"},
		{name: "max-age stale", rule: "9111 §4.2.1", header: cc("max-age=60"), step: 61 * time.Second, calls: 2},
		{name: "no-store", rule: "9111 §3 no-store", header: cc("max-age=60, no-store"), calls: 2},
		{name: "private", rule: "9111 §3 private (shared cache)", header: cc("max-age=60, private"), calls: 2},
		{name: "private qualified", rule: "9111 §5.2.2.7", header: cc(`max-age=60, private="x-user"`), calls: 2},
		{name: "s-maxage over max-age", rule: "9111 §5.2.2.10", header: cc("max-age=0, s-maxage=60"), step: 30 * time.Second, calls: 1},
		{name: "s-maxage stale", rule: "9111 §5.2.2.10", header: cc("max-age=600, s-maxage=10"), step: 30 * time.Second, calls: 2},
		{name: "max-age over Expires", rule: "9111 §5.3", header: func(c *clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Expires": date(c, -time.Hour)}
		}, step: 30 * time.Second, calls: 1},
		{name: "Expires fresh", rule: "9111 §4.2.1 Expires", header: func(c *clock) map[string]string {
			return map[string]string{"Expires": date(c, time.Minute)}
		}, step: 30 * time.Second, calls: 1},
		{name: "Expires invalid", rule: "9111 §5.3 invalid = expired", header: func(c *clock) map[string]string {
			return map[string]string{"Expires": "0"}
		}, calls: 2},
		{name: "max-age invalid", rule: "9111 §1.2.2", header: cc("max-age=abc"), calls: 2},
		{name: "max-age first wins", rule: "9111 §4.2.1 duplicates", header: cc("max-age=60, max-age=0"), step: 10 * time.Second, calls: 1},
		{name: "max-age quoted", rule: "9111 §5.2 (lenient)", header: cc(`max-age="60"`), step: 10 * time.Second, calls: 1},
		{name: "directive case", rule: "9111 §5.2 case-insensitive", header: cc("MAX-AGE=60"), step: 10 * time.Second, calls: 1},
		{name: "no freshness", rule: "9111 §3 needs freshness", header: cc(""), calls: 2},
		{name: "heuristic", rule: "9111 §4.2.2", header: func(c *clock) map[string]string {
			return map[string]string{"Last-Modified": date(c, -100*time.Hour)}
		}, step: 5 * time.Hour, calls: 1},
		{name: "heuristic expired", rule: "9111 §4.2.2 (10%)", header: func(c *clock) map[string]string {
			return map[string]string{"Last-Modified": date(c, -10*time.Hour)}
		}, step: 2 * time.Hour, calls: 2},
		{name: "heuristic not for errors", rule: "safe default", status: 404, header: func(c *clock) map[string]string {
			return map[string]string{"Last-Modified": date(c, -100*time.Hour)}
		}, calls: 2, status2: 404},
		{name: "error with freshness", rule: "9111 §3 any understood status", status: 404, header: cc("max-age=60"), calls: 1, status2: 404},
		{name: "500 without freshness", rule: "safe default", status: 500, header: cc(""), calls: 2, status2: 500},
		{name: "206 never", rule: "9111 §3.3 (not stored)", status: 206, header: cc("max-age=60"), calls: 2, status2: 206},
		{name: "Set-Cookie", rule: "safe default", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Set-Cookie": "a=b"}
		}, calls: 2},
		{name: "Authorization", rule: "9111 §3.5", header: cc("max-age=60"), req1: []string{"Authorization", "Bearer x"}, calls: 2},
		{name: "Authorization public", rule: "9111 §3.5", header: cc("public, max-age=60"), req1: []string{"Authorization", "Bearer x"}, req2: []string{"Authorization", "Bearer y"}, calls: 1},
		{name: "Authorization s-maxage", rule: "9111 §3.5", header: cc("s-maxage=60"), req1: []string{"Authorization", "Bearer x"}, calls: 1},
		{name: "Authorization served only if allowed", rule: "9111 §3.5", header: cc("max-age=60"), req2: []string{"Authorization", "Bearer y"}, calls: 2},
		{name: "Cookie request not public", rule: "web cache deception guard", header: cc("max-age=60"), req1: []string{"Cookie", "s=1"}, calls: 2},
		{name: "Cookie request public", rule: "explicitly public", header: cc("public, max-age=60"), req1: []string{"Cookie", "s=1"}, calls: 1},
		{name: "Age counts", rule: "9111 §4.2.3", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Age": "50"}
		}, step: 20 * time.Second, calls: 2},
		{name: "Age invalid ignored", rule: "9111 §5.1", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Age": "abc"}
		}, step: 20 * time.Second, calls: 1},
		{name: "Age list first", rule: "9111 §5.1", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Age": "50, 0"}
		}, step: 20 * time.Second, calls: 2},
		{name: "apparent age", rule: "9111 §4.2.3 apparent_age", header: func(c *clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Date": date(c, -50*time.Second)}
		}, step: 20 * time.Second, calls: 2},
		{name: "Vary same", rule: "9111 §4.1", header: vary("Accept-Language"), req1: []string{"Accept-Language", "en"}, req2: []string{"Accept-Language", "en"}, calls: 1},
		{name: "Vary normalised", rule: "9111 §4.1 normalisation", header: vary("Accept-Encoding"), req1: []string{"Accept-Encoding", "gzip,  br"}, req2: []string{"Accept-Encoding", "GZIP, br"}, calls: 1},
		{name: "Vary differs", rule: "9111 §4.1", header: vary("Accept-Language"), req1: []string{"Accept-Language", "en"}, req2: []string{"Accept-Language", "fr"}, calls: 2},
		{name: "Vary absent vs present", rule: "9111 §4.1", header: vary("Accept-Language"), req2: []string{"Accept-Language", ""}, calls: 2},
		{name: "Vary star", rule: "9111 §4.1 Vary: *", header: vary("*"), calls: 2},
		{name: "no-cache revalidates", rule: "9111 §5.2.2.4", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "no-cache", "Etag": `"v1"`}
		}, on304: true, step: time.Second, calls: 2, want2: "fwd=stale; fwd-status=304"},
		{name: "stale revalidated with 304", rule: "9111 §4.3.1, §4.3.4", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=10", "Etag": `"v1"`}
		}, on304: true, step: 20 * time.Second, calls: 2, want2: "fwd-status=304"},
		{name: "client If-None-Match", rule: "9110 §13.1.2", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Etag": `"v1"`}
		}, req2: []string{"If-None-Match", `W/"v1"`}, calls: 1, status2: 304},
		{name: "client If-None-Match miss", rule: "9110 §13.1.2", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Etag": `"v1"`}
		}, req2: []string{"If-None-Match", `"v2"`}, calls: 1},
		{name: "client If-Modified-Since", rule: "9110 §13.1.3", header: func(c *clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Last-Modified": date(c, -time.Hour)}
		}, req2: []string{"If-Modified-Since", time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC).Format(http.TimeFormat)}, calls: 1, status2: 304},
		{name: "client If-Match fails", rule: "9110 §13.1.1", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Etag": `"v1"`}
		}, req2: []string{"If-Match", `"v2"`}, calls: 1, status2: 412},
		{name: "HEAD uses GET entry", rule: "9110 §9.3.2", header: cc("max-age=60"), method2: http.MethodHead, calls: 1},
		{name: "targeted field wins", rule: "9213 §2.2", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "no-store", "Cdn-Cache-Control": "max-age=60"}
		}, calls: 1},
		{name: "targeted no-store", rule: "9213 §2.2", header: func(*clock) map[string]string {
			return map[string]string{"Cache-Control": "max-age=60", "Cdn-Cache-Control": "no-store"}
		}, calls: 2},
		{name: "client no-cache ignored", rule: "ClientControl off", header: cc("max-age=60"), req2: []string{"Cache-Control", "no-cache"}, calls: 1},
		{name: "client no-cache honoured", rule: "9111 §5.2.1.4", header: cc("max-age=60"), req2: []string{"Cache-Control", "no-cache"}, calls: 2, opts: &Options{ClientControl: true}},
		{name: "client max-age", rule: "9111 §5.2.1.1", header: cc("max-age=60"), req2: []string{"Cache-Control", "max-age=5"}, step: 10 * time.Second, calls: 2, opts: &Options{ClientControl: true}},
		{name: "client min-fresh", rule: "9111 §5.2.1.3", header: cc("max-age=60"), req2: []string{"Cache-Control", "min-fresh=55"}, step: 10 * time.Second, calls: 2, opts: &Options{ClientControl: true}},
		{name: "only-if-cached miss", rule: "9111 §5.2.1.7", header: cc("max-age=1"), req2: []string{"Cache-Control", "only-if-cached"}, step: 2 * time.Second, calls: 1, status2: 504},
		{name: "default TTL", rule: "opt-in", header: cc(""), calls: 1, opts: &Options{DefaultTTL: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := &Options{}
			if tt.opts != nil {
				*o = *tt.opts
			}
			o.Now = clk.Now
			c := newTestCache(t, o)
			org := &origin{status: tt.status, header: tt.header(clk), body: "hello", on304: tt.on304, now: clk.Now}
			h := c.Handler(org)
			w1 := do(h, http.MethodGet, "http://example.com/x", tt.req1...)
			clk.Add(tt.step)
			m := tt.method2
			if m == "" {
				m = http.MethodGet
			}
			w2 := do(h, m, "http://example.com/x", tt.req2...)
			if got := org.calls.Load(); got != tt.calls {
				t.Errorf("%s: origin calls = %d, want %d (Cache-Status %q, %q)", tt.rule, got, tt.calls, w1.Header().Values("Cache-Status"), w2.Header().Values("Cache-Status"))
			}
			want := tt.status2
			if want == 0 {
				want = 200
			}
			if w2.Code != want {
				t.Errorf("%s: second status = %d, want %d", tt.rule, w2.Code, want)
			}
			if want == 200 && m == http.MethodGet && w2.Body.String() != "hello" {
				t.Errorf("%s: second body = %q, want %q", tt.rule, w2.Body.String(), "hello")
			}
			if m == http.MethodHead && w2.Body.Len() != 0 {
				t.Errorf("HEAD body = %q, want empty", w2.Body.String())
			}
			if cs := strings.Join(w2.Header().Values("Cache-Status"), ", "); !strings.Contains(cs, tt.want2) || cs == "" {
				t.Errorf("%s: Cache-Status = %q, want it to contain %q", tt.rule, cs, tt.want2)
			}
		})
	}
}

func cc(v string) func(*clock) map[string]string {
	return func(*clock) map[string]string {
		if v == "" {
			return map[string]string{}
		}
		return map[string]string{"Cache-Control": v}
	}
}

func vary(v string) func(*clock) map[string]string {
	return func(*clock) map[string]string { return map[string]string{"Cache-Control": "max-age=60", "Vary": v} }
}
