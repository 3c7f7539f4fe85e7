package middleware

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestStaleIfErrorRules pins down when a stale response replaces a
// handler's error (RFC 5861 §4, RFC 9111 §4.2.4), as documented in the
// package doc: only a 5xx within the window, which is the response's
// stale-if-error or else Options.StaleIfError (default 0: off), and never
// for must-revalidate, proxy-revalidate, s-maxage or no-cache.
func TestStaleIfErrorRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cc         string
		opt        time.Duration
		failStatus int
		step       time.Duration
		wantStale  bool
	}{
		{name: "default off", cc: "max-age=1", failStatus: 503, step: 2 * time.Second},
		{name: "directive", cc: "max-age=1, stale-if-error=60", failStatus: 503, step: 2 * time.Second, wantStale: true},
		{name: "directive window over", cc: "max-age=1, stale-if-error=60", failStatus: 503, step: 62 * time.Second},
		{name: "option", cc: "max-age=1", opt: time.Minute, failStatus: 500, step: 2 * time.Second, wantStale: true},
		{name: "directive 0 beats option", cc: "max-age=1, stale-if-error=0", opt: time.Minute, failStatus: 500, step: 2 * time.Second},
		{name: "4xx is not an error", cc: "max-age=1, stale-if-error=60", failStatus: 404, step: 2 * time.Second},
		{name: "must-revalidate", cc: "max-age=1, stale-if-error=60, must-revalidate", failStatus: 503, step: 2 * time.Second},
		{name: "proxy-revalidate", cc: "max-age=1, stale-if-error=60, proxy-revalidate", failStatus: 503, step: 2 * time.Second},
		{name: "s-maxage", cc: "s-maxage=1, stale-if-error=60", failStatus: 503, step: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c := newTestCache(t, &Options{Now: clk.Now, StaleIfError: tt.opt, Logger: discardLogger()})
			var fail atomic.Bool
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if fail.Load() {
					http.Error(w, "down", tt.failStatus)
					return
				}
				w.Header().Set("Cache-Control", tt.cc)
				_, _ = io.WriteString(w, "good")
			}))
			do(h, http.MethodGet, "/s")
			fail.Store(true)
			clk.Add(tt.step)
			w := do(h, http.MethodGet, "/s")
			if gotStale := w.Code == 200 && w.Body.String() == "good"; gotStale != tt.wantStale {
				t.Fatalf("Cache-Control %q, option %v, handler %d after %v: got %d %q (Cache-Status %q), stale served = %v, want %v",
					tt.cc, tt.opt, tt.failStatus, tt.step, w.Code, w.Body.String(), w.Header().Get("Cache-Status"), gotStale, tt.wantStale)
			}
			if !tt.wantStale && w.Code != tt.failStatus {
				t.Fatalf("got %d, want the handler's %d", w.Code, tt.failStatus)
			}
		})
	}
}
