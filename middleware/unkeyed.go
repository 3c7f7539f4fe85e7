package middleware

import (
	"net/http"
	"net/textproto"
	"strings"
)

// Request fields that proxies and frameworks use to rebuild the URL, the
// scheme, the host, the method or the client's address, but that are not
// part of the key. A shared fetch never passes them to the handler, so a
// client cannot make the response stored for everyone depend on them
// (cache poisoning), unless they are keyed (Options.KeyHeaders, or
// X-Forwarded-Host and -Proto with Options.TrustForwarded) or trusted
// (Options.TrustedHeaders). They are matched by family, after
// canonicalisation and with "_" read as "-" (CGI-style frameworks merge
// the two).
var (
	unkeyedPrefixes = []string{
		"X-Forwarded-", "X-Original-", "X-Originating-", "X-Rewrite-", "X-Override-",
		"X-Http-Method", "X-Method-Override", "X-Http-Host", "X-Host", "X-Real-", "X-Client-",
		"X-Cluster-Client-", "True-Client-", "Cf-Connecting-", "X-Proxy", "Proxy-", "X-Url-",
		"X-Scheme", "X-Https", "X-Ssl", "Front-End-", "X-Backend-", "X-Origin-", "X-Server-",
		"X-Envoy-Original-", "X-Arr-", "X-Frontend-", "X-Base-", "X-Request-Uri",
	}
	unkeyedNames = map[string]bool{
		"Forwarded": true, "X-Forwarded": true, "Base-Url": true, "Request-Uri": true,
		"Destination": true, "Https": true, "Ssl": true, "Front-End-Https": true,
	}
)

// unkeyedField reports whether the request field name belongs to a family
// of unkeyed routing fields (see unkeyedPrefixes).
func unkeyedField(name string) bool {
	name = textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
	if unkeyedNames[name] {
		return true
	}
	for _, p := range unkeyedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// stripUnkeyed removes from h (the request a shared fetch sends to the
// handler) the unkeyed routing fields that are neither keyed nor trusted.
func (c *Cache) stripUnkeyed(h http.Header) {
	for name := range h {
		if unkeyedField(name) && !c.keepField[textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))] {
			delete(h, name)
		}
	}
}
