package middleware

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cachekit/cachekit/memo"
)

// tagGens returns the current generation of each tag, creating missing
// ones. A missing tag may have been purged before its generation expired
// or was evicted, so it gets a new random generation (never a fixed "not
// purged" value, which would make responses stored before that purge
// current again); random generations are never above a render's purge
// snapshot (see storeTags).
func (c *Cache) tagGens(ctx context.Context, tags []string) ([]uint64, error) {
	m, err := c.tags.GetMany(ctx, tags, func(_ context.Context, missing []string) (map[string]uint64, error) {
		out := make(map[string]uint64, len(missing))
		for _, t := range missing {
			out[t] = rand.Uint64() | 1<<63
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	gens := make([]uint64, len(tags))
	for i, t := range tags {
		gens[i] = m[t]
	}
	return gens, nil
}

// tagsCurrent reports whether no tag of e was purged since e was stored.
// When the generations cannot be read it answers true (fail-open).
func (c *Cache) tagsCurrent(ctx context.Context, e *entry) bool {
	if len(e.Tags) == 0 {
		return true
	}
	gens, err := c.tagGens(ctx, e.Tags)
	if err != nil {
		return true
	}
	for i, g := range gens {
		if g != e.TagGens[i] {
			return false
		}
	}
	return true
}

// PurgeTags invalidates every response stored with any of tags, on every
// node, in O(1) per tag: each tag moves to a new generation and entries
// recording an older one are misses from then on.
func (c *Cache) PurgeTags(ctx context.Context, tags ...string) error {
	// Each purge takes the next value of a cluster-wide sequence as the
	// tags' generation (see purgeseq.go), so a render that started before
	// the purge (and snapshotted the sequence then) can tell it was
	// overtaken. Without the sequence, a random generation still
	// invalidates.
	gen := rand.Uint64() | 1<<63
	if n, err := c.seq(ctx, 1); err == nil {
		gen = n
		c.renewSeq(ctx)
	}
	var errs []error
	for _, t := range tags {
		errs = append(errs, c.tags.Set(ctx, t, gen))
	}
	return errors.Join(errs...)
}

// purgeMark is the tag purge sequence seen before a render; known=false
// when it could not be read (then no render is treated as overtaken).
type purgeMark struct {
	seq   uint64
	known bool
}

// purgeSnapshot returns the tag purge sequence now.
func (c *Cache) purgeSnapshot(ctx context.Context) purgeMark {
	n, err := c.seq(ctx, 0)
	if err != nil {
		return purgeMark{}
	}
	return purgeMark{seq: n, known: true}
}

// storeTags records the generations of e's tags in it, and marks res
// NoStore when one of them was purged while e was rendered (it may predate
// the purge: serve it, don't store it). ok=false when the generations
// cannot be read: e is then not stored.
func (c *Cache) storeTags(ctx context.Context, key string, e *entry, res *memo.Result[*entry], before purgeMark) (ok bool) {
	tags := parseTags(e.Header.Values(c.o.TagHeader))
	if c.keyed() {
		tags = append(tags, urlTag(urlOf(key)))
	}
	if len(tags) == 0 {
		return true
	}
	gens, err := c.tagGens(ctx, tags)
	if err != nil {
		return false
	}
	e.Tags, e.TagGens = tags, gens
	for _, g := range gens {
		if before.known && g > before.seq && g < 1<<63 {
			res.NoStore = true
		}
	}
	return true
}

// PurgeURL invalidates the stored responses of rawURL (an absolute URL:
// scheme, host, path and query), all its variants and key-header
// variations included, on every node, in O(1) (no scan).
func (c *Cache) PurgeURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("middleware: purge %q: %w", rawURL, err)
	}
	r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
	if u.Scheme == "https" {
		r.TLS = tlsState
	}
	return c.invalidate(ctx, r)
}

// invalidate removes every stored response for r's URL.
func (c *Cache) invalidate(ctx context.Context, r *http.Request) error {
	key, ok := c.key(r)
	if !ok {
		return nil
	}
	return c.invalidateURL(ctx, urlOf(key))
}

// urlOf is the part of a primary key that names the URL (scheme, host,
// path, query), without the key headers and custom key.
func urlOf(key string) string {
	u, _, _ := strings.Cut(key, "&")
	return u
}

// keyed reports whether primary keys carry more than the URL (key headers
// or a custom key), so that one URL has many primary keys.
func (c *Cache) keyed() bool { return len(c.o.KeyHeaders) > 0 || c.o.Key != nil }

// urlTag is the implicit tag of every response stored for url when keys
// are keyed: invalidating the URL purges the tag, O(1) in the number of
// its primary keys. A space never occurs in a tag from a header.
func urlTag(url string) string { return "url " + url }

// invalidateURL invalidates the stored responses of url (see urlOf) on
// every node: its primary key (a vary index orphans its variants), or,
// when keys are keyed, its implicit tag.
func (c *Cache) invalidateURL(ctx context.Context, url string) error {
	if c.keyed() {
		return c.PurgeTags(ctx, urlTag(url))
	}
	return c.resp.Invalidate(ctx, url)
}

func (c *Cache) invalidatePrefix(ctx context.Context, prefix string) (int64, error) {
	n1, err1 := c.resp.InvalidatePrefix(ctx, prefix)
	n2, err2 := c.vars.InvalidatePrefix(ctx, prefix)
	return n1 + n2, errors.Join(err1, err2)
}

// PurgePrefix invalidates every stored response whose URL starts with
// prefix ("https://example.com/docs/"), on every node: one backend scan.
// URLs whose key is longer than about 200 bytes are stored hashed and are
// not matched.
func (c *Cache) PurgePrefix(ctx context.Context, prefix string) (int64, error) {
	u, err := url.Parse(prefix)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return 0, fmt.Errorf("middleware: purge prefix %q: want scheme://host[/path]", prefix)
	}
	host, ok := normHost(u.Host, u.Scheme)
	if !ok {
		return 0, fmt.Errorf("middleware: purge prefix %q: bad host", prefix)
	}
	p := normEscapes(u.EscapedPath())
	return c.invalidatePrefix(ctx, urlPrefix(u.Scheme, host, p))
}

// purge answers a PURGE request.
func (c *Cache) purge(w http.ResponseWriter, r *http.Request) {
	if !c.o.AllowPurge(r) {
		http.Error(w, "purge not allowed", http.StatusForbidden)
		return
	}
	ctx := r.Context()
	var err error
	n := int64(1)
	switch tags := parseTags(r.Header.Values(c.o.TagHeader)); {
	case len(tags) > 0:
		err = c.PurgeTags(ctx, tags...)
		n = int64(len(tags))
	case r.Header.Get("Purge-Prefix") == "1":
		scheme, host, ok := c.origin(r)
		if !ok {
			http.Error(w, "host not allowed", http.StatusBadRequest)
			return
		}
		n, err = c.invalidatePrefix(ctx, urlPrefix(scheme, host, normEscapes(r.URL.EscapedPath())))
	default:
		rr := r.Clone(ctx)
		rr.Method = http.MethodGet
		err = c.invalidate(ctx, rr)
	}
	if err != nil {
		http.Error(w, "purge failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("purged " + strconv.FormatInt(n, 10) + "\n"))
}
