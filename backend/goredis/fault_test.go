package goredis_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
)

func TestDeadlineBoundsPausedServer(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{s.Addr}}, nil)
	if err := b.Set(t.Context(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	defer s.Resume(t)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Get(ctx, "k")
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("Get on a paused server with a 100ms context returned after %v, want ≈100ms", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on a paused server = %v, want an error wrapping context.DeadlineExceeded", err)
	}
}

// getInt polls key on c until it exists (the paused server has applied its
// queued commands) and returns its value.
func getInt(t *testing.T, c redis.UniversalClient, key string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := c.Get(t.Context(), key).Result()
		if err == nil {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("GET %s = %q, want an integer", key, v)
			}
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %v, want a value", key, err)
		}
		time.Sleep(10 * time.Millisecond) // polling server state: no event to wait on
	}
}

// TestIncrContextTimeoutNotRetried: a short context ends while the server
// is frozen; the INCR was sent once and is applied once after the resume.
func TestIncrContextTimeoutNotRetried(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{s.Addr}}, nil)
	if _, err := b.Incr(t.Context(), "warm", 1, time.Minute); err != nil { // load the script
		t.Fatal(err)
	}
	s.Pause(t)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	_, err := b.Incr(ctx, "n", 1, time.Minute)
	if !errors.Is(err, backend.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Incr on a paused server = %v, want ErrOutcomeUnknown and context.DeadlineExceeded", err)
	}
	ok, err := b.CompareAndSwap(ctx, "cas", nil, []byte("x"), time.Minute)
	if ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CompareAndSwap with an ended context = %v, %v, want false and context.DeadlineExceeded", ok, err)
	}
	s.Resume(t)
	if n := getInt(t, b.Client(), "n"); n != 1 {
		t.Fatalf("counter after one timed-out Incr = %d, want 1 (sent once)", n)
	}
}

// TestIncrReadTimeoutNotRetried reproduces the FACTS incident: the reply
// is late past ReadTimeout (not the context), where go-redis with its
// default MaxRetries re-sends the command. A raw client on the same
// server shows the retries happen; the Backend's Incr is sent once.
func TestIncrReadTimeoutNotRetried(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	opts := &redis.UniversalOptions{Addrs: []string{s.Addr}, ReadTimeout: 100 * time.Millisecond, MaxRetries: 3}
	b := dial(t, opts, nil)
	raw := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: 100 * time.Millisecond, MaxRetries: 3, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = raw.Close() })
	ctx := t.Context()
	// Load the script. Its reply may take longer than the 100 ms
	// ReadTimeout on a loaded machine: try again, up to 10 s.
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := b.Incr(ctx, "warm", 1, time.Minute)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	// Open several pooled connections: a retry on a fresh connection would
	// block in the connection handshake and never send the command, so
	// idle pooled connections are what let go-redis re-send it.
	warm(t, raw)
	warm(t, b.Client().(*redis.Client))
	s.Pause(t)
	rawErr := raw.Incr(ctx, "raw").Err()
	_, err := b.Incr(ctx, "n", 1, time.Minute)
	ok, casErr := b.CompareAndSwap(ctx, "cas", nil, []byte("1"), time.Minute)
	s.Resume(t)
	if rawErr == nil {
		t.Fatalf("raw INCR on a paused server succeeded")
	}
	if !errors.Is(err, backend.ErrOutcomeUnknown) {
		t.Fatalf("Incr with a late reply = %v, want ErrOutcomeUnknown", err)
	}
	if ok || !errors.Is(casErr, backend.ErrOutcomeUnknown) {
		t.Fatalf("CompareAndSwap with a late reply = %v, %v, want false, ErrOutcomeUnknown", ok, casErr)
	}
	if n := getInt(t, raw, "raw"); n < 2 {
		t.Fatalf("raw go-redis counter = %d, want > 1 (the test relies on go-redis re-sending)", n)
	}
	if n := getInt(t, raw, "n"); n != 1 {
		t.Fatalf("Backend counter after one late Incr = %d, want 1 (never re-sent)", n)
	}
}

// warm opens at least 6 idle connections in c's pool: it holds 6 sticky
// connections at once (each answered a PING), then returns them. The
// clients warmed have a short ReadTimeout (100 ms), which a fresh
// connection's handshake or PING can exceed on a loaded machine ("PING =
// i/o timeout" under -race at load ~10): a connection that times out is
// dropped and another one tried, for up to 10 s.
func warm(t *testing.T, c *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var conns []*redis.Conn
	for len(conns) < 6 {
		cn := c.Conn()
		if err := cn.Ping(t.Context()).Err(); err != nil {
			_ = cn.Close()
			if time.Now().After(deadline) {
				t.Fatalf("PING = %v", err)
			}
			continue // each try waited out a read timeout: no sleep needed
		}
		conns = append(conns, cn)
	}
	for _, cn := range conns {
		_ = cn.Close()
	}
	if n := c.PoolStats().IdleConns; n < 4 {
		t.Fatalf("idle connections = %d, want ≥ 4", n)
	}
}
