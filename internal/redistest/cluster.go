package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster, every slot assigned and cluster_state:ok on
// every node: masters only ([StartCluster]), or one replica per master
// ([StartClusterReplicas]).
type Cluster struct {
	// Nodes are the masters; node i owns an equal share of the 16384 slots.
	Nodes []*Server
	// Replicas[i] replicates Nodes[i]; empty for a cluster of masters only.
	Replicas []*Server
}

// StartCluster starts a cluster of masters (at least 1; 3 is the usual) and
// stops it in tb's cleanup.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	c, err := startCluster(Require(tb), tb.TempDir(), masters)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(func() {
		for _, n := range c.Nodes {
			n.stop()
		}
	})
	return c
}

// Addrs returns the addresses of the cluster's nodes.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// Client returns a go-redis ClusterClient for c with ContextTimeoutEnabled.
// It is closed in tb's cleanup.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

func startCluster(bin, dir string, masters int) (*Cluster, error) {
	if masters < 1 {
		return nil, fmt.Errorf("cluster needs at least 1 master, got %d", masters)
	}
	c := &Cluster{}
	fail := func(err error) (*Cluster, error) {
		for _, n := range c.Nodes {
			n.stop()
		}
		return nil, err
	}
	busPorts := make([]int, masters)
	for i := 0; i < masters; i++ {
		s, busPort, err := startClusterNode(bin, dir)
		if err != nil {
			return fail(err)
		}
		busPorts[i] = busPort
		c.Nodes = append(c.Nodes, s)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, masters)
	for i, n := range c.Nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
		defer clients[i].Close()
	}
	per := 16384 / masters
	for i, cl := range clients {
		lo, hi := i*per, (i+1)*per-1
		if i == masters-1 {
			hi = 16383
		}
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fail(fmt.Errorf("CLUSTER ADDSLOTSRANGE on %s: %w", c.Nodes[i].Addr, err))
		}
		// Distinct config epochs before the nodes meet, as redis-cli
		// --cluster create assigns them. Left at 0, the epochs collide and
		// are settled by gossip after cluster_state:ok; a slot migration
		// finished while they still settle (SETSLOT NODE bumps the
		// importing node's epoch) can then lose to a stale claim of the
		// old owner, and the new owner deletes the slot's keys.
		if err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fail(fmt.Errorf("CLUSTER SET-CONFIG-EPOCH on %s: %w", c.Nodes[i].Addr, err))
		}
	}
	for i := 1; i < masters; i++ {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", c.Nodes[i].Port, busPorts[i]).Err(); err != nil {
			return fail(fmt.Errorf("CLUSTER MEET %s: %w", c.Nodes[i].Addr, err))
		}
	}
	// Wait until every node reports cluster_state:ok and knows every master.
	for {
		ready := true
		for _, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				return fail(fmt.Errorf("CLUSTER INFO: %w", err))
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)+"\r") {
				ready = false
				break
			}
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil || len(slots) != masters {
				ready = false
				break
			}
			if nodes, err := cl.ClusterNodes(ctx).Result(); err != nil || !epochsKnown(nodes, masters) {
				ready = false
				break
			}
		}
		if ready {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return fail(fmt.Errorf("cluster not ready: %w", ctx.Err()))
		case <-time.After(20 * time.Millisecond): // polling cluster gossip: no event to wait on
		}
	}
}

// epochsKnown reports whether a CLUSTER NODES reply shows the config
// epochs 1…masters, one per master, as startCluster assigned them.
func epochsKnown(nodes string, masters int) bool {
	seen := make(map[string]bool, masters)
	for line := range strings.Lines(nodes) {
		f := strings.Fields(line)
		if len(f) < 7 || !strings.Contains(f[2], "master") {
			continue
		}
		seen[f[6]] = true
	}
	for e := 1; e <= masters; e++ {
		if !seen[strconv.Itoa(e)] {
			return false
		}
	}
	return len(seen) == masters
}

// startClusterNode starts one cluster-enabled node, not yet part of any
// cluster, and returns it with its cluster bus port.
func startClusterNode(bin, dir string) (*Server, int, error) {
	// Pick the bus port anew on each attempt: another test binary may take
	// a free port between our check and the server's bind.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var busPort int
		if busPort, err = freePort(); err != nil {
			continue
		}
		var s *Server
		s, err = start(bin, dir, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(busPort),
			"--cluster-node-timeout", "5000",
		})
		if err == nil {
			return s, busPort, nil
		}
	}
	return nil, 0, err
}
