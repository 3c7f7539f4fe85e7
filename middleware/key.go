package middleware

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/http"
	"sort"
	"strings"
)

// keyBuilder accumulates length-prefixed components and hashes them, so
// that no choice of component values can make two different component
// lists collide.
type keyBuilder struct{ buf []byte }

func (k *keyBuilder) add(s string) {
	k.buf = binary.AppendUvarint(k.buf, uint64(len(s)))
	k.buf = append(k.buf, s...)
}

func (k *keyBuilder) sum() string {
	s := sha256.Sum256(k.buf)
	return hex.EncodeToString(s[:16])
}

// origin returns the request's scheme and normalised host, or ok=false
// when the host is not allowed.
func (c *Cache) origin(r *http.Request) (scheme, host string, ok bool) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host = r.Host
	if c.o.TrustForwarded {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host, _, _ = strings.Cut(h, ",")
			host = strings.TrimSpace(host)
		}
	}
	host, ok = normHost(host, scheme)
	if !ok {
		return "", "", false
	}
	if len(c.hosts) > 0 && !c.hosts[host] {
		return "", "", false
	}
	return scheme, host, true
}

// normHost lower-cases host and drops the scheme's default port. It
// rejects anything that is not a plain host[:port].
func normHost(host, scheme string) (string, bool) {
	if host == "" || len(host) > 255 {
		return "", false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("/?#@\\%\"<>{}|^`", c) >= 0 {
			return "", false
		}
	}
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
			if strings.Contains(h, ":") {
				host = "[" + h + "]"
			}
		}
	}
	return host, true
}

// normPath normalises the escaped path: percent-encodings of unreserved
// characters are decoded, others upper-cased. ok=false for a path with dot
// segments or empty segments, which are passed through uncached: routers
// treat them differently (redirects), so folding them into the clean
// path's key could poison it.
func normPath(p string) (string, bool) {
	if p == "" {
		p = "/"
	}
	if p[0] != '/' {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		ch := p[i]
		if ch == '%' {
			if i+2 < len(p) && ishex(p[i+1]) && ishex(p[i+2]) {
				v := unhex(p[i+1])<<4 | unhex(p[i+2])
				if unreserved(v) {
					b.WriteByte(v)
				} else {
					b.WriteByte('%')
					b.WriteByte(upper(p[i+1]))
					b.WriteByte(upper(p[i+2]))
				}
				i += 2
				continue
			}
			b.WriteString("%25")
			continue
		}
		b.WriteByte(ch)
	}
	out := b.String()
	if strings.Contains(out, "//") || strings.Contains(out, "/./") || strings.Contains(out, "/../") ||
		strings.HasSuffix(out, "/.") || strings.HasSuffix(out, "/..") {
		return "", false
	}
	return out, true
}

// normQuery sorts the query's parameters (keeping duplicates and their
// relative order) and normalises their percent-encoding.
func normQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		parts[i] = normEscapes(p)
	}
	sort.SliceStable(parts, func(i, j int) bool {
		ki, _, _ := strings.Cut(parts[i], "=")
		kj, _, _ := strings.Cut(parts[j], "=")
		return ki < kj
	})
	return strings.Join(parts, "&")
}

func normEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if unreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(upper(s[i+1]))
				b.WriteByte(upper(s[i+2]))
			}
			i += 2
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 32
	}
	return c
}

// urlPrefix is the readable part of a key: "<scheme>://<host><path>".
// Purge by prefix matches on it.
func urlPrefix(scheme, host, path string) string {
	return scheme + "://" + host + path
}

// key returns the primary cache key of r: the readable URL prefix, then
// "?" and a hash of the sorted query, the configured key headers and the
// custom key (after "&", when configured). ok=false when r must not be cached (host not allowed,
// non-canonical path).
func (c *Cache) key(r *http.Request) (string, bool) {
	scheme, host, ok := c.origin(r)
	if !ok {
		return "", false
	}
	p, ok := normPath(r.URL.EscapedPath())
	if !ok {
		return "", false
	}
	var kb keyBuilder
	kb.buf = make([]byte, 0, 64)
	kb.add(normQuery(r.URL.RawQuery))
	key := urlPrefix(scheme, host, p) + "?" + kb.sum()
	if len(c.o.KeyHeaders) == 0 && c.o.Key == nil {
		return key, true
	}
	kb.buf = kb.buf[:0]
	for _, h := range c.o.KeyHeaders {
		kb.add(strings.Join(r.Header.Values(h), ","))
	}
	if c.o.Key != nil {
		kb.add(c.o.Key(r))
	}
	return key + "&" + kb.sum(), true
}

// variantKey returns the key of the variant of primary selected by the
// request's values of the Vary fields names, under index generation gen.
// Accept-Encoding is keyed on the codings of codings (the index's) that the
// request accepts, when it accepts any (see encoding.go).
func variantKey(primary string, gen uint64, names []string, codings []string, h http.Header) string {
	var kb keyBuilder
	kb.buf = binary.AppendUvarint(make([]byte, 0, 64), gen)
	for _, n := range names {
		vals, present := h[n]
		if !present {
			kb.add("\x00absent")
			continue
		}
		if n == "Accept-Encoding" {
			if acc, ok := acceptedCodings(vals, codings); ok {
				kb.add("\x00codings:" + strings.Join(acc, ","))
				continue
			}
		}
		if n == "Accept-Language" {
			if norm, ok := normAcceptLanguage(vals); ok {
				kb.add("\x00lang:" + norm)
				continue
			}
		}
		kb.add(normVaryValue(n, vals))
	}
	return primary + "#" + kb.sum()
}

// normVaryValue normalises a request field's value for Vary matching
// (RFC 9111 §4.1): lines are combined, list members trimmed of
// whitespace; content-negotiation fields are case-insensitive.
func normVaryValue(name string, vals []string) string {
	joined := strings.Join(vals, ",")
	members := strings.Split(joined, ",")
	for i, m := range members {
		members[i] = strings.Join(strings.Fields(m), " ")
	}
	out := strings.Join(members, ",")
	switch name {
	case "Accept-Encoding", "Accept-Language", "Accept-Charset", "Accept":
		out = strings.ToLower(out)
	}
	return out
}

// tlsState marks a synthetic request (built for a purge) as https.
var tlsState = &tls.ConnectionState{}
