package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// sent returns how many times cmd reached the server since the last
// CONFIG RESETSTAT: calls + rejected_calls + failed_calls of INFO
// commandstats.
func sent(t *testing.T, c *redis.Client, cmd string) int {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for line := range strings.Lines(info) {
		stats, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":")
		if !ok {
			continue
		}
		n := 0
		for f := range strings.SplitSeq(stats, ",") {
			name, v, _ := strings.Cut(f, "=")
			if name == "calls" || name == "rejected_calls" || name == "failed_calls" {
				i, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("commandstats %q: %v", line, err)
				}
				n += i
			}
		}
		return n
	}
	return 0
}

// TestReadOnlyRetriedOnce demotes a standalone primary with REPLICAOF.
// go-redis alone re-sends a SET that gets READONLY MaxRetries times (4
// sends); through the Backend it reaches the server at most twice and
// the error wraps goredis.ErrReadOnly. Incr (a script, never re-sent after
// a lost reply) may be retried once too: READONLY means it did not run.
func TestReadOnlyRetriedOnce(t *testing.T) {
	t.Parallel()
	primary, demoted := redistest.Start(t), redistest.Start(t)
	raw := demoted.Client(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{demoted.Addr}}, nil)
	// A second Backend over the same client must not stack a second guard
	// (which would double the sends).
	b2, err := goredis.New(b.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := b.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set on the primary = %v", err)
	}
	if err := raw.Do(ctx, "replicaof", "127.0.0.1", primary.Port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}

	// The failure the guard prevents, on a client without it.
	plain := redis.NewClient(&redis.Options{Addr: demoted.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = plain.Close() })
	raw.ConfigResetStat(ctx)
	if err := plain.Set(ctx, "k", "v", time.Minute).Err(); !redis.IsReadOnlyError(err) {
		t.Fatalf("plain SET on a replica = %v, want READONLY", err)
	}
	unguarded := sent(t, raw, "set")

	for _, tc := range []struct {
		name string
		cmd  string
		run  func(context.Context) error
	}{
		{"Set", "set", func(ctx context.Context) error { return b.Set(ctx, "k", []byte("v"), time.Minute) }},
		{"Set on a second Backend", "set", func(ctx context.Context) error { return b2.Set(ctx, "k", []byte("v"), time.Minute) }},
		{"Incr", "evalsha", func(ctx context.Context) error { _, err := b.Incr(ctx, "n", 1, time.Minute); return err }},
		{"Delete", "unlink", func(ctx context.Context) error { return b.Delete(ctx, "k") }},
	} {
		raw.ConfigResetStat(ctx)
		err := tc.run(ctx)
		if !errors.Is(err, goredis.ErrReadOnly) || errors.Is(err, backend.ErrOutcomeUnknown) {
			t.Errorf("%s on a demoted primary = %v, want goredis.ErrReadOnly (and not outcome unknown)", tc.name, err)
		}
		if n := sent(t, raw, tc.cmd); n < 1 || n > 2 {
			t.Errorf("%s on a demoted primary reached it %d times, want 1 or 2 (go-redis alone: %d)", tc.name, n, unguarded)
		}
	}
	if unguarded <= 2 {
		t.Logf("go-redis alone sent SET %d times (expected MaxRetries+1 = 4)", unguarded)
	}

	// Reads still work on the replica.
	if _, err := b.Get(ctx, fmt.Sprintf("missing-%d", time.Now().UnixNano())); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get on the replica = %v, want ErrNotFound", err)
	}
}
