package middleware

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// An invalidation after an unsafe method (RFC 9111 §4.4) that fails (the
// backend is down, the breaker is open) is not dropped: the URL is
// pending. This node passes its requests to the handler until the
// invalidation lands, and one goroutine per URL retries it in the
// background, with backoff, for at most pendingRetryFor. A later write to
// a pending URL joins its retry.
const (
	pendingMax      = 10000            // URLs pending at once; past it, failures are counted as dropped
	pendingRetryFor = 10 * time.Minute // give up (count, log) after this long
	pendingBackoff  = 50 * time.Millisecond
	pendingMaxWait  = 2 * time.Second
)

// pendingSet is the URLs whose invalidation has not landed yet.
type pendingSet struct {
	n  atomic.Int64 // len(m), read without the lock on every request
	mu sync.Mutex
	m  map[string]*uint64 // url → writes since its retry last started an attempt

	failures, dropped, landed atomic.Uint64
}

// has reports whether url's invalidation is pending: its requests must
// bypass this node's cache.
func (p *pendingSet) has(url string) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.Lock()
	_, ok := p.m[url]
	p.mu.Unlock()
	return ok
}

// invalidateAfterWrite invalidates url after a successful unsafe request,
// within the request's backend budget (ctx); on failure it makes url pending and retries
// it in the background.
func (c *Cache) invalidateAfterWrite(ctx context.Context, url string) {
	p := &c.pending
	if !p.has(url) {
		err := c.invalidateURL(ctx, url)
		if err == nil {
			return
		}
		p.failures.Add(1)
		c.o.Logger.Warn("middleware: invalidation after an unsafe request failed; bypassing the cache for the URL until it lands",
			"url", url, "err", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.m[url]; ok {
		*w++ // the running retry starts a new attempt after this write
		return
	}
	if len(p.m) >= pendingMax {
		p.dropped.Add(1)
		c.o.Logger.Error("middleware: too many pending invalidations; this one is dropped", "url", url)
		return
	}
	select {
	case <-c.closing:
		return // closed: nothing retries any more
	default:
	}
	if p.m == nil {
		p.m = map[string]*uint64{}
	}
	w := new(uint64)
	p.m[url] = w
	p.n.Store(int64(len(p.m)))
	c.wg.Add(1)
	go c.retryInvalidation(url, w)
}

// retryInvalidation retries url's invalidation until one attempt that
// started after the last write to url lands, Close, or pendingRetryFor.
func (c *Cache) retryInvalidation(url string, writes *uint64) {
	defer c.wg.Done()
	p := &c.pending
	done := func() {
		p.mu.Lock()
		delete(p.m, url)
		p.n.Store(int64(len(p.m)))
		p.mu.Unlock()
	}
	defer done()
	deadline := time.Now().Add(pendingRetryFor)
	wait := pendingBackoff
	for {
		select {
		case <-c.closing:
			return
		case <-time.After(wait):
		}
		p.mu.Lock()
		seen := *writes
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.budget)
		err := c.invalidateURL(ctx, url)
		cancel()
		p.mu.Lock()
		again := *writes != seen
		p.mu.Unlock()
		switch {
		case err == nil && !again:
			p.landed.Add(1)
			c.o.Logger.Info("middleware: pending invalidation landed", "url", url)
			return
		case err == nil:
			wait = 0 // a write came in during the attempt: once more
			continue
		}
		p.failures.Add(1)
		if time.Now().After(deadline) {
			p.dropped.Add(1)
			c.o.Logger.Error("middleware: invalidation after an unsafe request given up; the URL may be served stale until its entries expire",
				"url", url, "err", err)
			return
		}
		wait = min(max(2*wait, pendingBackoff), pendingMaxWait)
	}
}
