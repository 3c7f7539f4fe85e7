package cachekitprom_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/cachekit/cachekit/backend/memory"
	cachekitprom "github.com/cachekit/cachekit/extra/prometheus"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// gather scrapes reg and indexes every sample by "name{label=value,...}".
func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	out := map[string]*dto.Metric{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()+"{"+strings.Join(parts, ",")+"}"] = m
		}
	}
	return out
}

func counter(t *testing.T, got map[string]*dto.Metric, series string) float64 {
	t.Helper()
	m, ok := got[series]
	if !ok {
		t.Fatalf("series %s not scraped", series)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestCollectorScrapesMemoMiddlewareAndLockStats(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	col := cachekitprom.NewCollector(nil)
	posts, err := memo.New[string](b, &memo.Options{Namespace: "posts", L1Size: 10, Observer: col.Observer("posts")})
	if err != nil {
		t.Fatal(err)
	}
	defer posts.Close()
	pages, err := middleware.New(b, &middleware.Options{Memo: &memo.Options{Observer: col.Observer("http")}})
	if err != nil {
		t.Fatal(err)
	}
	defer pages.Close()
	locks, err := lockx.NewLocal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := col.AddCache("posts", posts); err != nil {
		t.Fatal(err)
	}
	if err := col.AddMiddleware("http", pages); err != nil {
		t.Fatal(err)
	}
	if err := col.AddMiddleware("posts", pages); !errors.Is(err, cachekitprom.ErrDuplicate) {
		t.Errorf("AddCache(duplicate) = %v, want ErrDuplicate", err)
	}
	if err := col.AddLocker("locks", locks); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatalf("Register() error = %v", err)
	}

	load := func(context.Context) (string, error) { return "v", nil }
	for range 3 { // miss + load, then two L1 hits
		if _, err := posts.Get(ctx, "1", load); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := posts.Get(ctx, "boom", func(context.Context) (string, error) { return "", errors.New("db down") }); err == nil {
		t.Fatal("Get(failing loader) error = nil")
	}
	h := pages.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("page"))
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://example.com/feed", nil))
	}
	lk, err := locks.Lock(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locks.TryLock(ctx, "x"); !errors.Is(err, lockx.ErrNotObtained) {
		t.Fatalf("TryLock(held) = %v", err)
	}
	_ = lk.Unlock(ctx)

	got := gather(t, reg)
	for series, want := range map[string]float64{
		`cachekit_hits_total{namespace=posts,tier=l1}`:        2,
		`cachekit_misses_total{namespace=posts}`:              2,
		`cachekit_loads_total{namespace=posts,outcome=ok}`:    1,
		`cachekit_loads_total{namespace=posts,outcome=error}`: 1,
		`cachekit_breaker_open{namespace=posts}`:              0,
		`cachekit_hits_total{namespace=http,tier=l1}`:         1,
		`cachekit_loads_total{namespace=http,outcome=ok}`:     1,
		`cachekit_lock_acquired_total{locker=locks}`:          1,
		`cachekit_lock_contended_total{locker=locks}`:         1,
		`cachekit_lock_failed_total{locker=locks}`:            1,
	} {
		if v := counter(t, got, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	hist := got[`cachekit_load_duration_seconds{namespace=posts,outcome=ok}`]
	if _, ok := got[`cachekit_invalidations_pending{namespace=posts}`]; ok {
		t.Error("a memo cache has middleware series")
	}
	if hist == nil || hist.Histogram.GetSampleCount() != 1 {
		t.Errorf("load_duration_seconds{posts,ok} = %v, want 1 sample", hist)
	}
	if hist := got[`cachekit_load_duration_seconds{namespace=posts,outcome=error}`]; hist == nil || hist.Histogram.GetSampleCount() != 1 {
		t.Errorf("load_duration_seconds{posts,error} = %v, want 1 sample", hist)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Errorf("CollectAndLint() = %v, %v, want no problems", problems, err)
	}
}

func TestCollectorBreakerGaugeFollowsTheBackend(t *testing.T) {
	t.Parallel()
	col := cachekitprom.NewCollector(&cachekitprom.Options{Namespace: "svc", ConstLabels: prometheus.Labels{"app": "feed"}})
	c, err := memo.New[string](failing{}, &memo.Options{BreakerThreshold: 1, BreakerCooldown: time.Hour, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := col.AddCache("feed", c); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	if _, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatalf("Get() with a failing backend error = %v, want the loaded value (fail open)", err)
	}
	got := gather(t, reg)
	if v := counter(t, got, `svc_breaker_open{app=feed,namespace=feed}`); v != 1 {
		t.Errorf("svc_breaker_open = %v, want 1 after the backend failed", v)
	}
	if v := counter(t, got, `svc_backend_errors_total{app=feed,namespace=feed}`); v < 1 {
		t.Errorf("svc_backend_errors_total = %v, want ≥ 1", v)
	}
}
