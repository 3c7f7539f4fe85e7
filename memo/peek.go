package memo

import (
	"context"

	"github.com/cachekit/cachekit/backend"
)

// Peek returns the value Get would serve for key right now without
// loading: from L1, then the backend. It never calls a loader, takes no
// lock, starts no refresh and fills no L1, so it answers "is it cached?"
// without side effects.
//
// found is true for a fresh value and for a stale one still within its
// stale-while-revalidate window (Get serves those too, and Peek marks
// neither). A cached not-found (Options.NegativeTTL), an invalidated key,
// an expired entry and undecodable bytes all report found == false with a
// nil error. A backend failure returns its error (found == false): the
// state is unknown, not absent. Peek uses one backend read of its own,
// bounded by ctx and Options.BackendTimeout.
func (c *Cache[V]) Peek(ctx context.Context, key string) (v V, found bool, err error) {
	now := c.nanotime()
	gen := c.generationAt(now)
	if c.l1 != nil {
		if e, ok := c.l1.get(key, gen, now); ok {
			return e.val, true, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return v, false, err
	}
	raw, err := leaving(c, ctx, func() (raw []byte, err error) {
		err = c.call(ctx, func(ctx context.Context) (err error) {
			raw, err = backend.GetNonEmpty(ctx, c.backend, c.keys.data(gen, key))
			return err
		})
		return raw, err
	})
	r := c.found(key, raw, err, true)
	switch r.state {
	case stateFresh, stateStale:
		return r.val, true, nil
	case stateUnknown:
		return v, false, r.err
	}
	return v, false, nil
}
