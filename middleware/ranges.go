package middleware

import (
	"bytes"
	"net/http"
	"strings"
	"time"
)

// serveRange answers a Range request from a stored complete 200 (RFC
// 9110 §14): one range is a 206 with Content-Range, an unsatisfiable one
// a 416 with "Content-Range: bytes */length", and If-Range (a strong
// entity tag, or the exact Last-Modified date) sends the whole response
// when it does not match. net/http's ServeContent does the range work.
// It returns false, for the caller to send the whole 200, when the
// request asks for several ranges (allowed by §14.2, and it spares the
// multipart encoding) or the range unit is not bytes. The header of the
// response (h) is already set from the stored one.
func (c *Cache) serveRange(w http.ResponseWriter, r *http.Request, e *entry) bool {
	rg := r.Header.Get("Range")
	if rg == "" || strings.Contains(rg, ",") || !strings.HasPrefix(rg, "bytes=") {
		return false
	}
	h := w.Header()
	delete(h, "Content-Length") // ServeContent sets it
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // the stored response had none: do not sniff one
	}
	var modtime time.Time
	if lm, ok := parseDate(h.Values("Last-Modified")); ok {
		modtime = lm
	}
	http.ServeContent(w, r, "", modtime, bytes.NewReader(e.Body))
	return true
}
