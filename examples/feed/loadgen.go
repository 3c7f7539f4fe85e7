package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// summary is what -load prints.
type summary struct {
	Requests, Errors int64
	Elapsed          time.Duration
	LoaderCalls      uint64 // memo loads (feed pages, posts, chat) during the run
	DBQueries        int64
	P50, P99         time.Duration
	HitRatio         float64
	FirstError       string // the first failed request, if any
}

func (s summary) String() string {
	return fmt.Sprintf("requests     %d (%d errors) in %v, %.0f/s\n"+
		"loader calls %d (database queries %d)\n"+
		"latency      p50 %v  p99 %v\n"+
		"hit ratio    %.3f\n",
		s.Requests, s.Errors, s.Elapsed.Round(time.Millisecond), float64(s.Requests)/s.Elapsed.Seconds(),
		s.LoaderCalls, s.DBQueries, s.P50.Round(time.Microsecond), s.P99.Round(time.Microsecond), s.HitRatio) +
		map[bool]string{true: "first error  " + s.FirstError + "\n"}[s.FirstError != ""]
}

// loadTest drives the service at base for d with Zipf-distributed users
// and posts (a few are hot, most are cold) and a share of writes, showing
// progress on progress, and returns the summary.
func (a *app) loadTest(ctx context.Context, base string, d time.Duration, progress io.Writer) summary {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	workers := max(a.cfg.workers, 1)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	hits0, miss0 := a.stats.totalsLocked()
	loads0, q0 := a.loaderCalls(), a.db.queries.Load()
	var (
		requests, errs atomic.Int64
		firstErr       sync.Once
		firstMsg       string
	)
	lat := make([][]time.Duration, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			users := rand.NewZipf(rng, 1.2, 1, uint64(a.cfg.users-1))
			posts := rand.NewZipf(rng, 1.2, 1, uint64(a.db.Posts()-1))
			for ctx.Err() == nil {
				method, path, form := a.nextRequest(rng, users, posts)
				t0 := time.Now()
				err := do(ctx, client, method, base+path, form)
				if ctx.Err() != nil {
					break // the run ended during this request: not counted
				}
				requests.Add(1)
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { firstMsg = err.Error() })
				}
				if len(lat[w]) < 1_000_000 {
					lat[w] = append(lat[w], time.Since(t0))
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-t.C:
		}
		h, m := a.stats.totalsLocked()
		fmt.Fprintf(progress, "\r%s %5.1fs/%v  %8d requests  hit ratio %.3f ", bar(time.Since(start), d, 30),
			min(time.Since(start), d).Seconds(), d, requests.Load(), ratio(h-hits0, m-miss0))
	}
	fmt.Fprintln(progress)
	all := slices.Concat(lat...)
	slices.Sort(all)
	h, m := a.stats.totalsLocked()
	return summary{Requests: requests.Load(), Errors: errs.Load(), Elapsed: time.Since(start),
		LoaderCalls: a.loaderCalls() - loads0, DBQueries: a.db.queries.Load() - q0,
		P50: percentile(all, 0.50), P99: percentile(all, 0.99), HitRatio: ratio(h-hits0, m-miss0), FirstError: firstMsg}
}

// nextRequest picks the next request of the mix: writes with probability
// cfg.writeMix (likes and unlikes, chat messages, post edits), otherwise
// feed pages and posts.
func (a *app) nextRequest(rng *rand.Rand, users, posts *rand.Zipf) (method, path string, form url.Values) {
	user, post := users.Uint64()+1, posts.Uint64()+1
	if rng.Float64() >= a.cfg.writeMix {
		if rng.IntN(10) < 7 {
			return "GET", fmt.Sprintf("/feed/%d", user), nil
		}
		return "GET", fmt.Sprintf("/posts/%d", post), nil
	}
	switch n := rng.IntN(10); {
	case n < 6:
		verb := "like"
		if rng.IntN(2) == 0 {
			verb = "unlike"
		}
		return "POST", fmt.Sprintf("/posts/%d/%s", post, verb), nil
	case n < 9:
		return "POST", fmt.Sprintf("/chat/room-%d", user%10), url.Values{"text": {"hello"}}
	default:
		return "PUT", fmt.Sprintf("/posts/%d", post), url.Values{"title": {fmt.Sprintf("Edited %d", rng.IntN(1000))}}
	}
}

func do(ctx context.Context, client *http.Client, method, target string, form url.Values) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("%s %s: %s: %s", method, target, resp.Status, strings.TrimSpace(string(b)))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// loaderCalls is the number of memo loads (successful or not) so far.
func (a *app) loaderCalls() uint64 {
	var n uint64
	for _, s := range a.snapshot().Caches {
		n += s.Loads + s.LoadErrors
	}
	return n
}

// totalsLocked is totals under the recorder's lock.
func (r *recorder) totalsLocked() (hits, misses uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.totals()
}

func ratio(hits, misses uint64) float64 {
	if hits+misses == 0 {
		return 0
	}
	return float64(hits) / float64(hits+misses)
}

// bar renders a textual progress bar.
func bar(elapsed, total time.Duration, width int) string {
	n := min(int(float64(width)*elapsed.Seconds()/total.Seconds()), width)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}
