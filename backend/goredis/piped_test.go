package goredis_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestPipeGetNonEmpty: the read queued on a caller's pipeline is
// GetNonEmpty's, outcome for outcome (a value, a miss, an empty value, an
// oversized value counted once, a refused key), and it travels in the
// caller's round trip.
func TestPipeGetNonEmpty(t *testing.T) {
	t.Parallel()
	const maxValue = 64
	b := dial(t, &redis.UniversalOptions{Addrs: []string{redistest.Shared(t).Addr}}, &goredis.Options{MaxValueBytes: maxValue})
	c := b.Client()
	ctx := t.Context()
	p := "piped:" + t.Name() + ":"
	for k, v := range map[string]string{"value": "hello", "empty": "", "oversized": strings.Repeat("x", maxValue+1)} {
		if err := c.Set(ctx, p+k, v, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{p + "value", p + "missing", p + "empty", p + "oversized", ""} {
		before := b.OversizedReads()
		want, wantErr := b.GetNonEmpty(ctx, key)
		between := b.OversizedReads()
		pipe := c.Pipeline()
		echo := pipe.Echo(ctx, "mine")
		g := b.PipeGetNonEmpty(ctx, pipe, key)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && key != "" {
			t.Logf("Exec(%q) = %v", key, err)
		}
		if got := b.OversizedReads(); got != between {
			t.Errorf("%q: queueing and sending the read counted %d oversized reads", key, got-between)
		}
		got, err := g.Result(ctx)
		if !bytes.Equal(got, want) || errors.Is(err, backend.ErrNotFound) != errors.Is(wantErr, backend.ErrNotFound) ||
			errors.Is(err, backend.ErrTooLarge) != errors.Is(wantErr, backend.ErrTooLarge) ||
			errors.Is(err, backend.ErrInvalidKey) != errors.Is(wantErr, backend.ErrInvalidKey) || (err == nil) != (wantErr == nil) {
			t.Errorf("%q: piped = %q, %v; GetNonEmpty = %q, %v", key, got, err, want, wantErr)
		}
		if b.OversizedReads()-between != between-before {
			t.Errorf("%q: piped read counted %d oversized reads, GetNonEmpty %d", key, b.OversizedReads()-between, between-before)
		}
		if echo.Val() != "mine" {
			t.Errorf("%q: the caller's own command = %q, %v", key, echo.Val(), echo.Err())
		}
	}
	closed := dial(t, &redis.UniversalOptions{Addrs: []string{redistest.Shared(t).Addr}}, nil)
	_ = closed.Close()
	if _, err := closed.PipeGetNonEmpty(context.Background(), closed.Client().Pipeline(), "k").Result(ctx); !errors.Is(err, backend.ErrClosed) {
		t.Errorf("closed Backend: Result = %v, want ErrClosed", err)
	}
}
