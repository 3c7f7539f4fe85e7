package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartClusterReplicas starts a cluster of masters (at least 1) with one
// replica each, in sync, and stops it in tb's cleanup. Replicas[i]
// replicates Nodes[i]; [Cluster.Failover] promotes it.
func StartClusterReplicas(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	bin := Require(tb)
	c, err := startCluster(bin, tb.TempDir(), masters)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(func() {
		for _, n := range append(c.Nodes, c.Replicas...) {
			n.stop()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.addReplicas(ctx, bin, tb.TempDir()); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return c
}

// addReplicas starts one replica per master, joins it to the cluster and
// waits until every node sees the replicas and each is in sync.
func (c *Cluster) addReplicas(ctx context.Context, bin, dir string) error {
	first := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer first.Close()
	for i := range c.Nodes {
		r, busPort, err := startClusterNode(bin, dir)
		if err != nil {
			return err
		}
		c.Replicas = append(c.Replicas, r)
		if err := first.Do(ctx, "cluster", "meet", "127.0.0.1", r.Port, busPort).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", r.Addr, err)
		}
		id, err := c.NodeID(ctx, i)
		if err != nil {
			return err
		}
		rc := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
		defer rc.Close()
		// The replica must know its master (gossip) before it can follow it.
		err = poll(ctx, func() (bool, error) {
			nodes, err := rc.ClusterNodes(ctx).Result()
			return err == nil && strings.Contains(nodes, id), nil
		})
		if err != nil {
			return fmt.Errorf("%s never learned master %s: %w", r.Addr, id, err)
		}
		if err := rc.Do(ctx, "cluster", "replicate", id).Err(); err != nil {
			return fmt.Errorf("CLUSTER REPLICATE on %s: %w", r.Addr, err)
		}
	}
	return c.waitRoles(ctx)
}

// Failover promotes Replicas[i] with CLUSTER FAILOVER, a manual failover:
// master i stops taking writes until its replica has caught up, the
// replica takes over its slots, and the old master becomes its replica, so
// no acknowledged write is lost. It returns once every node agrees, and
// swaps Nodes[i] and Replicas[i]. It is not safe to call concurrently
// with other methods of c.
func (c *Cluster) Failover(ctx context.Context, i int) error {
	if i < 0 || i >= len(c.Replicas) {
		return fmt.Errorf("redistest: no replica %d in a cluster of %d replicas", i, len(c.Replicas))
	}
	rc := redis.NewClient(&redis.Options{Addr: c.Replicas[i].Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rc.Close()
	if err := rc.Do(ctx, "cluster", "failover").Err(); err != nil {
		return fmt.Errorf("redistest: CLUSTER FAILOVER on %s: %w", c.Replicas[i].Addr, err)
	}
	c.Nodes[i], c.Replicas[i] = c.Replicas[i], c.Nodes[i]
	return c.waitRoles(ctx)
}

// waitRoles waits until every node is in state ok and reports, for each
// i, Nodes[i] as the master of a slot range with Replicas[i] as its only
// replica, and each replica's link to its master is up.
func (c *Cluster) waitRoles(ctx context.Context) error {
	all := append(append([]*Server(nil), c.Nodes...), c.Replicas...)
	clients := make([]*redis.Client, len(all))
	for i, n := range all {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
		defer clients[i].Close()
	}
	want := make(map[string]string, len(c.Nodes)) // master addr → replica addr
	for i, n := range c.Nodes {
		want[n.Addr] = c.Replicas[i].Addr
	}
	err := poll(ctx, func() (bool, error) {
		for i, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false, nil
			}
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil {
				return false, nil
			}
			seen := map[string]bool{}
			for _, s := range slots {
				if len(s.Nodes) != 2 || want[s.Nodes[0].Addr] != s.Nodes[1].Addr {
					return false, nil
				}
				seen[s.Nodes[0].Addr] = true
			}
			if len(seen) != len(c.Nodes) {
				return false, nil
			}
			if i >= len(c.Nodes) { // a replica
				repl, err := cl.Info(ctx, "replication").Result()
				if err != nil || !containsLine(repl, "role:slave") || !containsLine(repl, "master_link_status:up") {
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("redistest: cluster roles never settled (%d masters, %d replicas): %w", len(c.Nodes), len(c.Replicas), err)
	}
	return nil
}

// poll calls ready every 20 ms until it reports true, returns an error,
// or ctx ends. Cluster gossip and replication have no event to wait on.
func poll(ctx context.Context, ready func() (bool, error)) error {
	for {
		ok, err := ready()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
