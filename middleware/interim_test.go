package middleware

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"testing"
)

// TestEarlyHintsOnMiss: a 103 Early Hints the handler sends reaches the
// client on a miss, over a real server and client, with its Link header;
// it is not stored (a hit sends none) and the final response is whole.
func TestEarlyHintsOnMiss(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, nil)
	var calls atomic.Int64
	srv := httptest.NewServer(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "page")
	})))
	t.Cleanup(srv.Close)

	get := func() (hints []textproto.MIMEHeader, resp *http.Response, body string) {
		t.Helper()
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				hints = append(hints, h)
			}
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, srv.URL+"/p", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err = srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return hints, resp, string(b)
	}

	hints, resp, body := get()
	if len(hints) != 1 || hints[0].Get("Link") != "</style.css>; rel=preload; as=style" {
		t.Fatalf("miss: got 103s %v, want one with the Link", hints)
	}
	if resp.StatusCode != 200 || body != "page" || resp.Header.Get("Link") != "" {
		t.Fatalf("miss: final %d %q Link=%q, want 200 \"page\" without Link", resp.StatusCode, body, resp.Header.Get("Link"))
	}
	hints, resp, body = get()
	if len(hints) != 0 {
		t.Fatalf("hit: got 103s %v, want none (interim responses are not stored)", hints)
	}
	if resp.StatusCode != 200 || body != "page" || calls.Load() != 1 {
		t.Fatalf("hit: %d %q after %d handler calls, want 200 \"page\" after 1", resp.StatusCode, body, calls.Load())
	}
}
