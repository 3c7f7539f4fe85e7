// Command cachetestproxy is a caching reverse proxy for running the public
// HTTP cache test suite (github.com/http-tests/cache-tests) against the
// middleware: the middleware in front of an httputil.ReverseProxy to the
// suite's origin server. See middleware/CONFORMANCE.md and
// scripts/cache-tests; it is a test tool, not an example of a production
// proxy, and it is not run by CI.
//
//	go run ./middleware/internal/cachetestproxy -listen 127.0.0.1:8080 -origin http://127.0.0.1:8000
//
// Only loopback addresses are accepted for -listen, -origin and -redis.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cachetestproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on (loopback)")
	originURL := flag.String("origin", "http://127.0.0.1:8000", "the suite's origin server (loopback)")
	redisAddr := flag.String("redis", "", "redis-server address (loopback); empty: the memory backend")
	storeAllErrors := flag.Bool("store-all-errors", false, "Options.StoreAllErrors (RFC-maximal error caching)")
	clientControl := flag.Bool("client-control", false, "Options.ClientControl (honour request directives)")
	heuristic := flag.Float64("heuristic", 0, "Options.Heuristic (0: the default)")
	staleIfError := flag.Duration("stale-if-error", 0, "Options.StaleIfError (serve stale on 5xx or a failed origin)")
	backendTimeout := flag.Duration("backend-timeout", 0, "Memo.BackendTimeout (0: memo's default, 250ms); raise it on a loaded machine")
	verbose := flag.Bool("v", false, "log at debug level")
	flag.Parse()

	origin, err := url.Parse(*originURL)
	if err != nil {
		return err
	}
	for _, a := range []string{*listen, origin.Host, *redisAddr} {
		if a != "" && !loopback(a) {
			return fmt.Errorf("%q is not a loopback address", a)
		}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	var b backend.Backend
	if *redisAddr == "" {
		mb, err := memory.New(nil)
		if err != nil {
			return err
		}
		defer mb.Close()
		b = mb
	} else {
		rb, err := goredis.Dial(&redis.UniversalOptions{Addrs: []string{*redisAddr}}, nil)
		if err != nil {
			return err
		}
		defer rb.Close()
		b = rb
	}
	c, err := middleware.New(b, &middleware.Options{
		StoreAllErrors: *storeAllErrors,
		ClientControl:  *clientControl,
		Heuristic:      *heuristic,
		StaleIfError:   *staleIfError,
		Logger:         logger,
		Memo:           &memo.Options{BackendTimeout: *backendTimeout},
	})
	if err != nil {
		return err
	}
	defer c.Close()

	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(origin)
			r.Out.Host = r.In.Host
		},
		// A fresh origin connection per request: some of the suite's
		// responses leave bytes on a kept-alive connection (Go's client
		// logs "Unsolicited response received on idle HTTP channel"),
		// which must not reach another test.
		Transport: &http.Transport{DisableKeepAlives: true},
		ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	h := harnessDirect(c.Handler(proxy), proxy)
	if *verbose {
		h = logged(logger, h)
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.Info("listening", "addr", *listen, "origin", origin.String())
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// harnessDirect sends the suite's own control requests (PUT /config/<id>
// before each test, GET /state/<id>) straight to the origin: they are not
// test traffic, and through the cache each PUT is an unsafe-method
// invalidation, which now and then refuses the store of a concurrent test's
// load (memo's invalidation sequence is striped, and such a false positive
// errs on the side of not storing), making that test flaky.
func harnessDirect(cached, direct http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/config/") || strings.HasPrefix(r.URL.Path, "/state/") {
			direct.ServeHTTP(w, r)
			return
		}
		cached.ServeHTTP(w, r)
	})
}

// logged logs each request's method, URL, test id, status, Cache-Status
// and duration at debug level.
func logged(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.Debug("request", "method", r.Method, "url", r.URL.String(), "test", r.Header.Get("Test-ID"),
			"req", r.Header.Get("Req-Num"), "status", rec.status, "cache-status", w.Header().Get("Cache-Status"),
			"dur", time.Since(t0))
	})
}

// statusWriter records the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// loopback reports whether the host of a host:port address is a loopback
// name or address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
