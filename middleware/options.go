package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/memo"
)

// Options configures a [Cache]. The zero value of every field is its
// documented default; a nil *Options means all defaults.
type Options struct {
	// Namespace prefixes the cache's backend keys. Default "http".
	Namespace string
	// Name is this cache's identifier in Cache-Status (RFC 9211).
	// Default "cachekit".
	Name string

	// Hosts is the allowlist of request hosts (lower case, with a port
	// when it is not the scheme's default) whose responses are cached.
	// Requests for other hosts pass through uncached. Default: any host
	// net/http accepted in the request's Host.
	Hosts []string
	// TrustForwarded makes the key use X-Forwarded-Host and
	// X-Forwarded-Proto. Only set it behind a proxy that overwrites them.
	// Default false: they are ignored.
	TrustForwarded bool
	// KeyHeaders are request header fields that are part of every key.
	KeyHeaders []string
	// Key, when set, returns an extra key component for a request (for
	// example a tenant id). It must not return different values for
	// requests whose responses may be shared.
	Key func(*http.Request) string

	// DefaultTTL is the freshness given to responses without explicit
	// freshness (no max-age, s-maxage or Expires) and without the
	// heuristic. Default 0: such responses are not stored.
	DefaultTTL time.Duration
	// Heuristic is the fraction of the time since Last-Modified used as
	// heuristic freshness (RFC 9111 §4.2.2) for responses without explicit
	// freshness. Default 0.1; negative disables it. It never applies to
	// error responses or to requests carrying Cookie or Authorization.
	Heuristic float64
	// MaxHeuristic caps heuristic freshness. Default 24 hours.
	MaxHeuristic time.Duration
	// StaleWhileRevalidate and StaleIfError are the stale windows of
	// responses that do not set them (RFC 5861). Default 0.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// PassTTL is how long a URL whose response could not be stored for a
	// reason of the response itself (Set-Cookie, private, no-store, no
	// freshness, Vary: *) is remembered as uncacheable ("hit-for-pass"):
	// its requests then go straight to the handler instead of queueing
	// behind one handler call per URL (and, with a Locker, one per
	// cluster). Default 30 s; negative disables.
	PassTTL time.Duration

	// KeepForRevalidation is how long a response with a validator (ETag
	// or Last-Modified) is kept past its freshness so that it can be
	// revalidated with a conditional request. Default 1 hour.
	KeepForRevalidation time.Duration

	// MaxBodySize is the largest body stored. A larger response is
	// streamed to its client and not stored. Default 1 MiB.
	MaxBodySize int
	// MaxVariants caps the variants (Vary) stored per URL. Default 32.
	MaxVariants int
	// Statuses, when set, are the only status codes stored. Default: any
	// final status except 206 and 304, errors (≥ 400) only with explicit
	// freshness.
	Statuses []int

	// CookieRequests stores responses to requests carrying Cookie under
	// the usual rules. Default false: such a response is stored only if it
	// says public or s-maxage (guards against web cache deception).
	CookieRequests bool
	// ClientControl honours request directives that force an origin load
	// (no-cache, max-age, min-fresh, no-store, Pragma: no-cache).
	// Default false, so clients cannot bypass the cache.
	ClientControl bool

	// TargetedField is the targeted cache-control field (RFC 9213) that
	// takes precedence over Cache-Control. Default "CDN-Cache-Control";
	// "-" disables it. StripTargeted removes it from responses.
	TargetedField string
	StripTargeted bool

	// TagHeader is the response header listing tags (surrogate keys),
	// separated by commas or spaces. Default "Cache-Tag". It is removed
	// from responses unless KeepTagHeader.
	TagHeader     string
	KeepTagHeader bool

	// AllowPurge, when set, makes the middleware answer PURGE requests:
	// allowed ones (AllowPurge returns true) purge the request's URL, or
	// its prefix with "Purge-Prefix: 1", or the tags listed in TagHeader;
	// others get 403. Default nil: PURGE goes to the handler.
	AllowPurge func(*http.Request) bool

	// Debug adds the cache key to Cache-Status.
	Debug bool

	// L1Size is the number of decoded responses kept in process. Default
	// 4096; negative disables the L1.
	L1Size int
	// Locker coalesces misses across processes (see memo.Options.Locker).
	Locker memo.Locker
	// Observer receives memo's cache events.
	Observer memo.Observer
	// Logger: default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Memo, when set, is the base for the memo options (backend timeout,
	// breaker, load timeout...); the fields above override it.
	Memo *memo.Options
}

// Cache is an HTTP response cache: wrap handlers with [Cache.Handler]. It
// is safe for concurrent use.
type Cache struct {
	o        Options
	resp     *memo.Cache[*entry] // primary keys: responses and vary indexes
	vars     *memo.Cache[*entry] // variants (same namespace, own load slots)
	tags     *memo.Cache[uint64] // tag → generation
	b        backend.Backend
	hosts    map[string]bool
	statusOK map[int]bool
	targeted string
}

var errOptions = errors.New("middleware: invalid options")

// New returns a Cache storing responses in b (required); opts may be
// nil. It creates three memo caches on b in Options.Namespace (responses,
// variants) and Namespace+"-tags" (tag generations).
func New(b backend.Backend, opts *Options) (*Cache, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil backend", errOptions)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "http"
	}
	if o.Name == "" {
		o.Name = "cachekit"
	}
	if o.Heuristic == 0 {
		o.Heuristic = 0.1
	}
	if o.MaxHeuristic == 0 {
		o.MaxHeuristic = 24 * time.Hour
	}
	if o.KeepForRevalidation == 0 {
		o.KeepForRevalidation = time.Hour
	}
	if o.PassTTL == 0 {
		o.PassTTL = 30 * time.Second
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = 1 << 20
	}
	if o.MaxVariants == 0 {
		o.MaxVariants = 32
	}
	if o.TargetedField == "" {
		o.TargetedField = "CDN-Cache-Control"
	}
	if o.TagHeader == "" {
		o.TagHeader = "Cache-Tag"
	}
	if o.L1Size == 0 {
		o.L1Size = 4096
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.DefaultTTL < 0, o.StaleWhileRevalidate < 0, o.StaleIfError < 0, o.KeepForRevalidation < 0, o.MaxHeuristic < 0:
		return nil, fmt.Errorf("%w: negative duration", errOptions)
	case o.MaxBodySize < 0, o.MaxVariants < 0:
		return nil, fmt.Errorf("%w: negative size", errOptions)
	}
	c := &Cache{o: o, b: b, hosts: map[string]bool{}}
	for _, h := range o.Hosts {
		c.hosts[strings.ToLower(h)] = true
	}
	if o.Statuses != nil {
		c.statusOK = map[int]bool{}
		for _, s := range o.Statuses {
			c.statusOK[s] = true
		}
	}
	if o.TargetedField != "-" {
		c.targeted = http.CanonicalHeaderKey(o.TargetedField)
	}
	mo := memo.Options{}
	if o.Memo != nil {
		mo = *o.Memo
	}
	mo.Namespace = o.Namespace
	mo.Jitter = -1
	mo.StaleTTL, mo.StaleIfError, mo.Beta, mo.NegativeTTL = 0, 0, 0, 0
	mo.L1Size = max(o.L1Size, 0)
	mo.Locker, mo.Observer, mo.Logger = o.Locker, o.Observer, o.Logger
	if opts != nil && opts.Now != nil {
		mo.Now = o.Now
	}
	resp, err := memo.New[*entry](b, &mo)
	if err != nil {
		return nil, err
	}
	vars, err := memo.New[*entry](b, &mo)
	if err != nil {
		resp.Close()
		return nil, err
	}
	to := mo
	to.Namespace = o.Namespace + "-tags"
	to.TTL = tagTTL
	to.Locker, to.Observer = nil, nil
	to.L1Size = 4096
	// Tag generations decide whether a purge took effect: keep their L1
	// copies short-lived, so a node that misses the purge message (no
	// pub/sub, a reconnect) serves purged entries for seconds, not hours.
	to.L1TTL = 2 * time.Second
	tags, err := memo.New[uint64](b, &to)
	if err != nil {
		resp.Close()
		vars.Close()
		return nil, err
	}
	c.resp, c.vars, c.tags = resp, vars, tags
	return c, nil
}

// tagTTL is how long a tag generation lives without a purge. When it
// expires, entries carrying the tag are (harmlessly) invalidated.
const tagTTL = 7 * 24 * time.Hour

// Close stops the Cache's background work. It does not close the backend.
func (c *Cache) Close() error {
	return errors.Join(c.resp.Close(), c.vars.Close(), c.tags.Close())
}

// Stats returns the counters of the memo engine storing responses.
func (c *Cache) Stats() memo.Stats { return c.resp.Stats() }
