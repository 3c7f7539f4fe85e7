package cachekitprom_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachekit/cachekit/backend/memory"
	cachekitprom "github.com/cachekit/cachekit/extra/prometheus"
	"github.com/cachekit/cachekit/memo"
)

func ExampleCollector() {
	col := cachekitprom.NewCollector(nil)
	b, _ := memory.New(nil)
	posts, _ := memo.New[string](b, &memo.Options{Namespace: "posts", Observer: col.Observer("posts")})
	defer posts.Close()
	_ = col.AddCache("posts", posts)
	reg := prometheus.NewRegistry()
	reg.MustRegister(col) // then serve promhttp.HandlerFor(reg, promhttp.HandlerOpts{})

	load := func(context.Context) (string, error) { return "hello", nil }
	_, _ = posts.Get(context.Background(), "1", load)
	_, _ = posts.Get(context.Background(), "1", load)

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		switch mf.GetName() {
		case "cachekit_misses_total", "cachekit_hits_total":
			for _, m := range mf.GetMetric() {
				fmt.Println(mf.GetName(), m.GetLabel()[len(m.GetLabel())-1].GetValue(), m.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// cachekit_hits_total backend 1
	// cachekit_hits_total l1 0
	// cachekit_misses_total posts 1
}
