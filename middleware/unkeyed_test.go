package middleware

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

// Unkeyed routing fields never reach the handler of a shared fetch
// (defect 3), matched by family, whatever their case or "_" spelling,
// unless keyed or trusted.
func TestUnkeyedRoutingFieldsStripped(t *testing.T) {
	t.Parallel()
	poison := []string{
		"X-Forwarded-Prefix", "X-Original-Host", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Override-Url",
		"X-Forwarded-Ssl", "Front-End-Https", "Forwarded", "X-Real-Ip", "X-Forwarded-Host", "X-Original-Url",
		"X-Rewrite-Url", "X-Http-Method-Override", "X-Host", "X-Forwarded-Scheme", "X-Forwarded-Port",
		"True-Client-Ip", "X-Client-Ip", "X-Proxy-Url", "X_Forwarded_Host", "x-forwarded-server",
		"X-Envoy-Original-Path", "X-Arr-Ssl", "X-Url-Scheme", "X-Http-Host-Override",
	}
	c := newTestCache(t, &Options{KeyHeaders: []string{"X-Forwarded-Prefix"}, TrustedHeaders: []string{"X-Real-IP"}})
	seen := make(chan []string, 1)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got []string
		for name := range r.Header {
			if unkeyedField(name) {
				got = append(got, name)
			}
		}
		sort.Strings(got)
		seen <- got
		w.Header().Set("Cache-Control", "max-age=60")
	}))
	var hdr []string
	for _, f := range poison {
		hdr = append(hdr, f, "evil.example")
	}
	r := do(h, http.MethodGet, "http://example.com/page", hdr...)
	got := <-seen
	if want := []string{"X-Forwarded-Prefix", "X-Real-Ip"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("handler saw %v (Cache-Status %q), want only the keyed and trusted %v", got, r.Header().Get("Cache-Status"), want)
	}
}
