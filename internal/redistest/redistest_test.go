package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestStandaloneFaults(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := s.Client(t)
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("Set: %v", err)
	}

	s.Pause(t)
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := c.Get(cctx, "k").Err()
	cancel()
	if took := time.Since(start); err == nil || took > 2*time.Second {
		t.Fatalf("Get on paused server = %v after %v, want a timeout near 100ms", err, took)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("Get on paused server error = %v, want a deadline error", err)
	}
	s.Resume(t)
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("Get after resume = %q, %v, want v", v, err)
	}

	s.Restart(t)
	// The old pooled connection is dead; go-redis drops it. Data is gone.
	var got error
	for i := 0; i < 3; i++ {
		if got = c.Get(ctx, "k").Err(); got != nil && got.Error() == "redis: nil" {
			break
		}
	}
	if got == nil || got.Error() != "redis: nil" {
		t.Fatalf("Get after restart = %v, want redis: nil (empty server)", got)
	}

	s.Kill(t)
	cctx, cancel = context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := c.Ping(cctx).Err(); err == nil {
		t.Fatalf("Ping after Kill succeeded")
	}
}

func TestStartN(t *testing.T) {
	t.Parallel()
	servers := StartN(t, 3)
	seen := map[string]bool{}
	for _, s := range servers {
		if seen[s.Addr] {
			t.Fatalf("duplicate address %s", s.Addr)
		}
		seen[s.Addr] = true
		if err := s.Client(t).Ping(t.Context()).Err(); err != nil {
			t.Fatalf("Ping %s: %v", s.Addr, err)
		}
	}
}

func TestSharedCluster(t *testing.T) {
	t.Parallel()
	cl := SharedCluster(t)
	if len(cl.Nodes) != 3 {
		t.Fatalf("nodes = %d, want 3", len(cl.Nodes))
	}
	c := cl.Client(t)
	ctx := t.Context()
	p := Prefix(t)
	for i := 0; i < 100; i++ {
		if err := c.Set(ctx, fmt.Sprintf("%sk%d", p, i), i, time.Minute).Err(); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	// Keys must be spread over all masters.
	for _, n := range cl.Nodes {
		size, err := n.Client(t).DBSize(ctx).Result()
		if err != nil || size == 0 {
			t.Fatalf("DBSIZE on %s = %d, %v; want > 0", n.Addr, size, err)
		}
	}
	if SharedCluster(t) != cl {
		t.Fatalf("SharedCluster returned a different cluster on second call")
	}
}

func TestShared(t *testing.T) {
	t.Parallel()
	s := Shared(t)
	if Shared(t) != s {
		t.Fatalf("Shared returned a different server on second call")
	}
	if err := s.Client(t).Ping(t.Context()).Err(); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

type fakeTB struct {
	testing.TB
	failed, skipped string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }

func TestRequireMissing(t *testing.T) {
	old := lookPath
	lookPath = func(string) (string, error) { return "", errors.New("not found") }
	t.Cleanup(func() { lookPath = old })

	t.Setenv("CI", "true")
	f := &fakeTB{TB: t}
	Require(f)
	if f.failed == "" || !strings.Contains(f.failed, "apt-get install -y redis-server") {
		t.Fatalf("Require under CI=true: failed=%q, want a failure with the install hint", f.failed)
	}

	t.Setenv("CI", "")
	f = &fakeTB{TB: t}
	Require(f)
	if f.skipped == "" || f.failed != "" {
		t.Fatalf("Require without CI: skipped=%q failed=%q, want a skip", f.skipped, f.failed)
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	p := Prefix(t)
	if strings.ContainsAny(p[:len(p)-1], "*?[]{}\\: /") || !strings.HasSuffix(p, ":") {
		t.Fatalf("Prefix = %q, want no special characters and a trailing ':'", p)
	}
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	s := StartSentinel(t)
	c := s.FailoverClient(t)
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("Set through Sentinel: %v", err)
	}
	if v, err := s.Master.Client(t).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("Get on the master = %q, %v; want the value written through Sentinel", v, err)
	}
}

func TestMoveSlot(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
	cc := c.Client(t)
	ctx := t.Context()
	// A migration is finished safely only once the masters' config epochs
	// are distinct and known everywhere; with epochs still settling, the
	// new owner lost the slot and its keys (0, want 150, in CI).
	for i, n := range c.Nodes {
		nodes, err := n.Client(t).ClusterNodes(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		epochs := map[string]bool{}
		for line := range strings.Lines(nodes) {
			if f := strings.Fields(line); len(f) > 6 && f[6] != "0" {
				epochs[f[6]] = true
			}
		}
		if len(epochs) != 3 {
			t.Fatalf("node %d sees config epochs %v right after StartCluster, want 3 distinct non-zero:\n%s", i, epochs, nodes)
		}
	}
	slot, err := cc.ClusterKeySlot(ctx, "m").Result()
	if err != nil {
		t.Fatal(err)
	}
	from := min(int(slot)/(16384/3), 2)
	to := (from + 1) % 3
	for i := range 150 {
		if err := cc.Set(ctx, fmt.Sprintf("{m}:%d", i), "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MoveSlot(ctx, int(slot), from, to); err != nil {
		t.Fatalf("MoveSlot(%d, %d → %d) = %v", slot, from, to, err)
	}
	for i, want := range map[int]int64{from: 0, to: 150} {
		n, err := c.Nodes[i].Client(t).ClusterCountKeysInSlot(ctx, int(slot)).Result()
		if err != nil || n != want {
			t.Fatalf("node %d: CLUSTER COUNTKEYSINSLOT %d = %d, %v; want %d", i, slot, n, err, want)
		}
	}
	if v, err := cc.Get(ctx, "{m}:7").Result(); err != nil || v != "v" {
		t.Fatalf("Get after the move = %q, %v; want v (the client follows MOVED)", v, err)
	}

	// Finishing a migration whose source still holds keys would make Redis
	// refuse it or delete those keys: FinishMigration refuses, keeping them.
	if err := c.BeginMigration(ctx, int(slot), to, from); err != nil {
		t.Fatal(err)
	}
	if err := c.MigrateKeys(ctx, to, from, "{m}:1", "{m}:2"); err != nil {
		t.Fatal(err)
	}
	if err := c.FinishMigration(ctx, int(slot), from); err == nil || !strings.Contains(err.Error(), "still holds 148 keys") {
		t.Fatalf("FinishMigration with 148 keys left on the source = %v, want an error saying so", err)
	}
	if err := c.MigrateSlotKeys(ctx, int(slot), to, from); err != nil {
		t.Fatal(err)
	}
	if err := c.FinishMigration(ctx, int(slot), from); err != nil {
		t.Fatalf("FinishMigration after MigrateSlotKeys = %v", err)
	}
	if n, err := c.Nodes[from].Client(t).ClusterCountKeysInSlot(ctx, int(slot)).Result(); err != nil || n != 150 {
		t.Fatalf("node %d after moving slot %d back: CLUSTER COUNTKEYSINSLOT = %d, %v; want 150", from, slot, n, err)
	}
}

// TestClusterReplicasFailover: every master has an in-sync replica, and
// after Failover the replica owns the slots and the old master follows it.
func TestClusterReplicasFailover(t *testing.T) {
	t.Parallel()
	c := StartClusterReplicas(t, 3)
	ctx := t.Context()
	if len(c.Replicas) != 3 {
		t.Fatalf("Replicas = %d, want 3", len(c.Replicas))
	}
	oldMaster, replica := c.Nodes[0].Addr, c.Replicas[0].Addr
	if err := c.Failover(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if c.Nodes[0].Addr != replica || c.Replicas[0].Addr != oldMaster {
		t.Fatalf("after Failover(0): Nodes[0] %s, Replicas[0] %s; want %s, %s", c.Nodes[0].Addr, c.Replicas[0].Addr, replica, oldMaster)
	}
	role, err := c.Replicas[0].Client(t).Do(ctx, "role").Slice()
	if err != nil || len(role) == 0 || role[0] != "slave" {
		t.Fatalf("ROLE of the old master = %v, %v; want slave", role, err)
	}
}

// TestPortTakenByAnother: a server launched on a port another server
// already serves fails to bind and exits, and launch must not take the
// other server's PONG for its own (another test binary can take a port
// between freePort and the bind).
func TestPortTakenByAnother(t *testing.T) {
	t.Parallel()
	other := Start(t)
	s := &Server{Addr: other.Addr, Port: other.Port, bin: Require(t), dir: t.TempDir()}
	err := s.launch()
	if err == nil {
		s.stop()
		t.Fatalf("launch on %s, a port another redis-server serves = nil, want an error", other.Addr)
	}
	if !strings.Contains(err.Error(), "another process") && !strings.Contains(err.Error(), "process exited") {
		t.Fatalf("launch on a taken port = %v, want it to name the other process (or our exit)", err)
	}
	// Start itself moves on to another port.
	if s2 := Start(t); s2.Port == other.Port {
		t.Fatalf("Start took port %d, already served", s2.Port)
	}
}
