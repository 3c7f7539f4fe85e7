package middleware

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
)

var benchBody = bytes.Repeat([]byte("cachekit "), 114) // ~1 KiB

// benchOrigin writes the same bytes from memory, no cache.
func benchOrigin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = []string{"max-age=3600"}
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["Etag"] = []string{`"v1"`}
		_, _ = w.Write(benchBody)
	})
}

func benchCache(b *testing.B) *Cache {
	mb, err := memory.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(mb, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); mb.Close() })
	return c
}

// discard is a minimal ResponseWriter for in-process loops.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }

func serveLoop(h http.Handler, r *http.Request, d *discard) {
	clear(d.h)
	h.ServeHTTP(d, r)
}

// BenchmarkHit: in-process ServeHTTP of a cache hit vs the handler alone.
func BenchmarkHit(b *testing.B) {
	c := benchCache(b)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"direct", benchOrigin()}, {"cached", c.Handler(benchOrigin())}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest(http.MethodGet, "http://example.com/bench?a=1", nil)
				d := &discard{h: http.Header{}}
				for pb.Next() {
					serveLoop(bc.h, r, d)
				}
			})
		})
	}
}

// BenchmarkHitRatio measures both in one run and reports cached/direct
// throughput (in process, and over loopback HTTP).
func BenchmarkHitRatio(b *testing.B) {
	c := benchCache(b)
	direct, cached := benchOrigin(), c.Handler(benchOrigin())
	b.Run("inprocess", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, "http://example.com/bench", nil)
		d := &discard{h: http.Header{}}
		serveLoop(cached, r, d)
		rate := func(h http.Handler) float64 {
			start := time.Now()
			n := 0
			for time.Since(start) < 300*time.Millisecond {
				for range 1000 {
					serveLoop(h, r, d)
				}
				n += 1000
			}
			return float64(n) / time.Since(start).Seconds()
		}
		for b.Loop() {
			rd, rc := rate(direct), rate(cached)
			b.ReportMetric(rd, "direct-req/s")
			b.ReportMetric(rc, "cached-req/s")
			b.ReportMetric(rc/rd, "ratio")
		}
	})
	b.Run("loopback", func(b *testing.B) {
		sd, sc := httptest.NewServer(direct), httptest.NewServer(cached)
		defer sd.Close()
		defer sc.Close()
		for b.Loop() {
			rd, rc := load(b, sd.URL+"/bench", time.Second), load(b, sc.URL+"/bench", time.Second)
			b.ReportMetric(rd, "direct-req/s")
			b.ReportMetric(rc, "cached-req/s")
			b.ReportMetric(rc/rd, "ratio")
		}
	})
}

// load runs a bounded HTTP/1.1 keep-alive load against url (127.0.0.1
// only) for d and returns requests per second.
func load(b *testing.B, url string, d time.Duration) float64 {
	const workers = 32
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// BenchmarkLoopbackHitInterleaved measures cache hits per second over a
// real loopback HTTP server (keep-alive HTTP/1.1, 32 client workers with
// connections kept across slices) against the same handler served bare,
// in the same run. Each iteration runs 12 rounds; a round is four 100 ms
// slices in ABBA order (bare, cached, cached, bare), so that load from
// other processes falls on both alike. It reports the summed rates and
// "ratio", the median over rounds of cached/bare (1 means the cache costs
// nothing over a handler that writes ~1 KiB from memory). Every cached
// response must be a hit: the origin behind the cache runs once.
//
//	go test -run '^$' -bench LoopbackHitInterleaved -benchtime 1x -count 6 ./middleware
func BenchmarkLoopbackHitInterleaved(b *testing.B) {
	c := benchCache(b)
	var calls atomic.Int64
	origin := benchOrigin()
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		origin.ServeHTTP(w, r)
	})
	sd, sc := httptest.NewServer(benchOrigin()), httptest.NewServer(c.Handler(counted))
	defer sd.Close()
	defer sc.Close()
	direct, cached := newLoopClient(sd.URL+"/bench"), newLoopClient(sc.URL+"/bench")
	defer direct.close()
	defer cached.close()
	for _, lc := range []*loopClient{direct, cached} { // warm: connections, the stored entry
		if _, err := lc.run(20 * time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		var sumD, sumC float64
		var ratios []float64
		for range 12 {
			var rd, rc float64
			for _, lc := range []*loopClient{direct, cached, cached, direct} {
				r, err := lc.run(100 * time.Millisecond)
				if err != nil {
					b.Fatal(err)
				}
				if lc == direct {
					rd += r
				} else {
					rc += r
				}
			}
			sumD, sumC = sumD+rd, sumC+rc
			ratios = append(ratios, rc/rd)
		}
		slices.Sort(ratios)
		b.ReportMetric(sumD/24, "direct-req/s")
		b.ReportMetric(sumC/24, "cached-req/s")
		b.ReportMetric((ratios[5]+ratios[6])/2, "ratio")
	}
	if n := calls.Load(); n != 1 {
		b.Errorf("origin calls behind the cache = %d, want 1 (every measured request a hit)", n)
	}
}

// loopClient is a keep-alive HTTP/1.1 load of 32 workers against one URL
// on 127.0.0.1, its connections kept between runs.
type loopClient struct {
	url    string
	tr     *http.Transport
	client *http.Client
}

func newLoopClient(url string) *loopClient {
	const workers = 32
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	return &loopClient{url: url, tr: tr, client: &http.Client{Transport: tr}}
}

func (lc *loopClient) close() { lc.tr.CloseIdleConnections() }

// run loads the URL for d and returns requests per second; a response
// other than 200 is an error.
func (lc *loopClient) run(d time.Duration) (float64, error) {
	var n atomic.Int64
	errs := make(chan error, 32)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				resp, err := lc.client.Get(lc.url)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("GET %s: %s", lc.url, resp.Status)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	return float64(n.Load()) / time.Since(start).Seconds(), <-errs
}
