// Command herd is cachekit's multi-process thundering-herd benchmark: N OS
// processes × M goroutines ask for one cold key whose loader sleeps, and the
// loader calls are counted in Redis across processes.
//
//	cd benchmarks && go run ./cmd/herd                 # starts its own redis-server
//	go run ./cmd/herd -redis 127.0.0.1:6379 -trials 20  # or uses yours
//
// The program re-executes itself as -procs child processes (os.Executable
// with -child). Each trial uses a fresh key: the parent tells every child
// to arm its goroutines, then releases them all with one Redis PUBLISH.
// Each child reports every goroutine's latency (JSON lines on stdout) and
// the parent prints, per trial, the loader calls and the p50/p99/max
// latency of the callers, for memo (backend/goredis + a lockx Locker) and for
// github.com/go-redis/cache/v9's Once (a per-process singleflight).
//
// The exit status is 1 if any memo trial ran the loader more than once, or
// any call failed. go-redis/cache running the loader once per process is the
// expected reference result, not a failure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() { os.Exit(realMain()) }

// realMain is main returning its exit code, so that deferred clean-ups run.
func realMain() int {
	var (
		addr       = flag.String("redis", "", "Redis address (default: start a redis-server on a free loopback port)")
		libs       = flag.String("libs", libMemo+","+libGoCache, "comma-separated libraries to run: memo, gocache")
		procs      = flag.Int("procs", 4, "child processes")
		goroutines = flag.Int("goroutines", 50, "goroutines per process")
		load       = flag.Duration("load", 50*time.Millisecond, "loader duration")
		trials     = flag.Int("trials", 10, "trials per library, each with a fresh key")
		noLocker   = flag.Bool("no-locker", false, "run memo without its lockx Locker (per-process coalescing only: expect a failure)")
		childMode  = flag.Bool("child", false, "internal: run as a child process (config in $"+childEnv+")")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *childMode {
		return childMain(ctx)
	}
	if *addr == "" {
		a, stopRedis, err := startRedis(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "herd:", err)
			return 1
		}
		defer stopRedis()
		*addr = a
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "herd:", err)
		return 1
	}
	base := config{Redis: *addr, Run: strconv.FormatInt(time.Now().UnixNano(), 36),
		Procs: *procs, Goroutines: *goroutines, Load: *load, Trials: *trials, NoLocker: *noLocker}
	newCmd := func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, self, "-child") }
	ok, err := run(ctx, os.Stdout, base, strings.Split(*libs, ","), newCmd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "herd:", err)
	}
	if err != nil || !ok {
		return 1
	}
	return 0
}

// childMain runs a child from its environment and returns its exit code.
func childMain(ctx context.Context) int {
	var cfg config
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "herd child: bad $%s: %v\n", childEnv, err)
		return 2
	}
	if err := runChild(ctx, cfg, os.Stdin, os.Stdout); err != nil {
		_ = json.NewEncoder(os.Stdout).Encode(childMsg{Fatal: err.Error()})
		fmt.Fprintf(os.Stderr, "herd child %d: %v\n", cfg.Child, err)
		return 1
	}
	return 0
}

// run runs every library's herd and prints the tables. ok is false if a
// memo trial ran the loader more than once or any call failed.
func run(ctx context.Context, w io.Writer, base config, libs []string, newCmd childCommand) (ok bool, err error) {
	fmt.Fprintf(w, "herd: %d processes × %d goroutines, one cold key per trial, loader %v, %d trials, redis %s\n",
		base.Procs, base.Goroutines, base.Load, base.Trials, base.Redis)
	ok = true
	var sums []summary
	for _, lib := range libs {
		cfg := base
		cfg.Lib = strings.TrimSpace(lib)
		reps, err := runLib(ctx, cfg, newCmd)
		if err != nil {
			return false, fmt.Errorf("%s: %w", cfg.Lib, err)
		}
		fmt.Fprintf(w, "\n%s\n", describe(cfg.Lib, cfg.NoLocker))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "trial\tloader calls\tcallers\tp50\tp99\tmax\tlock waits\twaits expired\tvalues\terrors\t")
		for _, r := range reps {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t\n",
				r.Trial, r.Loads, r.Callers, ms(r.P50), ms(r.P99), ms(r.Max), r.LockWaits, r.Expired, r.Values, r.Errors)
			if r.Errors > 0 || (cfg.Lib == libMemo && (r.Loads != 1 || r.Values != 1)) {
				ok = false
			}
		}
		_ = tw.Flush()
		sums = append(sums, summarize(cfg.Lib, reps))
	}
	fmt.Fprintf(w, "\nsummary (latency over every caller of every trial; target for memo: p99 ≤ loader + 10 ms = %s)\n", ms(base.Load+10*time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "library\ttrials\tloader calls/trial\tp50\tp99\tmax\terrors\t")
	for _, s := range sums {
		calls := strconv.FormatInt(s.MinLoads, 10)
		if s.MaxLoad != s.MinLoads {
			calls += "–" + strconv.FormatInt(s.MaxLoad, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t\n", s.Lib, s.Trials, calls, ms(s.P50), ms(s.P99), ms(s.Max), s.Errors)
	}
	_ = tw.Flush()
	if !ok {
		fmt.Fprintln(w, "\nFAIL: a memo trial ran the loader more than once, or calls failed")
	}
	return ok, nil
}

func describe(lib string, noLocker bool) string {
	switch {
	case lib == libMemo && noLocker:
		return "memo WITHOUT a Locker (-no-locker: singleflight per process only)"
	case lib == libMemo:
		return "memo (backend/goredis + lockx Locker; waiters woken by pub/sub)"
	case lib == libGoCache:
		return "go-redis/cache/v9 Once (singleflight per process, no distributed lock)"
	}
	return lib
}

// runLib starts the children for one library and runs its trials.
func runLib(ctx context.Context, cfg config, newCmd childCommand) ([]trialReport, error) {
	h, err := startHerd(ctx, cfg, newCmd)
	if err != nil {
		return nil, err
	}
	defer h.close()
	var reps []trialReport
	for t := 1; t <= cfg.Trials; t++ {
		r, err := h.trial(ctx, t)
		if err != nil {
			return nil, err
		}
		reps = append(reps, r)
	}
	return reps, nil
}

// startRedis starts a throw-away redis-server on a free loopback port and
// waits until it answers PING.
func startRedis(ctx context.Context) (addr string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server not on PATH (apt-get install -y redis-server), or pass -redis host:port")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir, err := os.MkdirTemp("", "herd-redis-")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("redis-server on port %d did not answer PING: %w", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
