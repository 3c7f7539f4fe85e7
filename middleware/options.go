package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
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
	// TrustedHeaders are unkeyed request fields that the handler may see
	// although they are not in the key: set it only for fields your own
	// proxy always overwrites (for example X-Real-IP), and only if the
	// response does not depend on them. Default none: the routing fields
	// that frameworks use to rebuild URLs, schemes, hosts, methods and
	// client addresses (X-Forwarded-*, X-Original-*, X-Override-*,
	// X-Real-*, Forwarded, Front-End-Https, ... matched by family) are
	// removed from the request a shared fetch sends to the handler.
	TrustedHeaders []string
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
	// freshness, Vary: *) is marked "hit-for-miss": its requests then run
	// the handler each on their own instead of queueing behind one handler
	// call per URL (and, with a Locker, one per cluster), and the first
	// storable response is stored and clears the mark. Default 30 s;
	// negative disables.
	PassTTL time.Duration

	// KeepForRevalidation is how long a response with a validator (ETag
	// or Last-Modified) is kept past its freshness so that it can be
	// revalidated with a conditional request. Default 1 hour.
	KeepForRevalidation time.Duration

	// MaxBodySize is the largest body stored. A larger response is
	// streamed to its client and not stored. Default 1 MiB, lowered to fit
	// when the backend reports a smaller value limit (backend/memory and
	// backend/goredis do: their MaxValueBytes, default 4 MiB). A stored
	// response is one backend value: its body plus room for headers and
	// encoding (64 KiB, or a quarter of a smaller limit) must fit in it,
	// and [New] rejects a MaxBodySize that does not (raise the backend's
	// MaxValueBytes with it).
	MaxBodySize int
	// MaxVariants caps the variants (Vary) stored per URL. Default 32.
	MaxVariants int
	// Statuses, when set, are the only status codes stored. Default: any
	// final status except 206 and 304, errors (≥ 400) only with explicit
	// freshness, and never 400, 413, 414, 431 or 5xx (see StoreAllErrors).
	// A status listed here is stored even if StoreAllErrors is false.
	Statuses []int
	// StoreAllErrors stores 400, 413, 414, 431 and 5xx responses that
	// carry explicit freshness, as RFC 9111 allows. Default false: a
	// client that can make the origin answer one of them (an oversized
	// header, a malformed query) could otherwise store it for everyone
	// under the URL's key (cache-poisoned denial of service, CPDoS). The
	// default fails a few optional conformance tests on purpose; 404, 410
	// and the other statuses follow RFC 9111 either way.
	StoreAllErrors bool

	// CookieRequests stores responses to requests carrying Cookie under
	// the usual rules. Default false: such a response is stored only if it
	// says public or s-maxage (guards against web cache deception).
	CookieRequests bool
	// PrivateAuthorization never stores a response to a request carrying
	// Authorization. Default false: as RFC 9111 §3.5 says, such a response
	// is stored and shared with every client when it says public,
	// s-maxage or must-revalidate (an origin that marks a per-user answer
	// public leaks it). Responses stored from requests without
	// Authorization are still served to requests with it when they are
	// explicitly public, s-maxage or must-revalidate.
	PrivateAuthorization bool
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

	// Logger: default slog.Default(). It is also the engine's logger.
	Logger *slog.Logger
	// Now is the clock. Default time.Now. It is also the engine's clock.
	Now func() time.Time
	// Memo holds the engine settings of the memo caches underneath:
	// backend timeout, circuit breaker, load timeout, concurrency, L1
	// (L1Size: zero means 4096 here, negative disables it), Locker to
	// coalesce misses across processes, Observer, codec. Default nil: memo's
	// defaults.
	//
	// The middleware owns the fields that HTTP decides per response or that
	// it has its own option for: setting Namespace, TTL, Jitter, StaleTTL,
	// StaleIfError, Beta, NegativeTTL, Logger or Now in Memo is an error
	// from [New] (use Options.Namespace, Logger and Now; freshness comes
	// from the responses and the options above).
	Memo *memo.Options
}

// Cache is an HTTP response cache: wrap handlers with [Cache.Handler]. It
// is safe for concurrent use.
type Cache struct {
	o           Options
	resp        *memo.Cache[*entry] // primary keys: responses and vary indexes
	vars        *memo.Cache[*entry] // variants (same namespace, own load slots)
	tags        *memo.Cache[uint64] // tag → generation
	seqKey      string              // the purge sequence's backend key (see purgeseq.go)
	b           backend.Backend
	hosts       map[string]bool
	statusOK    map[int]bool
	targeted    string
	budget      time.Duration // one request's backend budget: memo's BackendTimeout
	loadTimeout time.Duration // memo's LoadTimeout, for hit-for-miss renders
	// keepField are the unkeyed routing fields the handler still sees:
	// keyed or trusted.
	keepField map[string]bool

	pending   pendingSet // URLs whose invalidation has not landed
	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// ErrInvalidOptions is wrapped by every error [New] returns for invalid
// [Options], including the engine's own (memo.ErrInvalidOptions, for
// Options.Memo, which it wraps too).
var ErrInvalidOptions = errors.New("middleware: invalid options")

// errOptions is the package-internal name of [ErrInvalidOptions].
var errOptions = ErrInvalidOptions

// engineErr makes an invalid-options error of memo.New one of the
// middleware's too.
func engineErr(err error) error {
	if errors.Is(err, memo.ErrInvalidOptions) {
		return fmt.Errorf("%w: Memo: %w", ErrInvalidOptions, err)
	}
	return err
}

// New returns a Cache storing responses in b (required); opts may be
// nil. It creates three memo caches on b in Options.Namespace (responses,
// variants) and Namespace+"-tags" (tag generations).
func New(b backend.Backend, opts *Options) (*Cache, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil backend", errOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.MaxBodySize, err = fitBody(b, o.MaxBodySize, opts != nil && opts.MaxBodySize != 0); err != nil {
		return nil, err
	}
	c := &Cache{o: o, b: b, hosts: map[string]bool{}, closing: make(chan struct{})}
	for _, h := range o.Hosts {
		c.hosts[strings.ToLower(h)] = true
	}
	c.keepField = map[string]bool{}
	for _, f := range append(slices.Clone(o.KeyHeaders), o.TrustedHeaders...) {
		c.keepField[http.CanonicalHeaderKey(strings.ReplaceAll(f, "_", "-"))] = true
	}
	if o.TrustForwarded {
		c.keepField["X-Forwarded-Host"], c.keepField["X-Forwarded-Proto"] = true, true
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
	mo, err := engineOptions(o, opts != nil && opts.Now != nil)
	if err != nil {
		return nil, err
	}
	c.budget, c.loadTimeout = mo.BackendTimeout, mo.LoadTimeout
	if c.budget <= 0 {
		c.budget = 250 * time.Millisecond // memo's default
	}
	if c.loadTimeout <= 0 {
		c.loadTimeout = 30 * time.Second // memo's default
	}
	resp, err := memo.New[*entry](b, &mo)
	if err != nil {
		return nil, engineErr(err)
	}
	vars, err := memo.New[*entry](b, &mo)
	if err != nil {
		resp.Close()
		return nil, engineErr(err)
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
		return nil, engineErr(err)
	}
	c.resp, c.vars, c.tags = resp, vars, tags
	c.seqKey = seqKeyOf(tags)
	return c, nil
}

// valueLimiter is implemented by backends that report the largest value
// they store (backend/memory and backend/goredis: their MaxValueBytes).
type valueLimiter interface{ MaxValueBytes() int }

// entryRoom is the part of the backend's value limit kept for a stored
// response's headers and encoding: 64 KiB, or a quarter of a smaller
// limit.
func entryRoom(limit int) int { return min(64<<10, limit/4) }

// fitBody checks MaxBodySize against what the backend can store: a body
// of MaxBodySize plus [entryRoom] must fit in one backend value, or
// responses near the cap would be rendered for storing and then silently
// not stored. A MaxBodySize set by the caller that does not fit is an
// error; the default is lowered to fit.
func fitBody(b backend.Backend, size int, explicit bool) (int, error) {
	lim, ok := b.(valueLimiter)
	if !ok {
		return size, nil
	}
	limit := lim.MaxValueBytes()
	fit := limit - entryRoom(limit)
	switch {
	case size <= fit:
		return size, nil
	case explicit || fit <= 0:
		return 0, fmt.Errorf("%w: MaxBodySize %d does not fit in the backend's values (MaxValueBytes %d, of which %d are kept for headers and encoding): raise the backend's MaxValueBytes or lower MaxBodySize to at most %d",
			errOptions, size, limit, entryRoom(limit), max(fit, 0))
	}
	return fit, nil
}

// tagTTL is how long a tag generation lives without a purge. When it
// expires, entries carrying the tag are (harmlessly) invalidated.
const tagTTL = 7 * 24 * time.Hour

// Close stops the Cache's background work (pending invalidations are
// abandoned). It does not close the backend.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	c.wg.Wait()
	return errors.Join(c.resp.Close(), c.vars.Close(), c.tags.Close())
}

// withDefaults returns the options with every zero field set to its
// documented default, or an error for an invalid one.
func (opts *Options) withDefaults() (Options, error) {
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.DefaultTTL < 0, o.StaleWhileRevalidate < 0, o.StaleIfError < 0, o.KeepForRevalidation < 0, o.MaxHeuristic < 0:
		return o, fmt.Errorf("%w: negative duration", errOptions)
	case o.DefaultTTL > memo.MaxTTL, o.StaleWhileRevalidate > memo.MaxTTL, o.StaleIfError > memo.MaxTTL,
		o.KeepForRevalidation > memo.MaxTTL, o.MaxHeuristic > memo.MaxTTL:
		return o, fmt.Errorf("%w: a duration is longer than memo.MaxTTL (%v); cached responses always expire", errOptions, memo.MaxTTL)
	case o.MaxBodySize < 0, o.MaxVariants < 0:
		return o, fmt.Errorf("%w: negative size", errOptions)
	}
	return o, nil
}

// engineOptions returns the memo options of the response caches: the
// caller's engine settings (Options.Memo) and the fields the middleware
// owns. A field the middleware owns that Options.Memo sets is an error,
// not silently replaced.
func engineOptions(o Options, ownClock bool) (memo.Options, error) {
	var mo memo.Options
	if o.Memo != nil {
		mo = *o.Memo
	}
	var owned []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"Namespace", mo.Namespace != ""}, {"TTL", mo.TTL != 0}, {"Jitter", mo.Jitter != 0},
		{"StaleTTL", mo.StaleTTL != 0}, {"StaleIfError", mo.StaleIfError != 0}, {"Beta", mo.Beta != 0},
		{"NegativeTTL", mo.NegativeTTL != 0}, {"Logger", mo.Logger != nil}, {"Now", mo.Now != nil},
	} {
		if f.set {
			owned = append(owned, f.name)
		}
	}
	if len(owned) > 0 {
		return mo, fmt.Errorf("%w: Memo.%s is set by the middleware (freshness comes from responses; use Options.Namespace, Logger, Now)",
			errOptions, strings.Join(owned, ", Memo."))
	}
	mo.Namespace = o.Namespace
	mo.Jitter = -1 // a response's freshness is exact
	mo.Logger = o.Logger
	if ownClock {
		mo.Now = o.Now // else memo keeps its cheaper coarse clock
	}
	if mo.L1Size == 0 {
		mo.L1Size = 4096
	}
	mo.L1Size = max(mo.L1Size, 0)
	return mo, nil
}

// Stats returns the counters of the memo engines under the Cache:
// responses, vary indexes and variants together (tag generations are not
// included). It is safe for concurrent use.
func (c *Cache) Stats() memo.Stats {
	return sumStats(c.resp.Stats(), c.vars.Stats())
}

// InvalidationStats counts the invalidations after unsafe requests that
// did not land at once (see [Cache.InvalidationStats]).
type InvalidationStats struct {
	Failures uint64 // failed attempts (the first one and retries)
	Landed   uint64 // invalidations that landed on a retry
	Dropped  uint64 // given up: after 10 minutes, or past 10,000 URLs pending
	Pending  int    // URLs whose requests bypass this node's cache now
}

// InvalidationStats returns the counters of invalidations after unsafe
// requests that failed at first. It is safe for concurrent use.
func (c *Cache) InvalidationStats() InvalidationStats {
	return InvalidationStats{
		Failures: c.pending.failures.Load(),
		Landed:   c.pending.landed.Load(),
		Dropped:  c.pending.dropped.Load(),
		Pending:  int(c.pending.n.Load()),
	}
}

// sumStats adds memo counters field by field (booleans: either).
func sumStats(a, b memo.Stats) memo.Stats {
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(b)
	for i := range va.NumField() {
		f := va.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Uint64, reflect.Uint32, reflect.Uint:
			f.SetUint(f.Uint() + vb.Field(i).Uint())
		case reflect.Int64, reflect.Int32, reflect.Int:
			f.SetInt(f.Int() + vb.Field(i).Int())
		case reflect.Bool:
			f.SetBool(f.Bool() || vb.Field(i).Bool())
		}
	}
	return a
}
