package middleware

import (
	"context"
	"net/http"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// policy is the decision for one response: whether it may be stored and
// shared, and for how long.
type policy struct {
	store      bool
	why        string // reason it is not stored
	lifetime   time.Duration
	initialAge time.Duration
	swr, sie   time.Duration
	authOK     bool
}

// heuristicStatus are the status codes heuristically cacheable (RFC 9110
// §15.1), minus the error codes (never stored without explicit freshness).
func heuristicStatus(s int) bool {
	switch s {
	case 200, 203, 204, 300, 301, 308:
		return true
	}
	return false
}

// provokable reports the error statuses a client can provoke with its own
// request (too large, malformed, overlong URI or fields) or that an
// overloaded origin answers: stored, one such request would deny the URL
// to everyone for the response's freshness (CPDoS). They are never stored
// unless Options.StoreAllErrors or Options.Statuses says so.
func provokable(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong,
		http.StatusRequestHeaderFieldsTooLarge:
		return true
	}
	return status >= 500
}

// controls returns the directives that apply to this cache: the targeted
// field when present and valid (RFC 9213), else Cache-Control.
func (c *Cache) controls(h http.Header) directives {
	if c.targeted != "" {
		if v := h.Values(c.targeted); len(v) > 0 {
			if d, ok := parseTargeted(v); ok {
				return d
			}
		}
	}
	return parseDirectives(h.Values("Cache-Control"))
}

// decide applies RFC 9111 §3 (storing) and §4.2 (freshness) to a response
// to req received between reqTime and respTime.
func (c *Cache) decide(req *http.Request, status int, h http.Header, reqTime, respTime time.Time) policy {
	var p policy
	d := c.controls(h)
	explicit := d.sMaxAge >= 0 || d.maxAge >= 0 || d.badMaxAge
	expires, hasExpires, expired := parseExpires(h.Values("Expires"))
	explicit = explicit || hasExpires

	// Age calculation (§4.2.3).
	date, ok := parseDate(h.Values("Date"))
	if !ok {
		date = respTime
	}
	ageValue, _ := parseAge(h.Values("Age"))
	apparent := max(respTime.Sub(date), 0)
	corrected := ageValue + max(respTime.Sub(reqTime), 0)
	p.initialAge = max(apparent, corrected)

	// Freshness lifetime (§4.2.1), then the heuristic (§4.2.2).
	switch {
	case d.sMaxAge >= 0:
		p.lifetime = time.Duration(d.sMaxAge) * time.Second
	case d.badMaxAge:
		p.lifetime = 0
	case d.maxAge >= 0:
		p.lifetime = time.Duration(d.maxAge) * time.Second
	case hasExpires && !expired:
		p.lifetime = max(expires.Sub(date), 0)
	case hasExpires:
		p.lifetime = 0
	}
	cookie := req.Header.Get("Cookie") != ""
	auth := req.Header.Get("Authorization") != ""
	if !explicit && !d.noCache && heuristicStatus(status) {
		if lm, ok := parseDate(h.Values("Last-Modified")); ok && c.o.Heuristic > 0 && !cookie && !auth && lm.Before(date) {
			p.lifetime = min(time.Duration(float64(date.Sub(lm))*c.o.Heuristic), c.o.MaxHeuristic)
			explicit = p.lifetime > 0
		} else if c.o.DefaultTTL > 0 {
			p.lifetime, explicit = c.o.DefaultTTL, true
		}
	}
	if d.noCache {
		p.lifetime = 0
	}
	// A far-future Expires (or an overflowing Date arithmetic) is clamped
	// like an overflowing delta-seconds (RFC 9111 §1.2.2), which keeps
	// every stored time within what the envelope can hold.
	p.lifetime = min(p.lifetime, maxDelta*time.Second)
	p.authOK = d.public || d.sMaxAge >= 0 || d.mustRevalidate

	if !d.mustRevalidate && !d.proxyRevalidate && d.sMaxAge < 0 && !d.noCache {
		p.swr, p.sie = c.o.StaleWhileRevalidate, c.o.StaleIfError
		if d.swr >= 0 {
			p.swr = time.Duration(d.swr) * time.Second
		}
		if d.sie >= 0 {
			p.sie = time.Duration(d.sie) * time.Second
		}
	}

	validators := h.Get("Etag") != "" || h.Get("Last-Modified") != ""
	_, star := parseVary(h.Values("Vary"))
	switch {
	case status < 200 || status == 206 || status == 304:
		p.why = "status"
	case c.statusOK != nil && !c.statusOK[status]:
		p.why = "status"
	case provokable(status) && !c.o.StoreAllErrors && !c.statusOK[status]:
		p.why = "error"
	case d.noStore:
		p.why = "no-store"
	case d.private:
		p.why = "private"
	case len(h.Values("Set-Cookie")) > 0:
		p.why = "set-cookie"
	case star:
		p.why = "vary-star"
	case auth && (!p.authOK || c.o.PrivateAuthorization):
		p.why = "authorization"
	case cookie && !c.o.CookieRequests && !d.public && d.sMaxAge < 0:
		p.why = "cookie"
	case !explicit && !d.noCache:
		p.why = "no-freshness"
	case status >= 400 && !explicit:
		p.why = "error"
	case p.lifetime-p.initialAge <= 0 && !validators:
		p.why = "stale"
	default:
		p.store = true
	}
	return p
}

// Verdicts on a stored response a lookup found.
const (
	use        = iota // serve it
	invalidate        // nobody may use it: invalidate it everywhere, fetch again
	outdated          // a tag was purged since this node's L1 copy was made: the backend may hold a newer one
)

// usable decides whether the response a lookup found may be served as it
// is. A response this request's own fetch produced is always usable.
func (c *Cache) usable(ctx context.Context, cl *call, e *entry, info memo.Info) int {
	if e == nil || e.Index || e.Pass || info.Source == memo.SourceLoad {
		return use
	}
	rd := cl.rd
	switch {
	case !info.Stale && e.Lifetime <= e.InitialAge:
		// Stale on arrival (no-cache, max-age=0) but still within the
		// coarse clock's tick: never serve it unvalidated.
		return invalidate
	case c.o.ClientControl && (rd.noCache || rd.maxAge == 0 ||
		(len(cl.r.Header.Values("Cache-Control")) == 0 && cl.r.Header.Get("Pragma") == "no-cache")):
		return invalidate
	case c.o.ClientControl && rd.maxAge > 0 && e.age(c.o.Now()) > time.Duration(rd.maxAge)*time.Second:
		return invalidate
	case c.o.ClientControl && rd.minFresh > 0 && e.ttl(c.o.Now()) < time.Duration(rd.minFresh)*time.Second:
		return invalidate
	case len(e.Tags) == 0:
		return use
	}
	b := newBudget(c.budget, cl.sinceStart()) // what the lookup left
	bctx, cancel := b.ctx(ctx)
	defer cancel()
	switch {
	case c.tagsCurrent(bctx, e):
		return use
	case info.Source == memo.SourceL1:
		return outdated
	}
	return invalidate
}
