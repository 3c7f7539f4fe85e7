package middleware

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/cachekit/cachekit/memo"
)

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
		c.failed(cl, fwd, err)
		return
	}
	own := info.Source == memo.SourceLoad && !info.Coalesced
	if e == nil || e.Index || (!own && r.Header.Get("Authorization") != "" && !e.AuthOK) {
		// Nothing this request may use (a streamed response it did not
		// own, or a shared response it may not see): go to the handler.
		c.bypass(cl.next, w, r, "request")
		return
	}
	c.write(w, r, e, c.cacheStatus(cl, e, info, fwd, fwdStatus), info.Source != memo.SourceLoad || !own)
}

// failed answers a request whose fetch failed.
func (c *Cache) failed(cl *call, fwd string, err error) {
	w, r := cl.w, cl.r
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
	case errors.Is(err, errIncomplete) && !errors.Is(err, context.DeadlineExceeded):
		// The handler's response was truncated (or overlong): abort it,
		// as the client would have seen it without the cache.
		c.o.Logger.Warn("middleware: incomplete response not stored", "key", cl.key, "err", err)
		panic(http.ErrAbortHandler)
	case errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Cache-Status", c.o.Name+"; fwd="+fwd+"; detail=timeout")
		http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
	default:
		c.o.Logger.Warn("middleware: fetch failed", "key", cl.key, "err", err)
		w.Header().Set("Cache-Status", c.o.Name+"; fwd="+fwd+"; detail=error")
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}
}

// cacheStatus is the Cache-Status (RFC 9211) of a response served from a
// lookup: a hit, or this caller's (or a collapsed) fetch.
func (c *Cache) cacheStatus(cl *call, e *entry, info memo.Info, fwd string, fwdStatus int) string {
	now := c.o.Now()
	var status string
	switch {
	case info.Source == memo.SourceLoad:
		status = c.o.Name + "; fwd=" + fwd + "; fwd-status=" + strconv.Itoa(max(fwdStatus, e.Status))
		if info.Coalesced {
			status = c.o.Name + "; fwd=uri-miss; collapsed"
		}
		if info.Stored {
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
	return status
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
		switch evalConditions(r, e.Header, e.ResponseTime) {
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
	if e.Status == http.StatusOK && c.serveRange(w, r, e) {
		return
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
