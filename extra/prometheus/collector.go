package cachekitprom

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// CacheStats is what [Collector.AddCache] reads: *memo.Cache[V]
// satisfies it.
type CacheStats interface {
	Stats() memo.Stats
}

// MiddlewareStats is what [Collector.AddMiddleware] reads:
// *middleware.Cache satisfies it.
type MiddlewareStats interface {
	Stats() memo.Stats
	InvalidationStats() middleware.InvalidationStats
}

// LockStats is what [Collector.AddLocker] reads: *lockx.Locker satisfies
// it.
type LockStats interface {
	Stats() lockx.Stats
}

// Options configures a [Collector]. A nil *Options means all defaults.
type Options struct {
	// Namespace is the metric name prefix. Default "cachekit".
	Namespace string
	// Buckets are the load-duration histogram buckets in seconds. Default
	// prometheus.DefBuckets (5 ms to 10 s).
	Buckets []float64
	// ConstLabels are added to every metric (for example the service).
	ConstLabels prometheus.Labels
}

// ErrDuplicate reports a second source registered under one name.
var ErrDuplicate = errors.New("cachekitprom: name already registered")

// Collector is a prometheus.Collector for cachekit caches and lockers. It
// reads their Stats at scrape time. Register it once with a
// prometheus.Registerer; add sources before or after. It is safe for
// concurrent use.
type Collector struct {
	mu     sync.RWMutex
	caches []named[statsFunc]
	locks  []named[LockStats]

	cacheDescs  []cacheDesc
	uniqueDescs []*prometheus.Desc // cacheDescs' distinct Descs, for Describe
	breaker     *prometheus.Desc
	mwDescs     []mwDesc
	lockDescs   []lockDesc
	loadTime    *prometheus.HistogramVec
}

type named[T any] struct {
	name string
	src  T
}

// register appends v to list under name, or returns ErrDuplicate if a
// kind of that name is already there. The caller holds the lock.
func register[T any](list *[]named[T], kind, name string, v T) error {
	for _, n := range *list {
		if n.name == name {
			return fmt.Errorf("%w: %s %q", ErrDuplicate, kind, name)
		}
	}
	*list = append(*list, named[T]{name, v})
	return nil
}

// statsFunc reads a cache's engine counters and, for a middleware cache,
// its own (nil otherwise).
type statsFunc func() (memo.Stats, *middleware.InvalidationStats)

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector with no sources; opts may be nil.
func NewCollector(opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "cachekit"
	}
	if o.Buckets == nil {
		o.Buckets = prometheus.DefBuckets
	}
	c := &Collector{}
	byName := map[string]*prometheus.Desc{} // series of one name share a Desc
	for _, m := range cacheMetrics {
		d, ok := byName[m.name]
		if !ok {
			labels := []string{"namespace"}
			if m.label != "" {
				labels = append(labels, m.label)
			}
			d = prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", m.name), m.help, labels, o.ConstLabels)
			byName[m.name] = d
			c.uniqueDescs = append(c.uniqueDescs, d)
		}
		c.cacheDescs = append(c.cacheDescs, cacheDesc{cacheMetric: m, desc: d})
	}
	c.breaker = prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", "breaker_open"),
		"1 while the cache's circuit breaker is open (backend skipped), else 0.", []string{"namespace"}, o.ConstLabels)
	for _, m := range middlewareMetrics {
		c.mwDescs = append(c.mwDescs, mwDesc{middlewareMetric: m,
			desc: prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", m.name), m.help, []string{"namespace"}, o.ConstLabels)})
	}
	for _, m := range lockMetrics {
		c.lockDescs = append(c.lockDescs, lockDesc{lockMetric: m,
			desc: prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", m.name), m.help, []string{"locker"}, o.ConstLabels)})
	}
	c.loadTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: o.Namespace, Name: "load_duration_seconds",
		Help:        "Loader call duration, from the memo.Observer of Collector.Observer.",
		Buckets:     o.Buckets,
		ConstLabels: o.ConstLabels,
	}, []string{"namespace", "outcome"})
	return c
}

// AddCache exports the Stats of a memo.Cache under the namespace label
// name. It returns [ErrDuplicate] if name is taken.
func (c *Collector) AddCache(name string, s CacheStats) error {
	return c.addCache(name, func() (memo.Stats, *middleware.InvalidationStats) { return s.Stats(), nil })
}

// AddMiddleware exports the Stats of a middleware.Cache under the
// namespace label name: its engine counters, as for [Collector.AddCache],
// and its invalidation counters. It returns [ErrDuplicate] if name is
// taken.
func (c *Collector) AddMiddleware(name string, s MiddlewareStats) error {
	return c.addCache(name, func() (memo.Stats, *middleware.InvalidationStats) {
		st := s.InvalidationStats()
		return s.Stats(), &st
	})
}

func (c *Collector) addCache(name string, f statsFunc) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return register(&c.caches, "cache", name, f)
}

// AddLocker exports the Stats of a lockx.Locker under the locker label
// name. It returns [ErrDuplicate] if name is taken.
func (c *Collector) AddLocker(name string, l LockStats) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return register(&c.locks, "locker", name, l)
}

// Observer returns a memo.Observer that records load durations in
// cachekit_load_duration_seconds under the namespace label name. Set it as
// memo.Options.Observer (for a middleware.Cache, in its Options.Memo); to
// feed several observers, call each from one memo.ObserverFunc. Observe costs one
// histogram update per load and nothing for other events.
func (c *Collector) Observer(name string) memo.Observer {
	return &observer{ok: c.loadTime.WithLabelValues(name, "ok"), failed: c.loadTime.WithLabelValues(name, "error")}
}

type observer struct{ ok, failed prometheus.Observer }

func (o *observer) Observe(e memo.Event) {
	switch e.Kind {
	case memo.EventLoad:
		o.ok.Observe(e.Duration.Seconds())
	case memo.EventLoadError:
		o.failed.Observe(e.Duration.Seconds())
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.uniqueDescs {
		ch <- d
	}
	ch <- c.breaker
	for _, d := range c.mwDescs {
		ch <- d.desc
	}
	for _, d := range c.lockDescs {
		ch <- d.desc
	}
	c.loadTime.Describe(ch)
}

// Collect implements prometheus.Collector: it reads every source's Stats.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	caches, locks := c.caches, c.locks
	c.mu.RUnlock()
	for _, n := range caches {
		s, mw := n.src()
		for _, d := range c.cacheDescs {
			labels := []string{n.name}
			if d.label != "" {
				labels = append(labels, d.value)
			}
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.get(s)), labels...)
		}
		open := 0.0
		if s.BreakerOpen {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, open, n.name)
		if mw != nil {
			for _, d := range c.mwDescs {
				ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.get(*mw), n.name)
			}
		}
	}
	for _, n := range locks {
		s := n.src.Stats()
		for _, d := range c.lockDescs {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, d.get(s), n.name)
		}
	}
	c.loadTime.Collect(ch)
}
