package lockx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// evictionCheckTimeout bounds the maxmemory check in [New] and
// [NewRedlock], for all servers together.
const evictionCheckTimeout = time.Second

// nodeMemory is one server's answer to CONFIG GET maxmemory*.
type nodeMemory struct {
	addr      string
	policy    string // maxmemory-policy
	maxmemory string // bytes; "0" means no limit
	err       error  // the server refused CONFIG GET or did not answer
}

// evicts reports whether the server may evict keys: a memory limit and a
// policy other than noeviction. Without a limit nothing is ever evicted,
// whatever the policy says.
func (m nodeMemory) evicts() bool {
	return m.policy != "" && m.policy != "noeviction" && m.maxmemory != "" && m.maxmemory != "0"
}

// checkEviction asks every server behind clients (every master of a
// Cluster, every shard of a Ring) for its maxmemory settings and reports
// those that can evict lock keys: a warning through logger, or, when
// strict, an error wrapping [ErrEvictionPolicy]. A server that refuses
// CONFIG GET (managed Redis often renames or forbids it) is logged at
// debug level, one that does not answer at warning level; neither fails.
func checkEviction(clients []redis.UniversalClient, logger *slog.Logger, strict bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), evictionCheckTimeout)
	defer cancel()
	var (
		mu    sync.Mutex
		found []nodeMemory
		wg    sync.WaitGroup
	)
	record := func(m nodeMemory) {
		mu.Lock()
		found = append(found, m)
		mu.Unlock()
	}
	for i, c := range clients {
		wg.Go(func() {
			var err error
			switch c := c.(type) {
			case *redis.ClusterClient:
				err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
					record(askMemory(ctx, n, n.Options().Addr))
					return nil
				})
			case *redis.Ring:
				err = c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
					record(askMemory(ctx, n, n.Options().Addr))
					return nil
				})
			default:
				record(askMemory(ctx, c, clientAddr(c, i)))
			}
			if err != nil {
				record(nodeMemory{addr: clientAddr(c, i), err: err})
			}
		})
	}
	wg.Wait()

	var evicting []string
	for _, m := range found {
		var rerr redis.Error
		switch {
		case m.err != nil && errors.As(m.err, &rerr):
			logger.Debug("lockx: cannot check whether the lock store evicts keys: CONFIG GET refused",
				"addr", m.addr, "err", m.err)
		case m.err != nil:
			logger.Warn("lockx: cannot check whether the lock store evicts keys",
				"addr", m.addr, "err", m.err)
		case m.evicts():
			evicting = append(evicting, fmt.Sprintf("%s (maxmemory-policy %s, maxmemory %s)", m.addr, m.policy, m.maxmemory))
			if !strict {
				logger.Warn("lockx: the lock store can evict keys: an evicted lock key lets a second holder in",
					"addr", m.addr, "maxmemory-policy", m.policy, "maxmemory", m.maxmemory)
			}
		}
	}
	if strict && len(evicting) > 0 {
		return fmt.Errorf("%w: %s", ErrEvictionPolicy, strings.Join(evicting, ", "))
	}
	return nil
}

func askMemory(ctx context.Context, c redis.UniversalClient, addr string) nodeMemory {
	cfg, err := c.ConfigGet(ctx, "maxmemory*").Result()
	if err != nil {
		return nodeMemory{addr: addr, err: err}
	}
	return nodeMemory{addr: addr, policy: cfg["maxmemory-policy"], maxmemory: cfg["maxmemory"]}
}
