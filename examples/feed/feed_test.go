package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the example's main path (run) with args on a free port and
// returns its base URL; the service stops at the end of the test.
func start(t *testing.T, args ...string) (base string, out *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	// A generous backend timeout: on a loaded test machine a Redis round
	// trip can pass memo's 250 ms default, and the engine then correctly
	// fails open (loads without storing in line), which is not what these
	// tests check.
	args = append([]string{"-addr", "127.0.0.1:0", "-backend-timeout", "5s"}, args...)
	go func() {
		done <- run(ctx, args, out, out, func(b string) { ready <- b })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run() = %v", err)
		}
	})
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("run() = %v before listening; output:\n%s", err, out)
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not start within 30s")
	}
	return base, out
}

type response struct {
	status      int
	cacheStatus string
	body        string
}

func call(t *testing.T, method, target string, form url.Values) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header.Get("Cache-Status"), string(b)}
}

// driveService is the walk-through the start-up banner prints, checked:
// MISS then HIT, purge then MISS, reactions counted, the chat written
// through, /debug/cache and /metrics answering.
func driveService(t *testing.T, base string) {
	feed := base + "/feed/1"
	if r := call(t, "GET", feed, nil); r.status != 200 || !strings.Contains(r.cacheStatus, "fwd=uri-miss") || !strings.Contains(r.cacheStatus, "stored") {
		t.Fatalf("first GET /feed/1 = %d, Cache-Status %q; want 200, a stored miss", r.status, r.cacheStatus)
	}
	if r := call(t, "GET", feed, nil); !strings.HasPrefix(r.cacheStatus, "cachekit; hit") {
		t.Fatalf("second GET /feed/1 Cache-Status = %q, want a hit", r.cacheStatus)
	}
	// User 1 follows users 2-6; post 90 is user 3's newest, on page 1.
	if r := call(t, "PUT", base+"/posts/90", url.Values{"title": {"Edited"}}); r.status != 200 || !strings.Contains(r.body, `"purged_tag": "author-3"`) {
		t.Fatalf("PUT /posts/90 = %d %s, want 200 purging author-3", r.status, r.body)
	}
	r := call(t, "GET", feed, nil)
	if !strings.Contains(r.cacheStatus, "fwd=") || strings.HasPrefix(r.cacheStatus, "cachekit; hit") {
		t.Fatalf("GET /feed/1 after the purge Cache-Status = %q, want a miss", r.cacheStatus)
	}
	if !strings.Contains(r.body, `"title": "Edited"`) {
		t.Errorf("GET /feed/1 after the purge does not show the edited post")
	}
	// A feed without user 3's posts is not purged by author-3.
	call(t, "GET", base+"/feed/10", nil)
	call(t, "PUT", base+"/posts/90", url.Values{"title": {"Edited again"}})
	if r := call(t, "GET", base+"/feed/10", nil); !strings.HasPrefix(r.cacheStatus, "cachekit; hit") {
		t.Errorf("GET /feed/10 after purging author-3 Cache-Status = %q, want a hit (user 10 does not follow user 3)", r.cacheStatus)
	}

	if r := call(t, "GET", base+"/posts/7", nil); r.cacheStatus != "cachekit-memo; fwd=miss" {
		t.Errorf("first GET /posts/7 Cache-Status = %q, want a miss", r.cacheStatus)
	}
	if r := call(t, "GET", base+"/posts/7", nil); !strings.HasPrefix(r.cacheStatus, "cachekit-memo; hit") {
		t.Errorf("second GET /posts/7 Cache-Status = %q, want a hit", r.cacheStatus)
	}
	if r := call(t, "GET", base+"/posts/99999", nil); r.status != 404 {
		t.Errorf("GET /posts/99999 = %d, want 404", r.status)
	}

	// Reactions: the same client likes twice (counted once), then unlikes.
	for i, want := range []string{`"reactions": 1`, `"reactions": 1`} {
		if r := call(t, "POST", base+"/posts/7/like", nil); !strings.Contains(r.body, want) {
			t.Errorf("like #%d = %s, want %s", i+1, r.body, want)
		}
	}
	if r := call(t, "GET", base+"/posts/7/reactions", nil); !strings.Contains(r.body, `"reactions": 1`) {
		t.Errorf("GET reactions = %s, want 1", r.body)
	}
	if r := call(t, "POST", base+"/posts/7/unlike", nil); !strings.Contains(r.body, `"reactions": 0`) {
		t.Errorf("unlike = %s, want 0", r.body)
	}

	for _, text := range []string{"hello", "world"} {
		if r := call(t, "POST", base+"/chat/general", url.Values{"text": {text}}); r.status != 201 {
			t.Fatalf("POST /chat/general = %d %s", r.status, r.body)
		}
	}
	var chat struct{ Messages []Message }
	if err := json.Unmarshal([]byte(call(t, "GET", base+"/chat/general", nil).body), &chat); err != nil {
		t.Fatal(err)
	}
	if len(chat.Messages) != 2 || chat.Messages[0].Text != "world" {
		t.Errorf("GET /chat/general = %+v, want world then hello", chat.Messages)
	}

	checkLogin(t, base)

	if r := call(t, "POST", base+"/admin/clear/posts", nil); r.status != 200 {
		t.Errorf("clear posts = %d %s", r.status, r.body)
	}
	if r := call(t, "GET", base+"/posts/7", nil); r.cacheStatus != "cachekit-memo; fwd=miss" {
		t.Errorf("GET /posts/7 after clearing the namespace Cache-Status = %q, want a miss", r.cacheStatus)
	}
	if r := call(t, "POST", base+"/admin/invalidate", url.Values{"namespace": {"http"}, "prefix": {"/feed/"}}); r.status != 200 {
		t.Errorf("invalidate http /feed/ = %d %s", r.status, r.body)
	}
	if r := call(t, "GET", base+"/feed/10", nil); strings.HasPrefix(r.cacheStatus, "cachekit; hit") {
		t.Errorf("GET /feed/10 after the prefix invalidation Cache-Status = %q, want a miss", r.cacheStatus)
	}

	var snap snapshot
	if r := call(t, "GET", base+"/debug/cache", nil); r.status != 200 || json.Unmarshal([]byte(r.body), &snap) != nil {
		t.Fatalf("GET /debug/cache = %d %s", r.status, r.body)
	}
	if s := snap.Caches["http"]; s.HitsL1+s.HitsBackend < 2 || s.Loads < 3 {
		t.Errorf("/debug/cache http = %+v, want ≥ 2 hits and ≥ 3 loads", s)
	}
	if snap.Locks.Acquired < 2 {
		t.Errorf("/debug/cache locks = %+v, want ≥ 2 acquired (chat messages)", snap.Locks)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/debug/cache", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(html), "<svg") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /debug/cache (HTML) has no chart: %.200s", html)
	}

	metrics := call(t, "GET", base+"/metrics", nil).body
	for _, re := range []string{
		`cachekit_hits_total\{namespace="http",tier="(l1|backend)"\} [1-9]`,
		`cachekit_loads_total\{namespace="posts",outcome="ok"\} [1-9]`,
		`cachekit_load_duration_seconds_count\{namespace="http",outcome="ok"\} [1-9]`,
		`cachekit_breaker_open\{namespace="posts"\} 0`,
		`cachekit_lock_acquired_total\{locker="locks"\} [1-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("/metrics has no line matching %s", re)
		}
	}
	if r := call(t, "GET", base+"/debug/otel", nil); r.status != 200 || !strings.Contains(r.body, "cachekit.cache.hits") {
		t.Errorf("GET /debug/otel = %d %.200s", r.status, r.body)
	}
}

func TestServiceOnMemory(t *testing.T) {
	t.Parallel()
	base, out := start(t, "-delay", "5ms")
	if !strings.Contains(out.String(), "curl -si "+base+"/feed/1") {
		t.Errorf("the start-up banner shows no curl command for %s:\n%s", base, out)
	}
	driveService(t, base)
}

func TestServiceOnRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	base, _ := start(t, "-delay", "5ms", "-redis", "redis://"+srv.Addr+"/1", "-prefix", redistest.Prefix(t))
	driveService(t, base)
}

func TestServiceOnRedisCluster(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	var seeds []string
	for _, a := range c.Addrs() {
		seeds = append(seeds, "redis://"+a)
	}
	base, _ := start(t, "-delay", "5ms", "-redis", strings.Join(seeds, ","), "-prefix", redistest.Prefix(t))
	driveService(t, base)
}

func TestLoadGeneratorPrintsASummary(t *testing.T) {
	t.Parallel()
	_, out := start(t, "-delay", "2ms", "-load", "500ms", "-workers", "4")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "hit ratio    ") {
		if time.Now().After(deadline) {
			t.Fatalf("no summary after 30s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond) // run returns after the summary; poll its output
	}
	s := out.String()
	for _, re := range []string{`requests +[1-9]\d* \(0 errors\)`, `loader calls +[1-9]`, `latency +p50 \S+ +p99 \S+`, `hit ratio +0\.\d+`, `\[=+\]`} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("load output has no match for %s:\n%s", re, s)
		}
	}
}

// dbQueries reads the service's database query count from /debug/cache.
func dbQueries(t *testing.T, base string) int64 {
	t.Helper()
	var snap snapshot
	if err := json.Unmarshal([]byte(call(t, "GET", base+"/debug/cache", nil).body), &snap); err != nil {
		t.Fatal(err)
	}
	return snap.DBQueries
}

// stampede sends n concurrent GETs of path, spread over bases, all with
// the Host a load balancer in front of the instances would pass (the host
// is part of the HTTP cache key), and fails the test on any non-200
// answer.
func stampede(t *testing.T, n int, path string, bases ...string) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", bases[i%len(bases)]+path, nil)
			req.Host = "feed.example"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("GET %s: %v", path, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("GET %s = %d", path, resp.StatusCode)
			}
		})
	}
	wg.Wait()
}

// TestFeedStampedeRunsOneQuery: 50 concurrent callers of a cold feed page
// cost one database query.
func TestFeedStampedeRunsOneQuery(t *testing.T) {
	t.Parallel()
	base, _ := start(t, "-delay", "200ms")
	before := dbQueries(t, base)
	stampede(t, 50, "/feed/2", base)
	if got := dbQueries(t, base) - before; got != 1 {
		t.Errorf("database queries for 50 concurrent cold GETs = %d, want 1", got)
	}
}

// TestFeedStampedeAcrossProcessesOnRedis: two instances of the service
// on one Redis (with the Redis Locker) run one query for a cold page
// requested concurrently on both.
func TestFeedStampedeAcrossProcessesOnRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	args := []string{"-delay", "300ms", "-redis", "redis://" + srv.Addr + "/1", "-prefix", redistest.Prefix(t)}
	a, _ := start(t, args...)
	b, _ := start(t, args...)
	before := dbQueries(t, a) + dbQueries(t, b)
	stampede(t, 40, "/feed/3", a, b)
	if got := dbQueries(t, a) + dbQueries(t, b) - before; got != 1 {
		t.Errorf("database queries over two instances for 40 concurrent cold GETs = %d, want 1\nA: %s\nB: %s", got,
			call(t, "GET", a+"/debug/cache", nil).body, call(t, "GET", b+"/debug/cache", nil).body)
	}
}

// checkLogin logs in through the session store (extra/scs on the
// service's backend), posts as that user, and logs out.
func checkLogin(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path string, form url.Values) string {
		t.Helper()
		resp, err := client.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	me := func() string {
		t.Helper()
		resp, err := client.Get(base + "/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post("/login", url.Values{"user": {"ada"}})
	if got := me(); !strings.Contains(got, `"user": "ada"`) {
		t.Errorf("GET /me after login = %s, want ada", got)
	}
	if got := post("/chat/login-room", url.Values{"text": {"hi"}}); !strings.Contains(got, `"user": "ada"`) {
		t.Errorf("POST /chat as ada = %s, want the message signed by ada", got)
	}
	post("/logout", nil)
	if got := me(); !strings.Contains(got, `"user": ""`) {
		t.Errorf("GET /me after logout = %s, want no user", got)
	}
}
