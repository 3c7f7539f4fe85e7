// Package httpcache compares cache hits through cachekit's HTTP middleware
// (github.com/cachekit/cachekit/middleware on backend/memory) with
// github.com/darkweak/souin's net/http middleware (pkg/middleware on its
// default in-memory storage) and with the bare handler, on the same ~1 KiB
// response, in the same run: in process (ServeHTTP into an
// httptest.ResponseRecorder) and over loopback HTTP with a keep-alive load
// generator. See ../README.md for the commands and results.
package httpcache
