package goredis_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// newStandalone returns a Backend over the package's shared server.
func newStandalone(t testing.TB) *goredis.Backend {
	t.Helper()
	return dial(t, &redis.UniversalOptions{Addrs: []string{redistest.Shared(t).Addr}}, nil)
}

// newCluster returns a Backend over the package's shared 3-master cluster.
func newCluster(t testing.TB) *goredis.Backend {
	t.Helper()
	return dial(t, &redis.UniversalOptions{Addrs: redistest.SharedCluster(t).Addrs(), IsClusterMode: true}, nil)
}

func dial(t testing.TB, uo *redis.UniversalOptions, o *goredis.Options) *goredis.Backend {
	t.Helper()
	b, err := goredis.Dial(uo, o)
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// topologies runs fn as parallel subtests on the standalone server and on
// the cluster.
func topologies(t *testing.T, fn func(t *testing.T, b *goredis.Backend)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		new  func(testing.TB) *goredis.Backend
	}{{"standalone", newStandalone}, {"cluster", newCluster}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fn(t, tc.new(t))
		})
	}
}

type goredisBackend = goredis.Backend

var goredisSlot = goredis.Slot

var runSeq atomic.Int64

// prefix is redistest.Prefix made unique per call, so -count=N runs in
// one process do not see each other's keys on the shared servers.
func prefix(t testing.TB) string {
	return redistest.Prefix(t) + strconv.FormatInt(runSeq.Add(1), 10) + ":"
}
