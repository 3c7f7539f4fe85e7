package benchmarks

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// patternKeys is how many keys each DeletePattern benchmark call deletes
// (about a third per master).
const patternKeys = 3000

// patternDeleter deletes every key matching pattern and returns how many
// it deleted.
type patternDeleter func(ctx context.Context, pattern string) (int64, error)

// scanUnlinkNode is the hand-written floor for one master: SCAN with
// COUNT 500, then one pipeline of single-key UNLINKs (no CROSSSLOT) per
// page, on that master's node client.
func scanUnlinkNode(ctx context.Context, node *redis.Client, pattern string) (int64, error) {
	var n int64
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, pattern, goredis.DefaultScanCount).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			pipe := node.Pipeline()
			cmds := make([]*redis.IntCmd, len(keys))
			for i, k := range keys {
				cmds[i] = pipe.Unlink(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return n, err
			}
			for _, c := range cmds {
				n += c.Val()
			}
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// parallelScanUnlink runs scanUnlinkNode on every master at once
// (ClusterClient.ForEachMaster).
func parallelScanUnlink(cc *redis.ClusterClient) patternDeleter {
	return func(ctx context.Context, pattern string) (int64, error) {
		var mu sync.Mutex
		var total int64
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := scanUnlinkNode(ctx, node, pattern)
			mu.Lock()
			total += n
			mu.Unlock()
			return err
		})
		return total, err
	}
}

// sequentialScanUnlink runs scanUnlinkNode on one master after another.
func sequentialScanUnlink(cc *redis.ClusterClient) patternDeleter {
	return func(ctx context.Context, pattern string) (int64, error) {
		var mu sync.Mutex
		var nodes []*redis.Client
		if err := cc.ForEachMaster(ctx, func(_ context.Context, node *redis.Client) error {
			mu.Lock()
			nodes = append(nodes, node)
			mu.Unlock()
			return nil
		}); err != nil {
			return 0, err
		}
		var total int64
		for _, node := range nodes {
			n, err := scanUnlinkNode(ctx, node, pattern)
			total += n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
}

// clusterKeys returns the number of keys on every master of cc (DBSIZE).
func clusterKeys(ctx context.Context, b *testing.B, cc *redis.ClusterClient) int64 {
	var mu sync.Mutex
	var n int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		size, err := node.DBSize(ctx).Result()
		mu.Lock()
		n += size
		mu.Unlock()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkDeletePatternInterleaved: backend/goredis DeletePattern on a
// 3-master Cluster (its own, so nothing else is in the key space) against
// a hand-written SCAN + UNLINK loop per master, run on all masters at
// once (parallel) and one master after another (sequential), in the same
// run. Each round fills 3,000 keys (not timed) before each of the three
// deletes, in an order that rotates every round, and checks that every
// key was deleted (the count, and DBSIZE of every master, not timed).
// Reports the median ns per delete of 3,000 keys for each and the ratios
// of the medians, deletepattern/parallel and deletepattern/sequential.
// Issue 11's target: deletepattern/parallel ≤ 1.0.
func BenchmarkDeletePatternInterleaved(b *testing.B) {
	cl := redistest.StartCluster(b, 3)
	cc := cl.Client(b)
	be, err := goredis.New(cc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	ctx := context.Background()
	prefix := redistest.Prefix(b)
	items := make([]backend.Item, patternKeys)
	for i := range items {
		items[i] = backend.Item{Key: fmt.Sprintf("%suser:%d:profile", prefix, i), Value: value128, TTL: time.Hour}
	}
	impls := []struct {
		name string
		del  patternDeleter
	}{
		{"deletepattern", be.DeletePattern},
		{"parallel", parallelScanUnlink(cc)},
		{"sequential", sequentialScanUnlink(cc)},
	}
	spent := make([][]time.Duration, len(impls))
	rounds := 0
	for b.Loop() {
		for j := range impls {
			i := (rounds + j) % len(impls)
			b.StopTimer()
			if err := be.SetMany(ctx, items); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			t0 := time.Now()
			n, err := impls[i].del(ctx, prefix+"*")
			spent[i] = append(spent[i], time.Since(t0))
			if err != nil || n != patternKeys {
				b.Fatalf("%s = %d, %v; want %d deleted", impls[i].name, n, err, patternKeys)
			}
			b.StopTimer()
			if left := clusterKeys(ctx, b, cc); left != 0 {
				b.Fatalf("%s left %d keys on the masters", impls[i].name, left)
			}
			b.StartTimer()
		}
		rounds++
	}
	// Medians, not sums: on a shared 2-core machine one stall of tens of
	// milliseconds would otherwise decide the ratio.
	med := make([]float64, len(impls))
	for i, im := range impls {
		slices.Sort(spent[i])
		med[i] = float64(spent[i][len(spent[i])/2])
		b.ReportMetric(med[i], im.name+"-ns/op")
	}
	b.ReportMetric(med[0]/med[1], "deletepattern/parallel")
	b.ReportMetric(med[0]/med[2], "deletepattern/sequential")
}
