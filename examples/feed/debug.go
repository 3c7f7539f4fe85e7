package main

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// maxSamples is how many one-second samples /debug/cache keeps (2 min).
const maxSamples = 120

// recorder keeps what /debug/cache shows: the caches' counters, and a
// time series of hit ratio and load latency sampled every second.
type recorder struct {
	mu       sync.Mutex
	names    []string
	caches   map[string]func() memo.Stats
	locks    *lockx.Locker
	loads    []time.Duration // load durations since the last sample
	samples  []sample
	lastHits uint64
	lastMiss uint64
}

// sample is one point of the time series.
type sample struct {
	At       time.Time `json:"at"`
	HitRatio float64   `json:"hit_ratio"` // over the interval; -1 without gets
	Loads    int       `json:"loads"`
	LoadP50  float64   `json:"load_p50_ms"`
	LoadP99  float64   `json:"load_p99_ms"`
}

func newRecorder() *recorder { return &recorder{caches: map[string]func() memo.Stats{}} }

// watch sets the sources.
func (r *recorder) watch(caches map[string]func() memo.Stats, locks *lockx.Locker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, s := range caches {
		r.names = append(r.names, name)
		r.caches[name] = s
	}
	slices.Sort(r.names)
	r.locks = locks
}

// observer records load durations for the latency series.
func (r *recorder) observer() memo.Observer {
	return memo.ObserverFunc(func(e memo.Event) {
		if e.Kind != memo.EventLoad && e.Kind != memo.EventLoadError {
			return
		}
		r.mu.Lock()
		if len(r.loads) < 100_000 { // bounded whatever the load
			r.loads = append(r.loads, e.Duration)
		}
		r.mu.Unlock()
	})
}

// totals sums hits and misses over every cache.
func (r *recorder) totals() (hits, misses uint64) {
	for _, name := range r.names {
		s := r.caches[name]()
		hits += s.HitsL1 + s.HitsBackend
		misses += s.Misses
	}
	return hits, misses
}

// tick appends one sample.
func (r *recorder) tick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	hits, misses := r.totals()
	dh, dm := hits-r.lastHits, misses-r.lastMiss
	r.lastHits, r.lastMiss = hits, misses
	s := sample{At: now, HitRatio: -1, Loads: len(r.loads)}
	if dh+dm > 0 {
		s.HitRatio = float64(dh) / float64(dh+dm)
	}
	if len(r.loads) > 0 {
		slices.Sort(r.loads)
		s.LoadP50 = ms(percentile(r.loads, 0.50))
		s.LoadP99 = ms(percentile(r.loads, 0.99))
	}
	r.loads = r.loads[:0]
	r.samples = append(r.samples, s)
	if len(r.samples) > maxSamples {
		r.samples = slices.Delete(r.samples, 0, len(r.samples)-maxSamples)
	}
}

// run samples every second until ctx ends.
func (r *recorder) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.tick(now)
		}
	}
}

// snapshot is /debug/cache as JSON.
type snapshot struct {
	Caches    map[string]memo.Stats `json:"caches"`
	Locks     lockx.Stats           `json:"locks"`
	HitRatio  float64               `json:"hit_ratio"` // since start; -1 without gets
	DBQueries int64                 `json:"db_queries"`
	Series    []sample              `json:"series"`
}

func (a *app) snapshot() snapshot {
	r := a.stats
	r.mu.Lock()
	defer r.mu.Unlock()
	s := snapshot{Caches: map[string]memo.Stats{}, HitRatio: -1, DBQueries: a.db.queries.Load(), Series: slices.Clone(r.samples)}
	for _, name := range r.names {
		s.Caches[name] = r.caches[name]()
	}
	if r.locks != nil {
		s.Locks = r.locks.Stats()
	}
	if h, m := r.totals(); h+m > 0 {
		s.HitRatio = float64(h) / float64(h+m)
	}
	return s
}

// debugCache serves the stats as JSON, or as a small page with charts
// when asked for HTML (a browser, or ?html).
func (a *app) debugCache(w http.ResponseWriter, r *http.Request) {
	s := a.snapshot()
	if _, html := r.URL.Query()["html"]; !html && !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeJSON(w, http.StatusOK, s)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, pageData{S: s,
		HitChart:  chart(s.Series, func(x sample) float64 { return x.HitRatio }, 1, "hit ratio"),
		LoadChart: chart(s.Series, func(x sample) float64 { return x.LoadP99 }, 0, "load p99 (ms)"),
	}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// debugOTel collects the OpenTelemetry instruments (extra/otel) with the
// SDK's manual reader and lists them; a real service would export them
// with an OTLP reader instead.
func (a *app) debugOTel(w http.ResponseWriter, r *http.Request) {
	var rm metricdata.ResourceMetrics
	if err := a.otelReader.Collect(r.Context(), &rm); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out := map[string]any{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type pageData struct {
	S                   snapshot
	HitChart, LoadChart template.HTML
}

// chart draws one series as an inline SVG polyline (no external assets).
// top is the y-axis maximum, 0 for the series' own maximum; negative
// values (no data) are skipped.
func chart(series []sample, y func(sample) float64, top float64, label string) template.HTML {
	const w, h = 600.0, 120.0
	if top == 0 {
		for _, s := range series {
			top = max(top, y(s))
		}
		if top == 0 {
			top = 1
		}
	}
	var pts []string
	for i, s := range series {
		v := y(s)
		if v < 0 {
			continue
		}
		x := w * float64(i) / float64(max(len(series)-1, 1))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, h-h*v/top))
	}
	return template.HTML(fmt.Sprintf(`<svg width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`+
		`<rect width="100%%" height="100%%" fill="#f6f8fa"/>`+
		`<polyline fill="none" stroke="#0969da" stroke-width="2" points="%s"/>`+
		`<text x="4" y="14" font-size="12">%s (max %.3g), last %d s</text></svg>`,
		w, h, w, h, template.HTMLEscapeString(label), strings.Join(pts, " "), template.HTMLEscapeString(label), top, len(series)))
}

var page = template.Must(template.New("debug").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>cachekit /debug/cache</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}th:first-child,td:first-child{text-align:left}</style>
</head><body>
<h1>cachekit feed: cache stats</h1>
<p>overall hit ratio {{printf "%.3f" .S.HitRatio}} · database queries {{.S.DBQueries}} · this page refreshes every 2 s · <a href="/debug/cache">JSON</a> · <a href="/metrics">/metrics</a></p>
<p>{{.HitChart}}</p><p>{{.LoadChart}}</p>
<table><tr><th>namespace</th><th>hits L1</th><th>hits backend</th><th>misses</th><th>loads</th><th>load errors</th><th>coalesced</th><th>stale served</th><th>lock waits</th><th>backend errors</th><th>breaker</th></tr>
{{range $name, $s := .S.Caches}}<tr><td>{{$name}}</td><td>{{$s.HitsL1}}</td><td>{{$s.HitsBackend}}</td><td>{{$s.Misses}}</td><td>{{$s.Loads}}</td><td>{{$s.LoadErrors}}</td><td>{{$s.Coalesced}}</td><td>{{$s.StaleServed}}</td><td>{{$s.LockWaits}}</td><td>{{$s.BackendErrors}}</td><td>{{if $s.BreakerOpen}}OPEN{{else}}closed{{end}}</td></tr>
{{end}}</table>
<p>locks: acquired {{.S.Locks.Acquired}}, contended {{.S.Locks.Contended}}, waited {{.S.Locks.Waits}} ({{.S.Locks.WaitTime}}), failed {{.S.Locks.Failed}}, lost {{.S.Locks.Lost}}</p>
</body></html>
`))

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
