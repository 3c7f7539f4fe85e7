package goredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestPipelineLostIncrReply: the server is paused past the deadline while
// a pipeline of SET, INCR and GET is in flight. The INCR is reported as
// outcome unknown, never re-sent (the client has MaxRetries 3 and pooled
// idle connections, which is what lets go-redis re-send a pipeline), and
// after the resume the counter has been applied exactly once if the
// pipeline reached the server (never twice); the GET is a plain failure. Both a read timeout and a context deadline are tried.
func TestPipelineLostIncrReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration // context deadline; 0 = rely on ReadTimeout
	}{{"read-timeout", 0}, {"context-deadline", 150 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := redistest.Start(t)
			b := dial(t, &redis.UniversalOptions{Addrs: []string{s.Addr}, ReadTimeout: 100 * time.Millisecond, MaxRetries: 3}, nil)
			ctx := t.Context()
			warm(t, b.Client().(*redis.Client))
			s.Pause(t)
			pctx, cancel := ctx, context.CancelFunc(func() {})
			if tc.timeout > 0 {
				pctx, cancel = context.WithTimeout(ctx, tc.timeout)
			}
			defer cancel()
			res, err := backend.Pipeline(pctx, b, []backend.Op{
				backend.SetOp("k", []byte("v"), time.Minute),
				backend.IncrOp("n", 1, time.Minute),
				backend.GetOp("k"),
			})
			s.Resume(t)
			if err != nil || len(res) != 3 {
				t.Fatalf("Pipeline on a paused server = %v, %v; want 3 results", res, err)
			}
			if res[1].Status() != backend.Unknown || !errors.Is(res[1].Err, backend.ErrOutcomeUnknown) {
				t.Fatalf("Incr with a lost reply = %v (%v), want ErrOutcomeUnknown (unknown)", res[1].Err, res[1].Status())
			}
			if res[0].Status() != backend.Unknown {
				t.Fatalf("Set with a lost reply = %v (%v), want unknown (it may have been applied)", res[0].Err, res[0].Status())
			}
			if res[2].Status() != backend.Failed || errors.Is(res[2].Err, backend.ErrNotFound) {
				t.Fatalf("Get with a lost reply = %v (%v), want a failure that is not a miss", res[2].Err, res[2].Status())
			}
			if tc.timeout > 0 && !errors.Is(res[1].Err, context.DeadlineExceeded) {
				t.Fatalf("Incr past the context deadline = %v, want it to wrap context.DeadlineExceeded", res[1].Err)
			}
			// The SET queued before the INCR tells whether the pipeline
			// reached the server (a fresh connection's handshake can time
			// out first); either way the INCR ran at most once.
			if delivered(t, b.Client(), "k") {
				if n := getInt(t, b.Client(), "n"); n != 1 {
					t.Fatalf("counter after one delivered pipeline with a lost reply = %d, want 1 (sent once)", n)
				}
			} else if err := b.Client().Get(ctx, "n").Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET n = %v after a pipeline that never reached the server, want redis.Nil", err)
			}
		})
	}
}

// delivered polls for key (written by a pipeline sent to a paused server)
// for up to 2 s after the resume.
func delivered(t *testing.T, c redis.UniversalClient, key string) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if c.Exists(t.Context(), key).Val() == 1 {
			return true
		}
		time.Sleep(10 * time.Millisecond) // polling server state: no event to wait on
	}
	t.Logf("the pipeline never reached the server")
	return false
}
