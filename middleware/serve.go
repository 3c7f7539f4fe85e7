package middleware

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// Handler returns next wrapped with the cache. It fits any router that
// takes func(http.Handler) http.Handler.
func (c *Cache) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(next, w, r) })
}

// serve is the request path: admit the request, look its response up
// (the primary key, then the variant), decide once whether what was found
// may be used, fetch at most once more if not, and answer.
func (c *Cache) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	cl := c.admit(next, w, r)
	if cl == nil {
		return
	}
	ctx := r.Context()
	e, info, err := cl.lookup(ctx)
	if err == nil && e != nil && e.Pass {
		e, info, err = cl.missPast(ctx, e)
	} else if err == nil {
		if v := c.usable(ctx, cl, e, info); v != use {
			e, info, err = cl.refetch(ctx, v)
		}
	}
	c.finish(cl, e, info, err)
}

// admit routes the request: methods other than GET and HEAD, requests
// with a body, streams and requests without a cacheable key
// are answered here (passed through, purged, invalidated) and admit
// returns nil; otherwise it returns the request's call.
func (c *Cache) admit(next http.Handler, w http.ResponseWriter, r *http.Request) *call {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case "PURGE":
		if c.o.AllowPurge != nil {
			c.purge(w, r)
			return nil
		}
		c.bypass(next, w, r, "method")
		return nil
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		c.bypass(next, w, r, "method") // never stored, and nothing to invalidate
		return nil
	default:
		// Every other method is unsafe, the known (POST, PUT, PATCH,
		// DELETE) and the extension ones (WebDAV's MKCOL, PROPPATCH, ...):
		// a success invalidates the target (RFC 9111 §4.4).
		c.unsafe(next, w, r)
		return nil
	}
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		c.bypass(next, w, r, "request")
		return nil
	}
	if isStreamRequest(r) {
		// Upgrades (WebSocket) and event streams are long-lived and never
		// stored: they must not queue behind one flight per URL or be cut
		// at the load timeout.
		c.bypass(next, w, r, "stream")
		return nil
	}
	key, ok := c.key(r)
	if !ok {
		c.bypass(next, w, r, "key")
		return nil
	}
	if c.pending.has(urlOf(key)) {
		// A write to this URL went through this node and its invalidation
		// has not landed: never answer from the cache meanwhile.
		c.bypass(next, w, r, "invalidating")
		return nil
	}
	rd := &noDirectives
	if v := r.Header.Values("Cache-Control"); len(v) > 0 {
		d := parseDirectives(v)
		rd = &d
	}
	if c.o.ClientControl && rd.noStore {
		c.bypass(next, w, r, "request")
		return nil
	}
	return &call{c: c, next: next, w: w, r: r, key: key, rd: rd, fkey: key, started: time.Now().UnixNano()}
}

// lookup fetches the request's primary key and, when it holds a vary
// index, the request's variant of it.
func (cl *call) lookup(ctx context.Context) (*entry, memo.Info, error) {
	c := cl.c
	e, info, err := c.resp.Fetch(ctx, cl.key, cl.fetchAt(nil))
	if err != nil || e == nil || !e.Index {
		return e, info, err
	}
	cl.mu.Lock()
	own := cl.own
	cl.mu.Unlock()
	if own != nil && info.Source == memo.SourceLoad && !info.Coalesced {
		return own, info, nil // this caller built the index: its own response
	}
	cl.index = e
	cl.fkey = variantKey(cl.key, e.Gen, e.Vary, e.Codings, cl.r.Header)
	return c.vars.Fetch(ctx, cl.fkey, cl.fetchAt(e))
}

// refetch fetches once more what lookup found unusable: invalidated
// everywhere, since nobody may use it; or, when only this node's L1 copy
// is outdated, read from the backend, where another node may already have
// stored a newer response (it is invalidated and fetched if it is outdated
// too).
func (cl *call) refetch(ctx context.Context, verdict int) (*entry, memo.Info, error) {
	if verdict == outdated {
		cl.cache().Forget(cl.fkey)
		e, info, err := cl.cache().Fetch(ctx, cl.fkey, cl.fetchAt(cl.index))
		if err != nil || e == nil || info.Source == memo.SourceLoad || cl.c.tagsCurrent(ctx, e) {
			return e, info, err
		}
	}
	_ = cl.cache().Invalidate(ctx, cl.fkey)
	return cl.cache().Fetch(ctx, cl.fkey, cl.fetchAt(cl.index))
}

// fetchAt returns the memo fetch for this call: at the primary key
// (index == nil) or at a variant of index. An only-if-cached request never
// reaches the handler.
func (cl *call) fetchAt(index *entry) memo.FetchFunc[*entry] {
	if cl.rd.onlyIfCached {
		return func(context.Context, *memo.Entry[*entry]) (memo.Result[*entry], error) {
			return memo.Result[*entry]{}, errNotCached
		}
	}
	return func(ctx context.Context, stale *memo.Entry[*entry]) (memo.Result[*entry], error) {
		return cl.fetch(ctx, stale, index)
	}
}

// isStreamRequest reports a request for a long-lived stream: a protocol
// upgrade or a Server-Sent Events subscription.
func isStreamRequest(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return true
	}
	for _, c := range r.Header.Values("Connection") {
		if strings.Contains(strings.ToLower(c), "upgrade") {
			return true
		}
	}
	for _, a := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(a), "text/event-stream") {
			return true
		}
	}
	return false
}

// bypass sends r to next without the cache.
func (c *Cache) bypass(next http.Handler, w http.ResponseWriter, r *http.Request, why string) {
	w.Header().Add("Cache-Status", c.o.Name+"; fwd=bypass; detail="+why)
	next.ServeHTTP(w, r)
}
