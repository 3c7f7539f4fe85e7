package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	cachekitotel "github.com/cachekit/cachekit/extra/otel"
	cachekitprom "github.com/cachekit/cachekit/extra/prometheus"
	cachekitstore "github.com/cachekit/cachekit/extra/scs"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// config is the command line.
type config struct {
	addr      string        // listen address
	redis     string        // "" = memory; a redis:// URL; comma-separated seeds = Cluster
	delay     time.Duration // cost of every database query
	users     int           // seeded users
	load      time.Duration // run the load generator this long, then exit
	workers   int           // load generator concurrency
	writeMix  float64       // fraction of load generator requests that write
	keyPrefix string        // prefix of every cache namespace (tests isolate with it)
	backendTO time.Duration // bound of every cache backend call (memo.Options.BackendTimeout)
}

// app is the service: a slow database with caches in front.
type app struct {
	cfg     config
	b       backend.Backend
	closers []func() error
	db      *db
	locks   *lockx.Locker

	posts     *memo.Cache[Post]      // GET /posts/{id}: memo with stampede protection
	chat      *memo.Cache[[]Message] // conversations: write-through under a lock
	reactions *memo.Cache[int64]     // like counters (the namespace of its Incr keys)
	pages     *middleware.Cache      // GET /feed/{user}: HTTP responses, purged by tag
	sessions  *scs.SessionManager    // login, in the same backend

	prom       *prometheus.Registry
	otel       *cachekitotel.Metrics
	otelReader *sdkmetric.ManualReader
	stats      *recorder // /debug/cache
}

// newApp builds the backend, caches, locks, sessions and metrics.
func newApp(cfg config) (a *app, err error) {
	a = &app{cfg: cfg, db: newDB(cfg.delay, cfg.users, 30), stats: newRecorder()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.openBackend(); err != nil {
		return nil, err
	}
	col := cachekitprom.NewCollector(nil)
	a.prom = prometheus.NewRegistry()
	a.prom.MustRegister(col)
	a.otelReader = sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(a.otelReader))
	a.closers = append(a.closers, func() error { return mp.Shutdown(context.Background()) })
	if a.otel, err = cachekitotel.New(&cachekitotel.Options{MeterProvider: mp}); err != nil {
		return nil, err
	}
	observe := func(name string) memo.Observer {
		p, o, d := col.Observer(name), a.otel.Observer(name), a.stats.observer()
		return memo.ObserverFunc(func(e memo.Event) { p.Observe(e); o.Observe(e); d.Observe(e) })
	}

	ns := func(s string) string { return cfg.keyPrefix + s }
	if a.posts, err = memo.New[Post](a.b, &memo.Options{Namespace: ns("posts"), TTL: 5 * time.Minute,
		StaleTTL: time.Minute, NegativeTTL: 30 * time.Second, L1Size: 10_000, Locker: a.locks, Observer: observe("posts"),
		BackendTimeout: cfg.backendTO}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.posts.Close)
	if a.chat, err = memo.New[[]Message](a.b, &memo.Options{Namespace: ns("chat"), TTL: 30 * time.Minute,
		Locker: a.locks, Observer: observe("chat"), BackendTimeout: cfg.backendTO}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.chat.Close)
	if a.reactions, err = memo.New[int64](a.b, &memo.Options{Namespace: ns("reactions"), BackendTimeout: cfg.backendTO}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.reactions.Close)
	if a.pages, err = middleware.New(a.b, &middleware.Options{Namespace: ns("http"), TagHeader: "Cache-Tag",
		Memo: &memo.Options{Locker: a.locks, Observer: observe("http"), BackendTimeout: cfg.backendTO}}); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.pages.Close)

	for name, s := range map[string]cachekitprom.CacheStats{"posts": a.posts, "chat": a.chat} {
		if err := errors.Join(col.AddCache(name, s), a.otel.AddCache(name, s)); err != nil {
			return nil, err
		}
	}
	if err := errors.Join(col.AddMiddleware("http", a.pages), a.otel.AddMiddleware("http", a.pages)); err != nil {
		return nil, err
	}
	if err := errors.Join(col.AddLocker("locks", a.locks), a.otel.AddLocker("locks", a.locks)); err != nil {
		return nil, err
	}
	a.stats.watch(map[string]func() memo.Stats{"posts": a.posts.Stats, "chat": a.chat.Stats,
		"http": a.pages.Stats}, a.locks)

	store, err := cachekitstore.New(a.b, &cachekitstore.Options{Prefix: ns("session:")})
	if err != nil {
		return nil, err
	}
	a.sessions = scs.New()
	a.sessions.Store = store
	a.sessions.Lifetime = 24 * time.Hour
	a.sessions.Cookie.Name = "feed_session"
	return a, nil
}

// openBackend picks the embedded memory backend, or Redis from cfg.redis
// (one URL: a standalone server; several, comma-separated: Cluster seeds),
// and the matching Locker.
func (a *app) openBackend() error {
	if a.cfg.redis == "" {
		b, err := memory.New(nil)
		if err != nil {
			return err
		}
		a.b = b
		a.closers = append(a.closers, b.Close)
		a.locks, err = lockx.NewLocal(nil)
		return err
	}
	var client redis.UniversalClient
	if seeds := strings.Split(a.cfg.redis, ","); len(seeds) > 1 {
		var addrs []string
		for _, s := range seeds {
			o, err := redis.ParseURL(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("-redis: %w", err)
			}
			addrs = append(addrs, o.Addr)
		}
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	} else {
		o, err := redis.ParseURL(a.cfg.redis)
		if err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
		o.ContextTimeoutEnabled = true // a context deadline bounds every call
		client = redis.NewClient(o)
	}
	a.closers = append(a.closers, client.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("-redis %s: %w", a.cfg.redis, err)
	}
	b, err := goredis.New(client, nil)
	if err != nil {
		return err
	}
	a.b = b
	a.closers = append(a.closers, b.Close) // its subscriptions, before the client
	a.locks, err = lockx.New(client, nil)
	return err
}

// Close stops the caches and closes the Redis client, in reverse order.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
