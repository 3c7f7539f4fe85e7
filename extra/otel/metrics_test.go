package cachekitotel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cachekit/cachekit/backend/memory"
	cachekitotel "github.com/cachekit/cachekit/extra/otel"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// collect reads every data point from r, indexed by instrument name and
// its attributes' encoding.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatalf("Collect() error = %v", err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != cachekitotel.ScopeName {
			t.Errorf("scope = %q, want %q", sm.Scope.Name, cachekitotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

func sumAt(t *testing.T, data map[string]metricdata.Aggregation, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	want := attribute.NewSet(attrs...)
	switch d := data[name].(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				return p.Value
			}
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				return p.Value
			}
		}
	default:
		t.Fatalf("%s: data %T, want an int64 sum or gauge", name, data[name])
	}
	t.Fatalf("%s: no data point with %v", name, want.Encoded(attribute.DefaultEncoder()))
	return 0
}

func TestMetricsCollectedWithTheSDKManualReader(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	svc := attribute.String("service.name", "feed")
	m, err := cachekitotel.New(&cachekitotel.Options{MeterProvider: mp, Attributes: []attribute.KeyValue{svc}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	posts, err := memo.New[string](b, &memo.Options{Namespace: "posts", L1Size: 10, Observer: m.Observer("posts")})
	if err != nil {
		t.Fatal(err)
	}
	defer posts.Close()
	pages, err := middleware.New(b, &middleware.Options{Memo: &memo.Options{Observer: m.Observer("http")}})
	if err != nil {
		t.Fatal(err)
	}
	defer pages.Close()
	locks, err := lockx.NewLocal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddCache("posts", posts); err != nil {
		t.Fatal(err)
	}
	if err := m.AddMiddleware("http", pages); err != nil {
		t.Fatal(err)
	}
	if err := m.AddCache("http", posts); !errors.Is(err, cachekitotel.ErrDuplicate) {
		t.Errorf("AddCache(duplicate) = %v, want ErrDuplicate", err)
	}
	if err := m.AddLocker("locks", locks); err != nil {
		t.Fatal(err)
	}

	load := func(context.Context) (string, error) { return "v", nil }
	for range 3 {
		if _, err := posts.Get(ctx, "1", load); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := posts.Get(ctx, "bad", func(context.Context) (string, error) { return "", errors.New("db down") }); err == nil {
		t.Fatal("Get(failing loader) error = nil")
	}
	h := pages.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
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
	_, _ = locks.TryLock(ctx, "x")
	_ = lk.Unlock(ctx)

	data := collect(t, reader)
	posts1 := cachekitotel.NamespaceKey.String("posts")
	http1 := cachekitotel.NamespaceKey.String("http")
	for _, c := range []struct {
		name  string
		attrs []attribute.KeyValue
		want  int64
	}{
		{"cachekit.cache.hits", []attribute.KeyValue{posts1, svc, cachekitotel.TierKey.String("l1")}, 2},
		{"cachekit.cache.misses", []attribute.KeyValue{posts1, svc}, 2},
		{"cachekit.cache.loads", []attribute.KeyValue{posts1, svc, cachekitotel.OutcomeKey.String("ok")}, 1},
		{"cachekit.cache.loads", []attribute.KeyValue{posts1, svc, cachekitotel.OutcomeKey.String("error")}, 1},
		{"cachekit.cache.hits", []attribute.KeyValue{http1, svc, cachekitotel.TierKey.String("l1")}, 1},
		{"cachekit.cache.breaker.open", []attribute.KeyValue{posts1, svc}, 0},
		{"cachekit.http.invalidation.failures", []attribute.KeyValue{http1, svc}, 0},
		{"cachekit.lock.acquired", []attribute.KeyValue{cachekitotel.LockerKey.String("locks"), svc}, 1},
		{"cachekit.lock.contended", []attribute.KeyValue{cachekitotel.LockerKey.String("locks"), svc}, 1},
	} {
		if got := sumAt(t, data, c.name, c.attrs...); got != c.want {
			t.Errorf("%s%v = %d, want %d", c.name, c.attrs, got, c.want)
		}
	}
	hist, ok := data["cachekit.cache.load.duration"].(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("load.duration data = %T, want Histogram[float64]", data["cachekit.cache.load.duration"])
	}
	var okCount, errCount uint64
	for _, p := range hist.DataPoints {
		if v, _ := p.Attributes.Value(cachekitotel.NamespaceKey); v.AsString() != "posts" {
			continue
		}
		switch v, _ := p.Attributes.Value(cachekitotel.OutcomeKey); v.AsString() {
		case "ok":
			okCount = p.Count
		case "error":
			errCount = p.Count
		}
	}
	if okCount != 1 || errCount != 1 {
		t.Errorf("load.duration{posts} counts ok=%d error=%d, want 1 and 1", okCount, errCount)
	}

	if err := m.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if _, ok := collect(t, reader)["cachekit.cache.hits"]; ok {
		t.Error("cachekit.cache.hits still observed after Close")
	}
}
