package httpcache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/middleware"
	"github.com/darkweak/souin/configurationtypes"
	souin "github.com/darkweak/souin/pkg/middleware"
)

// body is the response: ~1 KiB, written from memory by every origin.
var body = bytes.Repeat([]byte("cachekit "), 114) // 1,026 bytes

// origin is the application behind each variant. It counts its calls so a
// benchmark can prove that the measured requests never reached it.
type origin struct{ calls atomic.Int64 }

func (o *origin) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	o.calls.Add(1)
	h := w.Header()
	h["Cache-Control"] = []string{"public, max-age=600"}
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	_, _ = w.Write(body)
}

// variant is one way of answering the request.
type variant struct {
	name   string
	h      http.Handler
	origin *origin
	hit    string // Cache-Status prefix of a hit; "" for the no-cache baseline
	// peer: a competitor. A wrong response from it (seen from souin: a
	// 200 with another length of body after a store that hit an
	// unexpected EOF) is counted and reported, not fatal; from cachekit
	// or the baseline it fails the benchmark.
	peer bool
	bad  atomic.Int64
}

// souinHandler is built once per process: souin's NewHTTPCacheHandler
// registers its storer in a package-level registry and starts a mapping
// eviction goroutine that never ends, so every handler would share the
// storage anyway. Each setup uses a fresh path instead (setups below).
//
// The configuration is the one souin's chi/net/http plugins ship as
// DefaultConfiguration, with the log level raised so its "default storage
// is for development" warning stays quiet. No storer from
// github.com/darkweak/storages is registered, so souin uses its built-in
// in-memory storage (a sync.Map of lz4-compressed responses).
var souinHandler = sync.OnceValue(func() *souin.SouinBaseHandler {
	return souin.NewHTTPCacheHandler(&souin.BaseConfiguration{
		DefaultCache: &configurationtypes.DefaultCache{
			TTL:   configurationtypes.Duration{Duration: 10 * time.Second},
			Stale: configurationtypes.Duration{Duration: 10 * time.Second},
		},
		LogLevel: "error",
	})
})

// souinNetHTTP wraps next the way souin's net/http plugins (chi, …) do.
func souinNetHTTP(s *souin.SouinBaseHandler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = s.ServeHTTP(w, r, func(w http.ResponseWriter, r *http.Request) error {
			next.ServeHTTP(w, r)
			return nil
		})
	})
}

var setups atomic.Int64

// newVariants returns the three variants and a path no earlier setup used
// (souin's storage is process-wide, see souinHandler), so both caches
// start cold.
func newVariants(tb testing.TB) ([]*variant, string) {
	tb.Helper()
	mb, err := memory.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	ck, err := middleware.New(mb, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ck.Close(); mb.Close() })
	var on, oc, osn origin
	vs := []*variant{
		{name: "nocache", h: &on, origin: &on},
		{name: "cachekit", h: ck.Handler(&oc), origin: &oc, hit: "cachekit; hit"},
		{name: "souin", h: souinNetHTTP(souinHandler(), &osn), origin: &osn, hit: "Souin; hit", peer: true},
	}
	return vs, fmt.Sprintf("/bench/%d", setups.Add(1))
}

// check verifies one response: 200, the whole body, and a cache hit for
// the cache variants.
func (v *variant) check(status int, h http.Header, n int) error {
	if status != http.StatusOK || n != len(body) {
		return fmt.Errorf("%s: status %d, %d body bytes (want 200, %d)", v.name, status, n, len(body))
	}
	if cs := h.Get("Cache-Status"); v.hit != "" && !strings.HasPrefix(cs, v.hit) {
		return fmt.Errorf("%s: not a hit: Cache-Status %q", v.name, cs)
	}
	return nil
}

// serve runs one in-process request. Like net/http's server, it cancels
// the request's context when the handler returns (souin starts a goroutine
// per request that waits for it).
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	ctx, cancel := context.WithCancel(r.Context())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r.WithContext(ctx))
	cancel()
	return w
}

// warmInProcess stores the response in each cache (the first request is a
// miss) and checks that the next one is a hit. It returns the origins'
// call counts, which must not move while measuring.
func warmInProcess(tb testing.TB, vs []*variant, r *http.Request) []int64 {
	tb.Helper()
	calls := make([]int64, len(vs))
	for i, v := range vs {
		serve(v.h, r)
		w := serve(v.h, r)
		if err := v.check(w.Code, w.Header(), w.Body.Len()); err != nil {
			tb.Fatal(err)
		}
		calls[i] = v.origin.calls.Load()
	}
	return calls
}

// checkOrigins fails if an origin of a cache variant ran since warm-up.
func checkOrigins(tb testing.TB, vs []*variant, calls []int64) {
	tb.Helper()
	for i, v := range vs {
		if n := v.origin.calls.Load() - calls[i]; v.hit != "" && n != 0 {
			if v.peer {
				tb.Logf("%s: origin ran %d times while measuring hits (a peer's fault: not fatal)", v.name, n)
				continue
			}
			tb.Fatalf("%s: origin ran %d times while measuring hits", v.name, n)
		}
	}
}

// reportRates reports req/s per variant and the throughput ratios
// cachekit/nocache, souin/nocache and cachekit/souin (> 1: the first one
// answers more requests per second).
func reportRates(b *testing.B, vs []*variant, reqs []int64, busy []time.Duration) {
	rate := map[string]float64{}
	for i, v := range vs {
		rate[v.name] = float64(reqs[i]) / busy[i].Seconds()
		b.ReportMetric(rate[v.name], v.name+"-req/s")
	}
	for _, v := range vs {
		if v.peer {
			b.ReportMetric(float64(v.bad.Load()), v.name+"-bad-responses")
		}
	}
	b.ReportMetric(rate["cachekit"]/rate["nocache"], "cachekit/nocache-rps")
	b.ReportMetric(rate["souin"]/rate["nocache"], "souin/nocache-rps")
	b.ReportMetric(rate["cachekit"]/rate["souin"], "cachekit/souin-rps")
}

// BenchmarkInProcess: one hit per op, ServeHTTP into a fresh
// httptest.ResponseRecorder (the recorder and the cancellable request
// context are part of every variant's cost, the baseline's included).
func BenchmarkInProcess(b *testing.B) {
	vs, path := newVariants(b)
	r := httptest.NewRequest(http.MethodGet, "http://example.com"+path, nil)
	calls := warmInProcess(b, vs, r)
	for _, v := range vs {
		b.Run("impl="+v.name, func(b *testing.B) {
			b.ReportAllocs()
			var w *httptest.ResponseRecorder
			start := time.Now()
			n := 0
			for b.Loop() {
				w = serve(v.h, r)
				n++
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "req/s")
			if err := v.check(w.Code, w.Header(), w.Body.Len()); err != nil {
				b.Fatal(err)
			}
		})
	}
	checkOrigins(b, vs, calls)
}

// BenchmarkInProcessRatio runs the three variants in alternating blocks of
// 256 requests (one block of each per op, the order rotating every op) so
// that all see the same machine state, and reports req/s of each and the
// ratios. Its ns/op is the time of one round (3 blocks). Read allocations
// from BenchmarkInProcess. (No GC is forced between blocks: souin's hit
// path reuses 4 MiB lz4 block buffers from a sync.Pool, which a GC empties.)
func BenchmarkInProcessRatio(b *testing.B) {
	const block = 256
	vs, path := newVariants(b)
	r := httptest.NewRequest(http.MethodGet, "http://example.com"+path, nil)
	calls := warmInProcess(b, vs, r)
	reqs := make([]int64, len(vs))
	busy := make([]time.Duration, len(vs))
	round := 0
	for b.Loop() {
		for k := range vs {
			i := (round + k) % len(vs)
			v := vs[i]
			var w *httptest.ResponseRecorder
			t0 := time.Now()
			for range block {
				w = serve(v.h, r)
			}
			busy[i] += time.Since(t0)
			reqs[i] += block
			if err := v.check(w.Code, w.Header(), w.Body.Len()); err != nil {
				b.Fatal(err)
			}
		}
		round++
	}
	checkOrigins(b, vs, calls)
	reportRates(b, vs, reqs, busy)
}

// Loopback load: workers keep-alive connections per variant; each variant
// gets a slice of time per op.
const (
	workers = 16
	slice   = 300 * time.Millisecond
)

// loadClient is one variant's HTTP/1.1 client and target URL.
type loadClient struct {
	v      *variant
	url    string
	client *http.Client
}

// run sends GET requests from workers concurrent keep-alive workers until
// d has passed (n > 0: or until n requests were sent), checks every
// response, and returns the number of responses and how long they took.
func (lc *loadClient) run(n int, d time.Duration) (int64, time.Duration, error) {
	var left, done atomic.Int64
	left.Store(int64(n))
	if n <= 0 {
		left.Store(1 << 62)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Go(func() {
			for left.Add(-1) >= 0 && time.Now().Before(deadline) {
				resp, err := lc.client.Get(lc.url)
				if err != nil {
					fail(err)
					return
				}
				got, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil {
					err = lc.v.check(resp.StatusCode, resp.Header, int(got))
				}
				if err != nil && lc.v.peer {
					lc.v.bad.Add(1) // counted, reported as <peer>-bad-responses
					continue
				}
				if err != nil {
					fail(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return done.Load(), time.Since(start), firstErr
}

// BenchmarkLoopback serves each variant from its own httptest server on
// 127.0.0.1 and loads it with workers keep-alive HTTP/1.1 clients in the
// same process. Each op gives each variant a 300 ms slice in turn (the
// order rotating every op); every
// response is checked (200, full body, Cache-Status hit for the caches)
// and the caches' origins must not run after warm-up. It reports req/s of
// each variant over all its slices and the ratios. Its ns/op is the time
// of one round (3 slices).
func BenchmarkLoopback(b *testing.B) {
	vs, path := newVariants(b)
	lcs := make([]*loadClient, len(vs))
	for i, v := range vs {
		srv := httptest.NewServer(v.h) // listens on 127.0.0.1
		tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
		b.Cleanup(func() { tr.CloseIdleConnections(); srv.Close() })
		lcs[i] = &loadClient{v: v, url: srv.URL + path, client: &http.Client{Transport: tr}}
	}
	calls := make([]int64, len(vs))
	for i, lc := range lcs {
		// The first request stores the response; the warm-up requests
		// (each checked to be a hit) open the keep-alive connections.
		resp, err := lc.client.Get(lc.url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if _, _, err := lc.run(2*workers, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		calls[i] = lc.v.origin.calls.Load()
	}
	reqs := make([]int64, len(vs))
	busy := make([]time.Duration, len(vs))
	round := 0
	for b.Loop() {
		for k := range lcs {
			i := (round + k) % len(lcs)
			n, d, err := lcs[i].run(0, slice)
			if err != nil {
				b.Fatal(err)
			}
			reqs[i] += n
			busy[i] += d
		}
		round++
	}
	checkOrigins(b, vs, calls)
	reportRates(b, vs, reqs, busy)
}
