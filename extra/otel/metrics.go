package cachekitotel

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// ScopeName is the instrumentation scope (meter name) of the instruments.
const ScopeName = "github.com/cachekit/cachekit/extra/otel"

// Attribute keys.
const (
	NamespaceKey = attribute.Key("cachekit.namespace")
	TierKey      = attribute.Key("cachekit.tier")
	OutcomeKey   = attribute.Key("cachekit.outcome")
	TriggerKey   = attribute.Key("cachekit.trigger")
	LockerKey    = attribute.Key("cachekit.locker")
)

// CacheStats is what [Metrics.AddCache] reads: *memo.Cache[V] satisfies
// it.
type CacheStats interface {
	Stats() memo.Stats
}

// MiddlewareStats is what [Metrics.AddMiddleware] reads:
// *middleware.Cache satisfies it.
type MiddlewareStats interface {
	Stats() memo.Stats
	InvalidationStats() middleware.InvalidationStats
}

// LockStats is what [Metrics.AddLocker] reads: *lockx.Locker satisfies it.
type LockStats interface {
	Stats() lockx.Stats
}

// Options configures [New]. A nil *Options means all defaults.
type Options struct {
	// MeterProvider creates the meter. Default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Attributes are added to every observation (for example the service).
	Attributes []attribute.KeyValue
	// Buckets are the explicit bucket boundaries of the load-duration
	// histogram, in seconds. Default: the SDK's default boundaries.
	Buckets []float64
}

// ErrDuplicate reports a second source registered under one name.
var ErrDuplicate = errors.New("cachekitotel: name already registered")

// Metrics reports registered caches and lockers to an OpenTelemetry
// meter. It is safe for concurrent use; [Metrics.Close] unregisters it.
type Metrics struct {
	attrs []attribute.KeyValue

	mu     sync.RWMutex
	caches []named[statsFunc]
	locks  []named[LockStats]

	cacheInst []cacheInstrument
	breaker   metric.Int64ObservableGauge
	mwInst    []mwInstrument
	lockInst  []lockInstrument
	loadTime  metric.Float64Histogram
	reg       metric.Registration
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

// New creates the instruments and registers the callback that observes
// every source added later; opts may be nil.
func New(opts *Options) (*Metrics, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	meter := o.MeterProvider.Meter(ScopeName)
	m := &Metrics{attrs: o.Attributes}
	var observables []metric.Observable
	byName := map[string]metric.Int64ObservableCounter{}
	for _, cm := range cacheMetrics {
		inst, ok := byName[cm.name]
		if !ok {
			var err error
			inst, err = meter.Int64ObservableCounter(cm.name, metric.WithDescription(cm.help), metric.WithUnit(cm.unit))
			if err != nil {
				return nil, err
			}
			byName[cm.name] = inst
			observables = append(observables, inst)
		}
		m.cacheInst = append(m.cacheInst, cacheInstrument{cacheMetric: cm, inst: inst})
	}
	var err error
	m.breaker, err = meter.Int64ObservableGauge("cachekit.cache.breaker.open",
		metric.WithDescription("1 while the cache's circuit breaker is open (backend skipped), else 0."), metric.WithUnit("{1}"))
	if err != nil {
		return nil, err
	}
	observables = append(observables, m.breaker)
	for _, mm := range middlewareMetrics {
		mi := mwInstrument{middlewareMetric: mm}
		if mm.gauge {
			mi.gauge, err = meter.Int64ObservableUpDownCounter(mm.name, metric.WithDescription(mm.help), metric.WithUnit(mm.unit))
			observables = append(observables, mi.gauge)
		} else {
			mi.counter, err = meter.Int64ObservableCounter(mm.name, metric.WithDescription(mm.help), metric.WithUnit(mm.unit))
			observables = append(observables, mi.counter)
		}
		if err != nil {
			return nil, err
		}
		m.mwInst = append(m.mwInst, mi)
	}
	for _, lm := range lockMetrics {
		li := lockInstrument{lockMetric: lm}
		if lm.seconds {
			li.float, err = meter.Float64ObservableCounter(lm.name, metric.WithDescription(lm.help), metric.WithUnit("s"))
			observables = append(observables, li.float)
		} else {
			li.int, err = meter.Int64ObservableCounter(lm.name, metric.WithDescription(lm.help), metric.WithUnit(lm.unit))
			observables = append(observables, li.int)
		}
		if err != nil {
			return nil, err
		}
		m.lockInst = append(m.lockInst, li)
	}
	hopts := []metric.Float64HistogramOption{metric.WithDescription("Loader call duration."), metric.WithUnit("s")}
	if o.Buckets != nil {
		hopts = append(hopts, metric.WithExplicitBucketBoundaries(o.Buckets...))
	}
	if m.loadTime, err = meter.Float64Histogram("cachekit.cache.load.duration", hopts...); err != nil {
		return nil, err
	}
	if m.reg, err = meter.RegisterCallback(m.observe, observables...); err != nil {
		return nil, err
	}
	return m, nil
}

// Close unregisters the callback; instruments stop reporting.
func (m *Metrics) Close() error { return m.reg.Unregister() }

// AddCache reports the Stats of a memo.Cache under
// cachekit.namespace=name. It returns [ErrDuplicate] if name is taken.
func (m *Metrics) AddCache(name string, s CacheStats) error {
	return m.addCache(name, func() (memo.Stats, *middleware.InvalidationStats) { return s.Stats(), nil })
}

// AddMiddleware reports the Stats of a middleware.Cache under
// cachekit.namespace=name: its engine counters, as for [Metrics.AddCache],
// and its invalidation counters. It returns [ErrDuplicate] if name is
// taken.
func (m *Metrics) AddMiddleware(name string, s MiddlewareStats) error {
	return m.addCache(name, func() (memo.Stats, *middleware.InvalidationStats) {
		st := s.InvalidationStats()
		return s.Stats(), &st
	})
}

func (m *Metrics) addCache(name string, f statsFunc) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return register(&m.caches, "cache", name, f)
}

// AddLocker reports the Stats of a lockx.Locker under cachekit.locker=name.
// It returns [ErrDuplicate] if name is taken.
func (m *Metrics) AddLocker(name string, l LockStats) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return register(&m.locks, "locker", name, l)
}

// Observer returns a memo.Observer that records load durations in
// cachekit.cache.load.duration with cachekit.namespace=name. Set it as
// memo.Options.Observer (for a middleware.Cache, in its Options.Memo); to
// feed several observers, call each from one memo.ObserverFunc.
func (m *Metrics) Observer(name string) memo.Observer {
	base := append([]attribute.KeyValue{NamespaceKey.String(name)}, m.attrs...)
	set := func(outcome string) metric.RecordOption {
		return metric.WithAttributeSet(attribute.NewSet(append(base[:len(base):len(base)], OutcomeKey.String(outcome))...))
	}
	return &observer{h: m.loadTime, ok: set("ok"), failed: set("error")}
}

type observer struct {
	h          metric.Float64Histogram
	ok, failed metric.RecordOption
}

func (o *observer) Observe(e memo.Event) {
	switch e.Kind {
	case memo.EventLoad:
		o.h.Record(context.Background(), e.Duration.Seconds(), o.ok)
	case memo.EventLoadError:
		o.h.Record(context.Background(), e.Duration.Seconds(), o.failed)
	}
}

func (m *Metrics) observe(_ context.Context, obs metric.Observer) error {
	m.mu.RLock()
	caches, locks := m.caches, m.locks
	m.mu.RUnlock()
	for _, n := range caches {
		s, mw := n.src()
		base := append([]attribute.KeyValue{NamespaceKey.String(n.name)}, m.attrs...)
		for _, ci := range m.cacheInst {
			kv := base
			if ci.key != "" {
				kv = append(kv[:len(kv):len(kv)], ci.key.String(ci.value))
			}
			obs.ObserveInt64(ci.inst, int64(ci.get(s)), metric.WithAttributes(kv...))
		}
		open := int64(0)
		if s.BreakerOpen {
			open = 1
		}
		obs.ObserveInt64(m.breaker, open, metric.WithAttributes(base...))
		if mw != nil {
			for _, mi := range m.mwInst {
				if mi.gauge != nil {
					obs.ObserveInt64(mi.gauge, mi.get(*mw), metric.WithAttributes(base...))
				} else {
					obs.ObserveInt64(mi.counter, mi.get(*mw), metric.WithAttributes(base...))
				}
			}
		}
	}
	for _, n := range locks {
		s := n.src.Stats()
		attrs := metric.WithAttributes(append([]attribute.KeyValue{LockerKey.String(n.name)}, m.attrs...)...)
		for _, li := range m.lockInst {
			if li.seconds {
				obs.ObserveFloat64(li.float, li.get(s), attrs)
			} else {
				obs.ObserveInt64(li.int, int64(li.get(s)), attrs)
			}
		}
	}
	return nil
}
