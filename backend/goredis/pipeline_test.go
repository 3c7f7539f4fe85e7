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
			// Checked through a client with the default ReadTimeout: b's
			// 100 ms can run out on a loaded machine.
			check := s.Client(t)
			if delivered(t, check, "k") {
				if n := getInt(t, check, "n"); n != 1 {
					t.Fatalf("counter after one delivered pipeline with a lost reply = %d, want 1 (sent once)", n)
				}
			} else if err := check.Get(ctx, "n").Err(); !errors.Is(err, redis.Nil) {
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

// TestPipelineClusterNodeLost: on a 3-master Cluster, the node owning the
// counter is paused past the read timeout during a pipeline that also
// reads and writes keys on the other nodes. Each node's batch reports on
// its own: the other nodes' ops succeed, the counter's Incr is outcome
// unknown, and the counter is applied at most once (exactly once if its
// node received the batch).
func TestPipelineClusterNodeLost(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	b := dial(t, &redis.UniversalOptions{Addrs: cl.Addrs(), IsClusterMode: true, ReadTimeout: 200 * time.Millisecond, MaxRetries: 3}, nil)
	ctx := t.Context()
	nodeOfKey := func(k string) int { return int(goredisSlot(k)) * len(cl.Nodes) / 16384 }
	counter := "n"
	paused := nodeOfKey(counter)
	var same, others []string // keys on the counter's node, and on the others
	for i := 0; len(same) < 1 || len(others) < 4; i++ {
		k := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if nodeOfKey(k) == paused {
			same = append(same, k)
		} else {
			others = append(others, k)
		}
	}
	ops := []backend.Op{backend.SetOp(same[0], []byte("v"), time.Minute), backend.IncrOp(counter, 1, time.Minute)}
	for _, k := range others {
		ops = append(ops, backend.SetOp(k, []byte(k), time.Minute), backend.GetOp(k))
	}
	// Warm up: slot map, connections, script cache.
	if res, err := backend.Pipeline(ctx, b, []backend.Op{backend.GetOp(same[0]), backend.GetOp(others[0]), backend.IncrOp("warm", 1, time.Minute)}); err != nil || res[2].Err != nil {
		t.Fatalf("warm-up Pipeline = %+v, %v", res, err)
	}
	cl.Nodes[paused].Pause(t)
	res, err := backend.Pipeline(ctx, b, ops)
	cl.Nodes[paused].Resume(t)
	if err != nil || len(res) != len(ops) {
		t.Fatalf("Pipeline = %d results, %v; want %d", len(res), err, len(ops))
	}
	if res[1].Status() != backend.Unknown || !errors.Is(res[1].Err, backend.ErrOutcomeUnknown) {
		t.Fatalf("Incr on the paused node = %v (%v), want ErrOutcomeUnknown", res[1].Err, res[1].Status())
	}
	for i, k := range others {
		set, get := res[2+2*i], res[3+2*i]
		if set.Err != nil || get.Err != nil || string(get.Value) != k {
			t.Fatalf("ops on a healthy node: Set(%q) = %v, Get = %q, %v; want success", k, set.Err, get.Value, get.Err)
		}
	}
	c := cl.Client(t) // the default ReadTimeout: b's 200 ms can run out on a loaded machine
	if delivered(t, c, same[0]) {
		if n := getInt(t, c, counter); n != 1 {
			t.Fatalf("counter after one delivered pipeline with a lost reply = %d, want 1 (sent once)", n)
		}
	} else if err := c.Get(ctx, counter).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET %s = %v after a batch that never reached its node, want redis.Nil", counter, err)
	}
}
