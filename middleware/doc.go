// Package middleware is an RFC 9111 shared HTTP cache for net/http,
// built on memo's engine: a cached response is a memoized handler call.
//
//	b, err := memory.New(nil)
//	...
//	c, err := middleware.New(b, nil)
//	...
//	http.ListenAndServe(":8080", c.Handler(mux))
//
// (the package Example runs this). Engine settings (backend timeout,
// breaker, L1, Locker, Observer) go in Options.Memo.
//
// Coalescing (across processes with Options.Memo.Locker), stale-while-revalidate,
// stale-if-error, fail-open on backend errors, stale-set protection, L1 and
// its cross-node invalidation, and stats all come from [memo.Cache.Fetch].
//
// # Keys
//
// A key is "<scheme>://<host><path>?<hash>": the host is lower-cased and
// checked against Options.Hosts (X-Forwarded-Host is used only with
// Options.TrustForwarded); the path's percent-encoding is normalised (paths
// with dot or empty segments pass through uncached, since routers redirect
// them); the hash covers the sorted query, length-prefixed, then (after
// "&") the key headers and custom key. HEAD shares GET's entry. Purge by
// prefix matches on the readable part. Routing fields that are not keyed
// (X-Forwarded-*, X-Original-*, X-Override-*, X-Real-*, Forwarded,
// Front-End-Https and their families; see Options.TrustedHeaders) are
// removed from the request the handler sees, so they cannot poison an
// entry.
//
// # Variants
//
// A response with Vary turns its primary key into a small index (the Vary
// field names and a random generation); each variant lives under
// "<primary>#<hash(generation, normalised request values)>". Invalidating
// the index (purge by URL, an unsafe method) orphans every variant.
// Vary: * is never stored; Options.MaxVariants caps variants per URL.
// Accept-Encoding is keyed on the content codings the URL's responses used
// that the request accepts, so "gzip" and "deflate, gzip" share a variant
// (a response is stored under such a key only if every client sharing it
// accepts its coding).
//
// # Unsafe methods
//
// A successful POST, PUT, DELETE or other unsafe method invalidates its
// target URI and the same-origin Location and Content-Location (RFC 9111
// §4.4) on every node, in O(1) whatever the number of stored keys: the
// primary key, or, with KeyHeaders or Key (one URL, many keys), an
// implicit tag of the URL that every stored response of it carries. It
// costs at most one BackendTimeout before the response goes out.
//
// When the invalidation fails (the backend is down, the breaker is open),
// the node that took the write passes the URL's requests to the handler
// until a background retry (one per URL, backoff up to 2 s, for at most
// 10 minutes) lands it; see [Cache.InvalidationStats]. Other nodes cannot
// learn of the write until it lands: during an outage they keep serving
// what they hold (in their L1, or from the backend once it is back) until
// the invalidation lands or the response's freshness ends. With Redis
// frozen and resumed, the invalidation landed 55 ms after Redis answered
// again and the other node served the new version 2 ms later
// (TestRedisInvalidationSurvivesOutage).
//
// # Hit-for-miss
//
// A URL whose response could not be stored for a reason of the response
// itself (Set-Cookie, private, no-store, no freshness, Vary: *, streamed)
// is marked for Options.PassTTL: its requests run the handler each on
// their own instead of queueing behind one shared call, and the first
// storable response is stored and clears the mark.
//
// # Not shared unless storable
//
// The handler runs inside memo's fetch, writing to a recorder. A response
// that may not be stored — Set-Cookie, private, no-store, no freshness,
// 206, flushed, hijacked, aborted, incomplete (cut off at the load
// timeout, or a body that does not match its Content-Length), larger than
// MaxBodySize, or an error a client can provoke (400, 413, 414, 431, 5xx;
// see Options.StoreAllErrors) — is returned as memo.Result.Private: the
// callers that were coalesced on it each run the handler themselves. Past
// MaxBodySize the response streams to its own client (memory stays
// bounded) and is not stored. A handler panic aborts every response
// waiting on it; nothing is stored.
//
// # Cookies and credentials
//
// A request carrying Cookie is answered from the cache like any other, but
// its response is stored only if it says public or s-maxage
// (Options.CookieRequests relaxes this); a response with Set-Cookie is
// never stored.
//
// A request carrying Authorization: its response is stored and shared
// with every client when it says public, s-maxage or must-revalidate, as
// RFC 9111 §3.5 requires; otherwise it is not stored. WARNING: an origin
// that marks a per-user answer public leaks it to everyone; set
// Options.PrivateAuthorization to never store responses to requests with
// Authorization. A stored response is served to a request with
// Authorization only if it is explicitly shareable the same way.
//
// # Tags
//
// Tags (surrogate keys) come from Options.TagHeader. Each tag has a
// generation in a second memo cache; a stored response records the
// generations of its tags, and a hit whose generations moved is a miss.
// PurgeTags is one write per tag, seen by every node through memo's L1
// invalidation. Generations are the values of one purge sequence per
// namespace, a backend counter that expires (memo.MaxTTL plus a week after
// the last purge, renewed by each) and, when lost (expired or evicted),
// restarts from the wall clock in nanoseconds, above every value it issued
// before, so a purge never reissues a generation that a stored response
// recorded (while node clocks agree to better than the time between the
// last purge and the loss).
//
// # RFC coverage
//
// Measured with the public cache-tests suite (cache-tests.fyi) behind a
// reverse proxy: 147 of its 160 required tests pass by default and 158
// with StoreAllErrors, ClientControl and StaleIfError; every other result
// is explained in CONFORMANCE.md, and scripts/cache-tests reproduces it.
//
// Implemented: RFC 9111 §3 storing rules for a shared cache (GET/HEAD,
// status codes, no-store, private, no-cache, max-age, s-maxage, Expires,
// public, must-revalidate, proxy-revalidate, Authorization §3.5), §4.1
// Vary (normalised values, Vary: *), §4.2 freshness with the §4.2.3 age
// calculation (Age, Date, invalid Expires = expired, invalid Age ignored,
// first duplicate directive wins, delta-seconds capped at 2^31), §4.2.2
// heuristic freshness (10% of Last-Modified age, capped; not for errors or
// requests with credentials), §4.3 validation of stale entries with
// If-None-Match / If-Modified-Since and §4.3.4 freshening from a 304, §4.4
// invalidation after unsafe methods (target URI, same-origin Location and
// Content-Location), §5.1 Age on responses from cache, §5.2.1 request
// directives (max-age, min-fresh, no-cache, no-store only with
// Options.ClientControl; only-if-cached always). RFC 9110 §13 preconditions
// on stored 200 responses (If-None-Match weak, If-Modified-Since,
// If-Match, If-Unmodified-Since → 304/412). RFC 9211 Cache-Status (hit,
// fwd=uri-miss|vary-miss|stale|bypass|method, fwd-status, stored,
// collapsed, ttl, key with Options.Debug). RFC 9213 targeted fields
// (Options.TargetedField, CDN-Cache-Control by default) parsed as RFC 8941
// dictionaries: a syntax error or a known directive of the wrong type
// (max-age="60", no-store=1) makes the whole field ignored, and
// Cache-Control applies. RFC 5861 stale-while-revalidate and
// stale-if-error: a stale response replaces a handler's 5xx (not a 4xx)
// within the response's stale-if-error window, or else
// Options.StaleIfError (default 0: never); must-revalidate,
// proxy-revalidate, s-maxage and no-cache rule it out
// (TestStaleIfErrorRules).
//
// HTTP dates (Date, Expires, Last-Modified, If-Modified-Since,
// If-Unmodified-Since) are parsed strictly in the three RFC 9110 §5.6.7
// formats, GMT only; an invalid Expires means already expired. The
// weekday, month and "GMT" are matched case-insensitively although the
// grammar is case-sensitive: the value stays unambiguous and the
// cache-tests suite expects it. If-Modified-Since on a stored response
// without Last-Modified compares with its Date, else the time it was
// received (RFC 9111 §4.3.2). Range requests (RFC 9110 §14) are answered
// from the stored complete 200 through http.ServeContent: one byte range
// is a 206, an unsatisfiable one a 416 with "Content-Range: bytes */len",
// If-Range is honoured (strong ETag or exact date); several ranges or
// another unit get the whole 200. The handler never sees Range, and a 206
// it sends is never stored. 1xx interim responses (103 Early Hints) reach
// the client waiting on a miss and are never stored (a hit sends none;
// coalesced callers get none). Vary matching normalises Accept-Language
// (case, spaces, q-values as numbers, members ordered by weight; the sent
// order among equal weights is kept, being a preference) and
// Accept-Encoding (to the coding the response used).
//
// Not implemented: multipart/byteranges (several ranges get the whole
// 200), serving ranges of a response too large to store, request
// max-stale, qualified no-cache/private field names (treated as
// the unqualified directive: not stored), must-understand, storing
// responses to methods other than GET, invalidation of other URIs than
// Location/Content-Location, combining partial content, Pragma beyond
// "no-cache" with ClientControl, and the Cache-Control "immutable"
// extension (parsed, no effect).
package middleware
