package middleware

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// unsafe passes an unsafe request through and, when it succeeds,
// invalidates its target URI and the same-origin Location and
// Content-Location (RFC 9111 §4.4).
func (c *Cache) unsafe(next http.Handler, w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	w.Header().Add("Cache-Status", c.o.Name+"; fwd=method")
	next.ServeHTTP(sw, r)
	status := sw.status
	if status == 0 {
		status = http.StatusOK // a handler that wrote nothing answered 200
	}
	if status < 200 || status >= 400 {
		return
	}
	// One backend budget for the whole invalidation (target, Location,
	// Content-Location).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), c.budget)
	defer cancel()
	for _, u := range c.writeTargets(r, w.Header()) {
		c.invalidateAfterWrite(ctx, u)
	}
}

// writeTargets returns the URLs an unsafe request invalidates (see urlOf):
// its target and the same-origin Location and Content-Location.
func (c *Cache) writeTargets(r *http.Request, h http.Header) []string {
	g := r.Clone(r.Context())
	g.Method = http.MethodGet
	var urls []string
	if key, ok := c.key(g); ok {
		urls = append(urls, urlOf(key))
	}
	for _, f := range []string{"Location", "Content-Location"} {
		loc := h.Get(f)
		if loc == "" {
			continue
		}
		u, err := r.URL.Parse(loc)
		if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, r.Host)) {
			continue
		}
		g.URL = u
		if key, ok := c.key(g); ok && !slices.Contains(urls, urlOf(key)) {
			urls = append(urls, urlOf(key))
		}
	}
	return urls
}

// statusWriter records the status of a passed-through response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
