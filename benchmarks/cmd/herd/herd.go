package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// The libraries the herd can run against.
const (
	libMemo    = "memo"    // memo over backend/goredis with a lockx Locker
	libGoCache = "gocache" // github.com/go-redis/cache/v9 Once (per-process singleflight)
)

// childEnv carries a child's config (JSON) from the parent. Its presence is
// what makes a process a child (with -child for the program, or on its own
// for the test binary).
const childEnv = "HERD_CHILD"

// config is one herd scenario. The parent hands it, with Child set, to
// every child process.
type config struct {
	Redis      string        `json:"redis"`
	Lib        string        `json:"lib"`
	Run        string        `json:"run"` // unique per run: isolates keys
	Procs      int           `json:"procs"`
	Goroutines int           `json:"goroutines"`
	Load       time.Duration `json:"load"`
	Trials     int           `json:"trials"`
	Child      int           `json:"child"`
	NoLocker   bool          `json:"no_locker"` // memo without its Locker (shows the exit status)
}

func (c config) prefix() string        { return "herd:" + c.Run + ":" + c.Lib }
func (c config) goChannel() string     { return c.prefix() + ":go" }
func (c config) loadsKey(t int) string { return c.prefix() + ":loads:" + strconv.Itoa(t) }

// value is what the loader returns: who loaded it, for which trial.
type value struct {
	Trial int    `msgpack:"t"`
	PID   int    `msgpack:"p"`
	Body  string `msgpack:"b"`
}

// childMsg is one JSON line a child writes on stdout.
type childMsg struct {
	Ready  bool    `json:"ready,omitempty"`
	Armed  int     `json:"armed,omitempty"`
	Result *result `json:"result,omitempty"`
	Fatal  string  `json:"fatal,omitempty"`
}

// result is one child's report of one trial.
type result struct {
	Trial     int      `json:"trial"`
	PID       int      `json:"pid"`
	LatencyNS []int64  `json:"latency_ns"` // one per goroutine
	Errors    []string `json:"errors,omitempty"`
	Values    []string `json:"values"` // distinct values seen ("trial/pid")
	LockWaits uint64   `json:"lock_waits"`
	Coalesced uint64   `json:"coalesced"`
	Expired   uint64   `json:"lock_wait_expired"`
}

// getFunc asks the library under test for the trial's key once.
type getFunc func(ctx context.Context, trial int) (value, error)

// runChild is a child process: it reads "trial N" lines on stdin, arms its
// goroutines, waits for the parent's "go" on Redis pub/sub, and writes one
// JSON result line per trial. It returns when stdin closes.
func runChild(ctx context.Context, cfg config, in io.Reader, out io.Writer) error {
	enc := json.NewEncoder(out)
	client := redis.NewClient(&redis.Options{
		Addr:                  cfg.Redis,
		ContextTimeoutEnabled: true,
		PoolSize:              cfg.Goroutines + 10,
	})
	defer client.Close()

	load := func(ctx context.Context, trial int) (value, error) {
		if err := client.Incr(ctx, cfg.loadsKey(trial)).Err(); err != nil {
			return value{}, err
		}
		time.Sleep(cfg.Load)
		return value{Trial: trial, PID: os.Getpid(), Body: "loaded"}, nil
	}

	var (
		get   getFunc
		stats func() memo.Stats
	)
	switch cfg.Lib {
	case libMemo:
		be, err := goredis.New(client, nil)
		if err != nil {
			return err
		}
		defer be.Close()
		locker, err := lockx.New(client, &lockx.Options{Prefix: cfg.prefix() + ":lock:"})
		if err != nil {
			return err
		}
		opts := &memo.Options{Namespace: cfg.prefix(), TTL: time.Minute, Locker: locker}
		if cfg.NoLocker {
			opts.Locker = nil
		}
		c, err := memo.New[value](be, opts)
		if err != nil {
			return err
		}
		defer c.Close()
		get = func(ctx context.Context, trial int) (value, error) {
			return c.Get(ctx, "t"+strconv.Itoa(trial), func(ctx context.Context) (value, error) {
				return load(ctx, trial)
			})
		}
		stats = c.Stats
	case libGoCache:
		c := gocache.New(&gocache.Options{Redis: client})
		get = func(ctx context.Context, trial int) (value, error) {
			var v value
			err := c.Once(&gocache.Item{
				Ctx:   ctx,
				Key:   cfg.prefix() + ":t" + strconv.Itoa(trial),
				Value: &v,
				TTL:   time.Minute,
				Do:    func(it *gocache.Item) (any, error) { return load(it.Context(), trial) },
			})
			return v, err
		}
		stats = func() memo.Stats { return memo.Stats{} }
	default:
		return fmt.Errorf("unknown library %q", cfg.Lib)
	}

	ps := client.Subscribe(ctx, cfg.goChannel())
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		return fmt.Errorf("subscribe: %w", err)
	}
	// Warm the connection pool so the first trial does not pay for dials.
	var wg sync.WaitGroup
	for range cfg.Goroutines {
		wg.Go(func() { _ = client.Ping(ctx).Err() })
	}
	wg.Wait()
	if err := enc.Encode(childMsg{Ready: true}); err != nil {
		return err
	}

	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var trial int
		if _, err := fmt.Sscanf(sc.Text(), "trial %d", &trial); err != nil {
			return fmt.Errorf("bad command %q", sc.Text())
		}
		before := stats()
		start := make(chan struct{})
		lat := make([]int64, cfg.Goroutines)
		vals := make([]string, cfg.Goroutines)
		errs := make([]error, cfg.Goroutines)
		var wg sync.WaitGroup
		for i := range cfg.Goroutines {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				v, err := get(ctx, trial)
				lat[i] = int64(time.Since(t0))
				vals[i], errs[i] = fmt.Sprintf("%d/%d", v.Trial, v.PID), err
			})
		}
		if err := enc.Encode(childMsg{Armed: trial}); err != nil {
			return err
		}
		for {
			m, err := ps.ReceiveMessage(ctx)
			if err != nil {
				return fmt.Errorf("waiting for go: %w", err)
			}
			if m.Payload == strconv.Itoa(trial) {
				break
			}
		}
		close(start)
		wg.Wait()
		after := stats()
		r := &result{Trial: trial, PID: os.Getpid(), LatencyNS: lat,
			LockWaits: after.LockWaits - before.LockWaits,
			Coalesced: after.Coalesced - before.Coalesced,
			Expired:   after.LockWaitExpired - before.LockWaitExpired}
		for i, err := range errs {
			if err != nil {
				r.Errors = append(r.Errors, err.Error())
			} else if !slices.Contains(r.Values, vals[i]) {
				r.Values = append(r.Values, vals[i])
			}
		}
		if err := enc.Encode(childMsg{Result: r}); err != nil {
			return err
		}
	}
	return sc.Err()
}

// trialReport is the parent's summary of one trial over every child.
type trialReport struct {
	Trial       int
	Loads       int64 // loader calls, counted in Redis across processes
	Callers     int
	Errors      int
	Values      int // distinct values returned
	LockWaits   uint64
	Expired     uint64
	P50, P99    time.Duration
	Max         time.Duration
	LatenciesNS []int64
}

// herd is a running set of child processes for one library.
type herd struct {
	cfg      config
	rdb      *redis.Client
	children []*child
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	dec   *json.Decoder
}

// childCommand returns the command that starts one child for cfg; the
// parent adds the config to its environment.
type childCommand func(ctx context.Context) *exec.Cmd

// startHerd starts cfg.Procs children and waits until each is ready.
func startHerd(ctx context.Context, cfg config, newCmd childCommand) (*herd, error) {
	h := &herd{cfg: cfg, rdb: redis.NewClient(&redis.Options{Addr: cfg.Redis, ContextTimeoutEnabled: true})}
	for i := range cfg.Procs {
		c := cfg
		c.Child = i
		js, _ := json.Marshal(c)
		cmd := newCmd(ctx)
		cmd.Env = append(os.Environ(), childEnv+"="+string(js))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			h.close()
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			h.close()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			h.close()
			return nil, fmt.Errorf("start child: %w", err)
		}
		h.children = append(h.children, &child{cmd: cmd, stdin: stdin, dec: json.NewDecoder(stdout)})
	}
	for i, c := range h.children {
		var m childMsg
		if err := c.dec.Decode(&m); err != nil || !m.Ready {
			h.close()
			return nil, fmt.Errorf("child %d not ready: %v %s", i, err, m.Fatal)
		}
	}
	return h, nil
}

// trial runs one trial: arm every child, release them all at once with one
// PUBLISH, collect their latencies and read the loader count from Redis.
func (h *herd) trial(ctx context.Context, n int) (trialReport, error) {
	rep := trialReport{Trial: n}
	for _, c := range h.children {
		if _, err := fmt.Fprintf(c.stdin, "trial %d\n", n); err != nil {
			return rep, err
		}
	}
	for i, c := range h.children {
		var m childMsg
		if err := c.dec.Decode(&m); err != nil || m.Armed != n {
			return rep, fmt.Errorf("child %d did not arm for trial %d: %v %s", i, n, err, m.Fatal)
		}
	}
	got, err := h.rdb.Publish(ctx, h.cfg.goChannel(), strconv.Itoa(n)).Result()
	if err != nil {
		return rep, err
	}
	if got != int64(len(h.children)) {
		return rep, fmt.Errorf("go message reached %d of %d children", got, len(h.children))
	}
	values := map[string]bool{}
	for i, c := range h.children {
		var m childMsg
		if err := c.dec.Decode(&m); err != nil || m.Result == nil || m.Result.Trial != n {
			return rep, fmt.Errorf("child %d gave no result for trial %d: %v %s", i, n, err, m.Fatal)
		}
		r := m.Result
		rep.LatenciesNS = append(rep.LatenciesNS, r.LatencyNS...)
		rep.Errors += len(r.Errors)
		for _, e := range r.Errors {
			fmt.Fprintf(os.Stderr, "herd: %s trial %d pid %d: %s\n", h.cfg.Lib, n, r.PID, e)
		}
		for _, v := range r.Values {
			values[v] = true
		}
		rep.LockWaits += r.LockWaits
		rep.Expired += r.Expired
	}
	rep.Values = len(values)
	rep.Callers = len(rep.LatenciesNS)
	rep.Loads, err = h.rdb.Get(ctx, h.cfg.loadsKey(n)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return rep, err
	}
	slices.Sort(rep.LatenciesNS)
	rep.P50 = percentile(rep.LatenciesNS, 0.50)
	rep.P99 = percentile(rep.LatenciesNS, 0.99)
	rep.Max = percentile(rep.LatenciesNS, 1)
	return rep, nil
}

// close ends the children (stdin closed: they return) and waits for them.
func (h *herd) close() {
	for _, c := range h.children {
		_ = c.stdin.Close()
	}
	for _, c := range h.children {
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	}
	_ = h.rdb.Close()
}

// percentile returns the q-quantile (nearest rank) of sorted nanoseconds.
func percentile(sorted []int64, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := max(int(math.Ceil(q*float64(len(sorted))))-1, 0)
	return time.Duration(sorted[i])
}

// summary aggregates the trials of one library.
type summary struct {
	Lib               string
	Trials            int
	MinLoads, MaxLoad int64
	TotalLoads        int64
	Errors            int
	P50, P99, Max     time.Duration // over every caller of every trial
}

func summarize(lib string, reps []trialReport) summary {
	s := summary{Lib: lib, Trials: len(reps), MinLoads: math.MaxInt64}
	var all []int64
	for _, r := range reps {
		s.MinLoads = min(s.MinLoads, r.Loads)
		s.MaxLoad = max(s.MaxLoad, r.Loads)
		s.TotalLoads += r.Loads
		s.Errors += r.Errors
		all = append(all, r.LatenciesNS...)
	}
	slices.Sort(all)
	s.P50, s.P99, s.Max = percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1)
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
