package memo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// evictionCheckTimeout bounds the maxmemory check in [New], as lockx's.
const evictionCheckTimeout = time.Second

// checkEviction asks a backend that can tell whether its servers may evict
// keys (see the package documentation, Eviction) and warns through the
// logger, or, with Options.StrictEviction, returns an error wrapping
// [ErrEvictionPolicy]. A refused question is logged at debug level, an
// unanswered one at warning level; neither fails.
func checkEviction(b backend.Backend, o *Options) error {
	r, ok := b.(backend.EvictionReporter)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), evictionCheckTimeout)
	defer cancel()
	policies, err := r.EvictionPolicies(ctx)
	if err != nil {
		o.Logger.Warn("memo: cannot check whether the backend evicts keys", "err", err)
		return nil
	}
	var evicting []string
	for _, p := range policies {
		switch {
		case p.Refused:
			o.Logger.Debug("memo: cannot check whether the backend evicts keys: CONFIG GET refused", "addr", p.Addr, "err", p.Err)
		case p.Err != nil:
			o.Logger.Warn("memo: cannot check whether the backend evicts keys", "addr", p.Addr, "err", p.Err)
		case p.Evicts():
			evicting = append(evicting, fmt.Sprintf("%s (maxmemory-policy %s, maxmemory %s)", p.Addr, p.Policy, p.MaxMemory))
			if !o.StrictEviction {
				o.Logger.Warn("memo: the backend can evict keys: an evicted tombstone or generation weakens stale-set protection (see memo's Eviction docs)",
					"addr", p.Addr, "maxmemory-policy", p.Policy, "maxmemory", p.MaxMemory)
			}
		}
	}
	if o.StrictEviction && len(evicting) > 0 {
		return fmt.Errorf("%w: %s", ErrEvictionPolicy, strings.Join(evicting, ", "))
	}
	return nil
}
