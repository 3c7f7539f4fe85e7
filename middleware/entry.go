package middleware

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// entry is what the cache stores under a key: a response, or (Index) the
// list of request fields a URL's responses vary on.
type entry struct {
	_msgpack struct{} `msgpack:",as_array"`

	Index bool     // a vary index, not a response
	Vary  []string // index: canonical field names, sorted
	Gen   uint64   // index: generation embedded in its variants' keys

	Status int
	Header http.Header
	Body   []byte

	ResponseTime int64 // unix nanoseconds the response was received
	InitialAge   int64 // corrected initial age (RFC 9111 §4.2.3), ns
	Lifetime     int64 // freshness lifetime, ns
	StaleIfError int64 // ns past freshness it may be served on error
	AuthOK       bool  // may be served to requests with Authorization

	Tags    []string
	TagGens []uint64

	Pass bool // hit-for-miss marker: the URL's last response was not storable

	Codings []string // index: content codings its variants used, sorted
}

// valid reports whether a decoded entry is usable; anything else is
// treated as a miss.
func (e *entry) valid() bool {
	if e == nil {
		return false
	}
	if e.Index {
		return len(e.Vary) > 0 && len(e.Vary) <= 64
	}
	return e.Status >= 200 && e.Status <= 999 && len(e.Tags) == len(e.TagGens) &&
		e.InitialAge >= 0 && e.Lifetime >= 0 && e.StaleIfError >= 0
}

// age is the response's current age (RFC 9111 §4.2.3).
func (e *entry) age(now time.Time) time.Duration {
	resident := now.UnixNano() - e.ResponseTime
	return time.Duration(e.InitialAge + max(resident, 0))
}

// ttl is the remaining freshness (negative when stale).
func (e *entry) ttl(now time.Time) time.Duration {
	return time.Duration(e.Lifetime) - e.age(now)
}

// hopByHop are fields never stored (RFC 9111 §3.1, RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding",
	"Upgrade", "Proxy-Authenticate", "Proxy-Authorization", "Trailer"}

// storedHeader copies h for storage: hop-by-hop fields (and those named in
// Connection) dropped, every slice clipped so that appends by later
// handlers never write into a shared entry.
func storedHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		out[k] = slices.Clip(slices.Clone(v))
	}
	for _, c := range h.Values("Connection") {
		for f := range strings.SplitSeq(c, ",") {
			out.Del(strings.TrimSpace(f))
		}
	}
	for _, f := range hopByHop {
		delete(out, f)
	}
	return out
}

// merge304 returns the stored entry old updated with the header fields of
// a 304 response (RFC 9111 §3.2, §4.3.4). Framing fields are kept from old.
func merge304(old *entry, h http.Header) *entry {
	e := *old
	e.Header = storedHeader(old.Header)
	for k, v := range storedHeader(h) {
		switch k {
		case "Content-Length", "Content-Encoding", "Content-Range", "Content-Type":
			continue
		}
		e.Header[k] = v
	}
	e.Status = old.Status
	return &e
}

// validators reports whether e can be revalidated.
func (e *entry) validators() bool {
	return e.Header.Get("Etag") != "" || e.Header.Get("Last-Modified") != ""
}
