package lockx

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestTryAcquireGetAfterFailover: a folded grant sent on a connection to a
// demoted primary (a Sentinel failover client's pooled connection to the
// old master) is answered READONLY, while the read queued behind it is
// served by that replica. backend/goredis's guard sends the grant again
// on a fresh connection, which reaches the new primary and is granted.
// The read that comes with the grant must then be one made after it on
// the server that granted it, not the replica's reply to the read sent
// before the grant: that one may be stale (here the new primary no longer
// holds the key; the replica still has the old value).
//
// The client dials the address it is pointed at when it dials, as a
// failover client asks Sentinel for the current master when it dials.
func TestTryAcquireGetAfterFailover(t *testing.T) {
	t.Parallel()
	primary := redistest.Start(t)                                // the new primary: the key is gone
	old := redistest.Start(t, "--repl-diskless-sync-delay", "0") // the data set the demoted server replicates
	demoted := redistest.Start(t)                                // still serves the stale value
	ctx := t.Context()
	if err := old.Client(t).Set(ctx, "k", "stale", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	raw := demoted.Client(t)
	if err := raw.Do(ctx, "replicaof", "127.0.0.1", old.Port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for raw.Get(ctx, "k").Val() != "stale" {
		if time.Now().After(deadline) {
			t.Fatal("the demoted server never synced")
		}
		time.Sleep(10 * time.Millisecond) // polling replication with a deadline
	}

	var target atomic.Pointer[string] // where the next dial goes
	target.Store(&demoted.Addr)
	client := redis.NewClient(&redis.Options{
		Addr:                  demoted.Addr,
		ContextTimeoutEnabled: true,
		PoolSize:              1,
		PipelinePoolSize:      1,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, *target.Load())
		},
	})
	t.Cleanup(func() { _ = client.Close() })
	b := mustBackend(t, client, nil)
	l := mustLocker(t)(New(client, withPrefix(t, nil)))
	if !l.GetsFrom(b) {
		t.Fatal("GetsFrom = false, want the fold")
	}
	// A pipeline connection to the old master, then the failover.
	pipe := client.Pipeline()
	pipe.Ping(ctx)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	target.Store(&primary.Addr)

	release, ok, v, getErr, err := l.TryAcquireGet(ctx, "n", b, "k")
	if err != nil || !ok {
		t.Fatalf("TryAcquireGet = ok %v, %v; want granted by the new primary", ok, err)
	}
	defer func() { _, _ = release(context.WithoutCancel(ctx)) }()
	p := primary.Client(t)
	if n := p.Exists(ctx, l.key("n")).Val(); n != 1 {
		t.Fatalf("the lock is not on the new primary (EXISTS = %d)", n)
	}
	if n := p.Exists(ctx, "k").Val(); n != 0 {
		t.Fatalf("the new primary holds k (EXISTS = %d)", n)
	}
	if v != nil || !errors.Is(getErr, backend.ErrNotFound) {
		t.Fatalf("TryAcquireGet's read = %q, %v; want ErrNotFound, what a read after the grant on the server that granted it returns", v, getErr)
	}
}
