package cachekitotel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cachekit/cachekit/backend/memory"
	cachekitotel "github.com/cachekit/cachekit/extra/otel"
	"github.com/cachekit/cachekit/memo"
)

func ExampleNew() {
	reader := sdkmetric.NewManualReader() // in production: a periodic OTLP reader
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m, _ := cachekitotel.New(&cachekitotel.Options{MeterProvider: mp})
	defer m.Close()

	b, _ := memory.New(nil)
	posts, _ := memo.New[string](b, &memo.Options{Namespace: "posts", Observer: m.Observer("posts")})
	defer posts.Close()
	_ = m.AddCache("posts", posts)
	_, _ = posts.Get(context.Background(), "1", func(context.Context) (string, error) { return "hello", nil })

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, mt := range rm.ScopeMetrics[0].Metrics {
		if mt.Name == "cachekit.cache.misses" {
			fmt.Println(mt.Name, mt.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
		}
	}
	// Output: cachekit.cache.misses 1
}
