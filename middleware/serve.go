package middleware

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// Handler returns next wrapped with the cache. It fits any router that
// takes func(http.Handler) http.Handler.
func (c *Cache) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(next, w, r) })
}

func (c *Cache) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case "PURGE":
		if c.o.AllowPurge != nil {
			c.purge(w, r)
			return
		}
		c.bypass(next, w, r, "method")
		return
	case http.MethodOptions, http.MethodTrace, http.MethodConnect:
		c.bypass(next, w, r, "method") // never stored, and nothing to invalidate
		return
	default:
		// Every other method is unsafe, the known (POST, PUT, PATCH,
		// DELETE) and the extension ones (WebDAV's MKCOL, PROPPATCH, ...):
		// a success invalidates the target (RFC 9111 §4.4).
		c.unsafe(next, w, r)
		return
	}
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 || r.Header.Get("Range") != "" {
		c.bypass(next, w, r, "request")
		return
	}
	if isStreamRequest(r) {
		// Upgrades (WebSocket) and event streams are long-lived and never
		// stored: they must not queue behind one flight per URL or be cut
		// at the load timeout.
		c.bypass(next, w, r, "stream")
		return
	}
	key, ok := c.key(r)
	if !ok {
		c.bypass(next, w, r, "key")
		return
	}
	var rd directives
	if v := r.Header.Values("Cache-Control"); len(v) > 0 {
		rd = parseDirectives(v)
	} else {
		rd = directives{maxAge: -1, minFresh: -1, maxStale: -1}
	}
	ctx := r.Context()
	if c.o.ClientControl {
		if rd.noStore {
			c.bypass(next, w, r, "request")
			return
		}
		if rd.noCache || rd.maxAge == 0 || (len(r.Header.Values("Cache-Control")) == 0 && r.Header.Get("Pragma") == "no-cache") {
			_ = c.resp.Invalidate(ctx, key)
		}
	}
	cl := &call{c: c, next: next, w: w, r: r, key: key}
	fetch := cl.fetchFunc(nil)
	if rd.onlyIfCached {
		fetch = func(context.Context, *memo.Entry[*entry]) (memo.Result[*entry], error) {
			return memo.Result[*entry]{}, errNotCached
		}
	}
	e, info, err := c.resp.Fetch(ctx, key, fetch)
	if err == nil && e != nil && e.Pass {
		// Hit-for-pass: this URL's responses are not storable; do not
		// queue behind a shared handler call.
		c.bypass(next, w, r, "uncacheable")
		return
	}
	cache := c.resp
	fkey := key
	var idx *entry
	if err == nil && e != nil && e.Index {
		cl.mu.Lock()
		own := cl.own
		cl.mu.Unlock()
		if own != nil && info.Source == memo.SourceLoad && !info.Coalesced {
			e = own
		} else {
			idx = e
			cache, fkey = c.vars, variantKey(key, e.Gen, e.Vary, r.Header)
			vfetch := cl.fetchFunc(e)
			if rd.onlyIfCached {
				vfetch = fetch
			}
			e, info, err = c.vars.Fetch(ctx, fkey, vfetch)
		}
	}
	if err == nil && e != nil && len(e.Tags) > 0 && info.Source != memo.SourceLoad && !c.tagsCurrent(ctx, e) {
		// A tag of e was purged since it was stored. If only this node's
		// L1 copy is outdated, another node may already have stored a
		// fresh entry: read the backend before invalidating everywhere.
		if info.Source == memo.SourceL1 {
			cache.Forget(fkey)
			e, info, err = cache.Fetch(ctx, fkey, cl.fetchFunc(idx))
		}
		if err == nil && e != nil && info.Source != memo.SourceLoad && !c.tagsCurrent(ctx, e) {
			_ = cache.Invalidate(ctx, fkey)
			e, info, err = cache.Fetch(ctx, fkey, cl.fetchFunc(idx))
		}
	}
	if err == nil && e != nil && !e.Index && !info.Stale && info.Source != memo.SourceLoad && e.Lifetime <= e.InitialAge {
		// Stale on arrival (no-cache, max-age=0) but still within the
		// coarse clock's tick: never serve it unvalidated.
		_ = cache.Invalidate(ctx, fkey)
		e, info, err = cache.Fetch(ctx, fkey, cl.fetchFunc(idx))
	}
	if err == nil && e != nil && c.o.ClientControl && info.Source != memo.SourceLoad && !e.Index {
		if (rd.maxAge > 0 && e.age(c.o.Now()) > time.Duration(rd.maxAge)*time.Second) ||
			(rd.minFresh > 0 && e.ttl(c.o.Now()) < time.Duration(rd.minFresh)*time.Second) {
			_ = cache.Invalidate(ctx, fkey)
			e, info, err = cache.Fetch(ctx, fkey, cl.fetchFunc(idx))
		}
	}
	c.finish(cl, e, info, err)
}

// finish answers the client once memo has returned.
func (c *Cache) finish(cl *call, e *entry, info memo.Info, err error) {
	w, r := cl.w, cl.r
	cl.mu.Lock()
	if cl.staleIndex {
		defer func() { _ = c.resp.Invalidate(context.WithoutCancel(r.Context()), cl.key) }()
	}
	switch cl.state {
	case writerClaimed:
		if err != nil && r.Context().Err() != nil {
			cl.state = writerDetached
			cancel := cl.cancel
			cl.mu.Unlock()
			cancel()
			return
		}
		done := cl.done
		cl.mu.Unlock()
		<-done
		var pe *memo.PanicError
		if errors.As(err, &pe) {
			panic(pe.Value)
		}
		return
	case writerOpen:
		cl.state = writerServed
	}
	fwd, fwdStatus := cl.fwdOr("uri-miss"), cl.fwdStatus
	cl.mu.Unlock()

	if err != nil {
		var pe *memo.PanicError
		var oe *originError
		switch {
		case errors.As(err, &pe):
			panic(pe.Value)
		case errors.As(err, &oe):
			c.write(w, r, oe.e, c.o.Name+"; fwd="+fwd+"; fwd-status="+strconv.Itoa(oe.e.Status), false)
		case errors.Is(err, errNotCached):
			w.Header().Set("Cache-Status", c.o.Name+"; fwd=miss; detail=only-if-cached")
			http.Error(w, "not cached", http.StatusGatewayTimeout)
		case r.Context().Err() != nil:
			// The client left; the fetch goes on and stores for others.
		case errors.Is(err, context.DeadlineExceeded):
			w.Header().Set("Cache-Status", c.o.Name+"; fwd="+fwd+"; detail=timeout")
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
		default:
			c.o.Logger.Warn("middleware: fetch failed", "key", cl.key, "err", err)
			w.Header().Set("Cache-Status", c.o.Name+"; fwd="+fwd+"; detail=error")
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}
		return
	}
	own := info.Source == memo.SourceLoad && !info.Coalesced
	if e == nil || e.Index || (!own && r.Header.Get("Authorization") != "" && !e.AuthOK) {
		// Nothing this request may use (a streamed response it did not
		// own, or a shared response it may not see): go to the handler.
		c.bypass(cl.next, w, r, "request")
		return
	}
	now := c.o.Now()
	var status string
	switch {
	case info.Source == memo.SourceLoad:
		status = c.o.Name + "; fwd=" + fwd + "; fwd-status=" + strconv.Itoa(max(fwdStatus, e.Status))
		if !own {
			status = c.o.Name + "; fwd=uri-miss; collapsed"
		}
		if !info.Expires.IsZero() {
			status += "; stored; ttl=" + strconv.FormatInt(int64(e.ttl(now)/time.Second), 10)
		}
	default:
		status = c.o.Name + "; hit; ttl=" + strconv.FormatInt(int64(e.ttl(now)/time.Second), 10)
		if info.Stale {
			status += "; detail=stale"
		}
	}
	if c.o.Debug {
		status += "; key=" + strconv.Quote(cl.key)
	}
	c.write(w, r, e, status, info.Source != memo.SourceLoad || !own)
}

// write sends e to the client: a 304 or 412 when the request's
// conditions say so (RFC 9110 §13.2.2), else the full response.
func (c *Cache) write(w http.ResponseWriter, r *http.Request, e *entry, cacheStatus string, fromCache bool) {
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	c.clientFields(h)
	if fromCache || e.InitialAge >= int64(time.Second) {
		h["Age"] = []string{strconv.FormatInt(int64(e.age(c.o.Now())/time.Second), 10)}
	}
	h.Add("Cache-Status", cacheStatus)
	if e.Status == http.StatusOK {
		switch evalConditions(r, e.Header) {
		case http.StatusNotModified:
			for _, f := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Content-Language"} {
				delete(h, f)
			}
			w.WriteHeader(http.StatusNotModified)
			return
		case http.StatusPreconditionFailed:
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
	}
	if bodyAllowed(e.Status) {
		h["Content-Length"] = []string{strconv.Itoa(len(e.Body))}
	}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead && bodyAllowed(e.Status) {
		_, _ = w.Write(e.Body)
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// clientFields removes the fields this cache consumes from a response.
func (c *Cache) clientFields(h http.Header) {
	if !c.o.KeepTagHeader {
		delete(h, http.CanonicalHeaderKey(c.o.TagHeader))
	}
	if c.o.StripTargeted && c.targeted != "" {
		delete(h, c.targeted)
	}
}

// evalConditions evaluates the request's preconditions against a stored
// 200 response (RFC 9110 §13.2.2): 412, 304, or 0 for "send it".
func evalConditions(r *http.Request, h http.Header) int {
	etag := h.Get("Etag")
	lm, hasLM := parseDate(h.Values("Last-Modified"))
	if im := r.Header.Values("If-Match"); len(im) > 0 {
		if !matchETag(im, etag, true) {
			return http.StatusPreconditionFailed
		}
	} else if ius, ok := parseDate(r.Header.Values("If-Unmodified-Since")); ok && hasLM && lm.After(ius) {
		return http.StatusPreconditionFailed
	}
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		if matchETag(inm, etag, false) {
			return http.StatusNotModified
		}
		return 0
	}
	if ims, ok := parseDate(r.Header.Values("If-Modified-Since")); ok && hasLM && !lm.After(ims) {
		return http.StatusNotModified
	}
	return 0
}

// matchETag reports whether the list of entity tags matches etag, with
// the strong or weak comparison (RFC 9110 §8.8.3.2).
func matchETag(lines []string, etag string, strong bool) bool {
	for _, l := range lines {
		for t := range strings.SplitSeq(l, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "*":
				// "*" matches any current representation (RFC 9110
				// §13.1.1-2), and conditions are evaluated only on a
				// stored one, with or without an entity tag.
				return true
			case etag == "":
				continue
			case strong:
				if t == etag && !strings.HasPrefix(t, "W/") {
					return true
				}
			case strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/"):
				return true
			}
		}
	}
	return false
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

// unsafe passes an unsafe request through and, when it succeeds,
// invalidates its target URI and the same-origin Location and
// Content-Location (RFC 9111 §4.4).
func (c *Cache) unsafe(next http.Handler, w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	w.Header().Add("Cache-Status", c.o.Name+"; fwd=method")
	next.ServeHTTP(sw, r)
	status := sw.status
	if status == 0 {
		status = http.StatusOK // a handler that wrote nothing answered 200
	}
	if status < 200 || status >= 400 {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	g := r.Clone(ctx)
	g.Method = http.MethodGet
	_ = c.invalidate(ctx, g)
	for _, f := range []string{"Location", "Content-Location"} {
		loc := w.Header().Get(f)
		if loc == "" {
			continue
		}
		u, err := r.URL.Parse(loc)
		if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, r.Host)) {
			continue
		}
		g2 := g.Clone(ctx)
		g2.URL = u
		_ = c.invalidate(ctx, g2)
	}
}

// statusWriter records the status of a passed-through response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
