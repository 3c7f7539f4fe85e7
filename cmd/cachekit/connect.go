package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend/goredis"
)

// server is a connection to the cache's Redis: one server or a Cluster.
type server struct {
	b       *goredis.Backend
	client  redis.UniversalClient
	addr    string // what to name in messages
	cluster bool
	timeout time.Duration
}

// connect parses the --redis value (or $REDIS_URL), connects and checks
// that the server answers within the timeout. A single URL that points
// at a Cluster node becomes a Cluster client.
func connect(e *env, f *connFlags) (*server, error) {
	spec := f.url
	if spec == "" {
		spec = e.getenv("REDIS_URL")
	}
	if spec == "" {
		return nil, usageErrorf("no server: pass --redis redis://host:port or set REDIS_URL")
	}
	if f.timeout <= 0 {
		return nil, usageErrorf("--timeout %v: want a positive duration", f.timeout)
	}
	var seeds []*redis.Options
	for _, u := range strings.Split(spec, ",") {
		o, err := parseURL(strings.TrimSpace(u))
		if err != nil {
			return nil, err
		}
		seeds = append(seeds, o)
	}
	s := &server{addr: seeds[0].Addr, timeout: f.timeout}
	if len(seeds) > 1 {
		s.addr = strings.Join(addrsOf(seeds), ",")
		s.client, s.cluster = clusterClient(seeds, f.timeout), true
	} else {
		o := seeds[0]
		tune(o, f.timeout)
		c := redis.NewClient(o)
		enabled, err := clusterEnabled(e.ctx, c)
		if err != nil {
			_ = c.Close()
			if o.TLSConfig != nil {
				err = fmt.Errorf("%w (rediss:// speaks TLS: does the server?)", err)
			}
			return nil, serverError(s.addr, f.timeout, err)
		}
		s.client = c
		if enabled {
			_ = c.Close()
			if o.DB != 0 {
				return nil, usageErrorf("%s is a Cluster node: a Cluster has no database %d", s.addr, o.DB)
			}
			s.client, s.cluster = clusterClient(seeds, f.timeout), true
		}
	}
	b, err := goredis.New(s.client, nil)
	if err != nil {
		_ = s.client.Close()
		return nil, err
	}
	s.b = b
	if err := b.Ping(e.ctx); err != nil {
		s.close()
		return nil, serverError(s.addr, f.timeout, err)
	}
	return s, nil
}

func (s *server) close() { _ = s.client.Close() }

// fail explains err from a round trip to the server.
func (s *server) fail(err error) error { return serverError(s.addr, s.timeout, err) }

// parseURL parses one redis:// or rediss:// URL into options, as a usage
// error when malformed.
func parseURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usageErrorf("bad --redis URL %q: %v", raw, err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, usageErrorf("bad --redis URL %q: scheme %q, want redis:// or rediss://", raw, u.Scheme)
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, usageErrorf("bad --redis URL %q: %v", raw, err)
	}
	return o, nil
}

// tune sets the timeouts of a standalone client: every round trip is
// bounded by timeout, nothing is retried (a frozen server fails after
// one timeout, and nothing is sent twice).
func tune(o *redis.Options, timeout time.Duration) {
	o.ContextTimeoutEnabled = true
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = timeout, timeout, timeout, timeout
	o.MaxRetries = -1
	o.PoolSize = 4
}

func clusterClient(seeds []*redis.Options, timeout time.Duration) *redis.ClusterClient {
	first := seeds[0]
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 addrsOf(seeds),
		Username:              first.Username,
		Password:              first.Password,
		TLSConfig:             first.TLSConfig,
		ContextTimeoutEnabled: true,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		MaxRetries:            -1,
		PoolSize:              4,
	})
}

func addrsOf(seeds []*redis.Options) []string {
	out := make([]string, len(seeds))
	for i, o := range seeds {
		out[i] = o.Addr
	}
	return out
}

// clusterEnabled asks the server whether it runs in Cluster mode.
func clusterEnabled(ctx context.Context, c *redis.Client) (bool, error) {
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil {
		return false, err
	}
	return strings.Contains(info, "cluster_enabled:1"), nil
}

// describe names the deployment for output.
func (s *server) describe() string {
	if s.cluster {
		return fmt.Sprintf("Cluster via %s", s.addr)
	}
	return s.addr
}

// quiet drops go-redis' internal log lines (pool dial retries and the
// like): the command reports every failure itself, once, on stderr.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quiet{}) }
