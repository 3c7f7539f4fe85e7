package middleware

import (
	"context"
	"math/rand/v2"
	"net/http"

	"github.com/cachekit/cachekit/memo"
)

// Hit-for-miss: a URL whose last response could not be stored for a reason
// of the response itself (Set-Cookie, private, no-store, no freshness,
// Vary: *, streamed) is marked for PassTTL. Its requests then run the
// handler each on their own instead of queueing behind one shared handler
// call per URL (and, with a Locker, one per cluster). A marked URL is
// still cached: the first storable response replaces the mark, so one
// client that makes the application answer with a cookie cannot turn
// caching off for the others.

// markPass marks this call's URL for hit-for-miss, for PassTTL.
func (cl *call) markPass(ctx context.Context) {
	if cl.c.o.PassTTL <= 0 {
		return
	}
	bctx, cancel := newBudget(cl.c.budget, 0).ctx(context.WithoutCancel(ctx))
	defer cancel()
	mark := &entry{Status: http.StatusOK, Pass: true, Gen: rand.Uint64()}
	_ = cl.c.resp.Put(bctx, cl.key, memo.Result[*entry]{Value: mark, TTL: cl.c.o.PassTTL})
}

// passWorthy reports whether a response that was not stored for reason why
// says something about the URL rather than about this request (a request
// with Authorization or cookies does not make the URL uncacheable for
// anonymous requests, and an error may be transient).
func passWorthy(why string) bool {
	switch why {
	case "no-store", "private", "set-cookie", "no-freshness", "vary-star":
		return true
	}
	return false
}

// missPast runs the handler for a URL marked for hit-for-miss, outside
// memo's coalescing, and stores its response in place of the mark when it
// is storable and the mark is still there (a write or purge meanwhile
// removed it: the response may predate it, so it is served, not stored).
func (cl *call) missPast(ctx context.Context, mark *entry) (*entry, memo.Info, error) {
	c := cl.c
	if cl.rd.onlyIfCached {
		return nil, memo.Info{}, errNotCached
	}
	cl.pass = mark
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
	defer cancel()
	t0 := c.o.Now()
	res, err := cl.fetch(lctx, nil, nil)
	info := memo.Info{Source: memo.SourceLoad, CreatedAt: t0}
	if err != nil || res.Value == nil {
		return res.Value, info, err
	}
	e := res.Value
	if res.Value.Index {
		cl.mu.Lock()
		e = cl.own
		cl.mu.Unlock()
	}
	if res.Private || res.NoStore || !cl.markStill(ctx, mark) {
		return e, info, nil
	}
	bctx, bcancel := newBudget(c.budget, 0).ctx(ctx)
	defer bcancel()
	if c.resp.Put(bctx, cl.key, res) == nil {
		info.Expires = c.o.Now().Add(res.TTL)
		info.Stored = true
	}
	return e, info, nil
}

// markStill reports whether the hit-for-miss mark is still stored at key.
func (cl *call) markStill(ctx context.Context, mark *entry) bool {
	bctx, cancel := newBudget(cl.c.budget, 0).ctx(ctx)
	defer cancel()
	cur, _, err := cl.c.resp.Fetch(bctx, cl.key, func(context.Context, *memo.Entry[*entry]) (memo.Result[*entry], error) {
		return memo.Result[*entry]{}, errNotCached
	})
	return err == nil && cur != nil && cur.Pass && cur.Gen == mark.Gen
}
