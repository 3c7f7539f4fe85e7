package goredis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/backendtest"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestSentinelConformance runs the conformance suite through a Sentinel
// failover client.
func TestSentinelConformance(t *testing.T) {
	s := redistest.StartSentinel(t)
	b, err := goredis.New(s.FailoverClient(t), nil)
	if err != nil {
		t.Fatalf("goredis.New(failover client) = %v", err)
	}
	backendtest.Run(t, func(*testing.T) backend.Backend { return b })
}

// TestSentinelFailover: after a failover the backend writes to the new
// master and still reads what was written before it.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	b, err := goredis.New(s.FailoverClient(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := b.Set(ctx, "before", []byte("v1"), time.Minute); err != nil {
		t.Fatalf("Set before failover: %v", err)
	}
	// Wait until the replica has the key, then fail over to it.
	replica := s.Replica.Client(t)
	deadline := time.Now().Add(10 * time.Second)
	for replica.Get(ctx, "before").Val() != "v1" {
		if time.Now().After(deadline) {
			t.Fatalf("replica never received the key")
		}
		time.Sleep(10 * time.Millisecond) // polling replication with a deadline
	}
	if err := s.Sentinel.Client(t).Do(ctx, "SENTINEL", "FAILOVER", redistest.SentinelMaster).Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	// Until the old master is demoted, writes may still reach it (and be
	// lost: replication is asynchronous); the client must end up writing
	// to the new master.
	deadline = time.Now().Add(30 * time.Second)
	for {
		info, _ := replica.Info(ctx, "replication").Result()
		if strings.Contains(info, "role:master") {
			if err := b.Set(ctx, "after", []byte("v2"), time.Minute); err == nil && replica.Get(ctx, "after").Val() == "v2" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes through the backend never reached the new master; its info:\n%s", info)
		}
		time.Sleep(50 * time.Millisecond) // polling the failover with a deadline
	}
	if v, err := b.Get(ctx, "before"); err != nil || string(v) != "v1" {
		t.Fatalf("Get(before) after failover = %q, %v; want v1", v, err)
	}
}
