package goredis

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// EvictionPolicies asks every master for its maxmemory settings (CONFIG
// GET maxmemory*). A server that refuses is reported with Refused set.
func (b *Backend) EvictionPolicies(ctx context.Context) ([]backend.EvictionPolicy, error) {
	nodes, err := b.masters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]backend.EvictionPolicy, 0, len(nodes))
	for _, n := range nodes {
		p := backend.EvictionPolicy{Addr: n.Options().Addr}
		cfg, err := n.ConfigGet(ctx, "maxmemory*").Result()
		var rerr redis.Error
		switch {
		case err != nil:
			p.Err, p.Refused = err, errors.As(err, &rerr)
		default:
			p.Policy, p.MaxMemory = cfg["maxmemory-policy"], cfg["maxmemory"]
		}
		out = append(out, p)
	}
	return out, nil
}
