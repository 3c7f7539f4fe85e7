// Command feed is cachekit's example service, the Go counterpart of the
// Django/Redis guide's real-world examples: a feed whose expensive query
// runs once per page however many callers (HTTP cache with tag purge), a
// post read-through cache, chat messages written through under a lock,
// like counters, sessions in the cache, invalidation endpoints, live stats
// at /debug/cache and Prometheus metrics at /metrics.
//
// From the repository root:
//
//	go -C examples/feed run .                                 # embedded memory backend
//	go -C examples/feed run . -redis redis://127.0.0.1:6379/1 # Redis
//	go -C examples/feed run . -redis redis://127.0.0.1:7000,redis://127.0.0.1:7001  # Cluster seeds
//	go -C examples/feed run . -load 30s                       # load generator, then a summary
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "feed:", err)
		os.Exit(1)
	}
}

// run is the whole program: parse args, serve until ctx ends (or, with
// -load, run the load generator and return). ready, when set, is called
// with the base URL once the server listens.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(base string)) error {
	fs := flag.NewFlagSet("feed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address (with -load: default a free port)")
	fs.StringVar(&cfg.redis, "redis", "", "Redis URL (redis://127.0.0.1:6379/1), or comma-separated Cluster seeds; default: the embedded memory backend")
	fs.DurationVar(&cfg.delay, "delay", 100*time.Millisecond, "cost of every database query")
	fs.IntVar(&cfg.users, "users", 50, "number of users (each has 30 posts and follows 5 others)")
	fs.DurationVar(&cfg.load, "load", 0, "run the built-in load generator this long against the service, print a summary and exit")
	fs.IntVar(&cfg.workers, "workers", 16, "load generator: concurrent clients")
	fs.Float64Var(&cfg.writeMix, "writes", 0.05, "load generator: fraction of requests that write")
	fs.StringVar(&cfg.keyPrefix, "prefix", "feed:", "prefix of every cache namespace")
	fs.DurationVar(&cfg.backendTO, "backend-timeout", 0, "bound of every cache backend call, past which a caller fails open (0: memo's default, 250ms)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addrSet := false
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	if cfg.load > 0 && !addrSet {
		cfg.addr = "127.0.0.1:0"
	}
	if cfg.users < 7 || cfg.writeMix < 0 || cfg.writeMix > 1 || cfg.delay < 0 || cfg.backendTO < 0 {
		return errors.New("-users must be ≥ 7, -writes within [0, 1], -delay and -backend-timeout ≥ 0")
	}

	a, err := newApp(cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.stats.run(ctx)

	base := "http://" + ln.Addr().String()
	backendName := "embedded memory backend"
	if cfg.redis != "" {
		backendName = "Redis at " + cfg.redis
	}
	fmt.Fprintf(stdout, "listening on %s (%s; every database query costs %v)\n\n%s\nopen %s/debug/cache in a browser for live charts\n",
		base, backendName, cfg.delay, usage(base), base)
	if ready != nil {
		ready(base)
	}

	if cfg.load > 0 {
		fmt.Fprintf(stdout, "\nload: %v, %d clients, Zipf keys, %.0f%% writes\n", cfg.load, cfg.workers, 100*cfg.writeMix)
		s := a.loadTest(ctx, base, cfg.load, stderr)
		fmt.Fprint(stdout, s)
	} else {
		select {
		case <-ctx.Done():
		case err := <-served:
			return err
		}
	}
	shutdown, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelShutdown()
	return srv.Shutdown(shutdown)
}
