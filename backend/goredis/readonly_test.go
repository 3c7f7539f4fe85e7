package goredis_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// sent returns how many times cmd reached the server since the last
// CONFIG RESETSTAT: calls (run, including those that failed while
// running: failed_calls is a part of calls) + rejected_calls (refused
// before running, as READONLY refuses a write) of INFO commandstats.
func sent(t *testing.T, c *redis.Client, cmd string) int {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for line := range strings.Lines(info) {
		stats, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":")
		if !ok {
			continue
		}
		n := 0
		for f := range strings.SplitSeq(stats, ",") {
			name, v, _ := strings.Cut(f, "=")
			if name == "calls" || name == "rejected_calls" {
				i, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("commandstats %q: %v", line, err)
				}
				n += i
			}
		}
		return n
	}
	return 0
}

// TestReadOnlyRetriedOnce demotes a standalone primary with REPLICAOF.
// go-redis alone re-sends a SET that gets READONLY MaxRetries times (4
// sends); through the Backend it reaches the server at most twice and
// the error wraps goredis.ErrReadOnly. Incr (a script, never re-sent after
// a lost reply) may be retried once too: READONLY means it did not run.
func TestReadOnlyRetriedOnce(t *testing.T) {
	t.Parallel()
	primary, demoted := redistest.Start(t), redistest.Start(t)
	raw := demoted.Client(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{demoted.Addr}}, nil)
	// A second Backend over the same client must not stack a second guard
	// (which would double the sends).
	b2, err := goredis.New(b.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := b.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set on the primary = %v", err)
	}
	if err := raw.Do(ctx, "replicaof", "127.0.0.1", primary.Port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}

	// The failure the guard prevents, on a client without it.
	plain := redis.NewClient(&redis.Options{Addr: demoted.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = plain.Close() })
	raw.ConfigResetStat(ctx)
	if err := plain.Set(ctx, "k", "v", time.Minute).Err(); !redis.IsReadOnlyError(err) {
		t.Fatalf("plain SET on a replica = %v, want READONLY", err)
	}
	unguarded := sent(t, raw, "set")

	for _, tc := range []struct {
		name string
		cmd  string
		run  func(context.Context) error
	}{
		{"Set", "set", func(ctx context.Context) error { return b.Set(ctx, "k", []byte("v"), time.Minute) }},
		{"Set on a second Backend", "set", func(ctx context.Context) error { return b2.Set(ctx, "k", []byte("v"), time.Minute) }},
		{"Incr", "evalsha", func(ctx context.Context) error { _, err := b.Incr(ctx, "n", 1, time.Minute); return err }},
		{"Delete", "unlink", func(ctx context.Context) error { return b.Delete(ctx, "k") }},
	} {
		raw.ConfigResetStat(ctx)
		err := tc.run(ctx)
		if !errors.Is(err, goredis.ErrReadOnly) || errors.Is(err, backend.ErrOutcomeUnknown) {
			t.Errorf("%s on a demoted primary = %v, want goredis.ErrReadOnly (and not outcome unknown)", tc.name, err)
		}
		if n := sent(t, raw, tc.cmd); n < 1 || n > 2 {
			t.Errorf("%s on a demoted primary reached it %d times, want 1 or 2 (go-redis alone: %d)", tc.name, n, unguarded)
		}
	}
	if unguarded <= 2 {
		t.Logf("go-redis alone sent SET %d times (expected MaxRetries+1 = 4)", unguarded)
	}

	// Reads still work on the replica.
	if _, err := b.Get(ctx, fmt.Sprintf("missing-%d", time.Now().UnixNano())); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get on the replica = %v, want ErrNotFound", err)
	}
}

// noSyncDelay are the redis-server arguments of a primary that starts a
// full sync at once (by default it waits 5 s for more replicas).
var noSyncDelay = []string{"--repl-diskless-sync-delay", "0"}

// demote makes s a replica of primary and waits until its replication
// link is up (it has loaded primary's data set).
func demote(t *testing.T, s, primary *redistest.Server) *redis.Client {
	t.Helper()
	raw := s.Client(t)
	ctx := t.Context()
	if err := raw.Do(ctx, "replicaof", "127.0.0.1", primary.Port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := raw.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never synced with its new primary: %v\n%s", s.Addr, err, info)
		}
		time.Sleep(10 * time.Millisecond) // polling replication with a deadline
	}
}

// readOnlyErr fails t unless err wraps goredis.ErrReadOnly and not
// backend.ErrOutcomeUnknown (READONLY means the command did not run).
func readOnlyErr(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, goredis.ErrReadOnly) || errors.Is(err, backend.ErrOutcomeUnknown) {
		t.Errorf("%s on a demoted primary = %v, want goredis.ErrReadOnly (and not outcome unknown)", what, err)
	}
}

// TestReadOnlyPipelines: writes in a pipeline on a demoted primary are
// sent at most twice and fail with goredis.ErrReadOnly, whether the
// pipeline starts with the write (go-redis alone re-sends the whole
// pipeline MaxRetries times) or with a read (go-redis alone reports a bare
// READONLY error); the reads in it succeed. The same holds for SetMany and
// for a pipeline the caller sends on the guarded client.
func TestReadOnlyPipelines(t *testing.T) {
	t.Parallel()
	primary, demoted := redistest.Start(t, noSyncDelay...), redistest.Start(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{demoted.Addr}}, nil)
	ctx := t.Context()
	if err := primary.Client(t).Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	raw := demote(t, demoted, primary)

	plain := redis.NewClient(&redis.Options{Addr: demoted.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = plain.Close() })
	raw.ConfigResetStat(ctx)
	pipe := plain.Pipeline()
	pipe.Set(ctx, "a", "v", time.Minute)
	pipe.Set(ctx, "b", "v", time.Minute)
	_, _ = pipe.Exec(ctx)
	t.Logf("go-redis alone sent a pipeline of 2 SETs refused READONLY %d times each", sent(t, raw, "set")/2)

	writes := func(first backend.Op) []backend.Op {
		return []backend.Op{first, backend.SetOp("k", []byte("x"), time.Minute), backend.IncrOp("n", 1, time.Minute),
			backend.DeleteOp("d"), backend.ExpireOp("k", time.Hour), backend.GetOp("k")}
	}
	for _, tc := range []struct {
		name  string
		first backend.Op
	}{
		{"write first", backend.SetOp("w", []byte("x"), time.Minute)},
		{"read first", backend.GetOp("k")},
	} {
		raw.ConfigResetStat(ctx)
		ops := writes(tc.first)
		res, err := b.Pipeline(ctx, ops)
		if err != nil {
			t.Fatalf("Pipeline(%s) = %v", tc.name, err)
		}
		for i, op := range ops {
			if op.Kind == backend.OpGet {
				if res[i].Err != nil || string(res[i].Value) != "v" {
					t.Errorf("Pipeline(%s)[%d] Get = %q, %v; want v", tc.name, i, res[i].Value, res[i].Err)
				}
				continue
			}
			readOnlyErr(t, fmt.Sprintf("Pipeline(%s)[%d] %v", tc.name, i, op.Kind), res[i].Err)
		}
		for cmd, ops := range map[string]int{"set": 1 + len(ops) - 5, "eval": 1, "unlink": 1, "pexpire": 1} {
			if tc.first.Kind == backend.OpGet && cmd == "set" {
				ops = 1
			}
			if n := sent(t, raw, cmd); n < ops || n > 2*ops {
				t.Errorf("Pipeline(%s) sent %s %d times for %d ops, want %d to %d", tc.name, cmd, n, ops, ops, 2*ops)
			}
		}
	}

	raw.ConfigResetStat(ctx)
	items := []backend.Item{{Key: "a", Value: []byte("1"), TTL: time.Minute}, {Key: "b", Value: []byte("2"), TTL: time.Minute}}
	readOnlyErr(t, "SetMany", b.SetMany(ctx, items))
	if n := sent(t, raw, "set"); n < 2 || n > 4 {
		t.Errorf("SetMany of 2 items sent SET %d times, want 2 to 4", n)
	}

	raw.ConfigResetStat(ctx)
	pipe = b.Client().Pipeline()
	get := pipe.Get(ctx, "k")
	set := pipe.Set(ctx, "k", "x", time.Minute)
	_, err := pipe.Exec(ctx)
	readOnlyErr(t, "a caller's pipeline on the guarded client: Exec", err)
	readOnlyErr(t, "a caller's pipeline on the guarded client: SET", set.Err())
	if get.Val() != "v" {
		t.Errorf("a caller's pipeline on the guarded client: GET = %q, %v; want v", get.Val(), get.Err())
	}
	if n := sent(t, raw, "set"); n < 1 || n > 2 {
		t.Errorf("a caller's pipeline sent SET %d times, want 1 or 2", n)
	}
}

// TestReadOnlyRing: on a Ring whose shard a is demoted, a write to a key
// of shard a is sent at most twice and fails with goredis.ErrReadOnly
// (go-redis' Ring alone re-sends it MaxRetries times), alone or in a
// pipeline or SetMany; writes to shard b go through.
func TestReadOnlyRing(t *testing.T) {
	t.Parallel()
	servers := append(redistest.StartN(t, 2), redistest.Start(t, noSyncDelay...)) // shards a and b, and a primary for a to follow
	r := redis.NewRing(&redis.RingOptions{
		Addrs:                 map[string]string{"a": servers[0].Addr, "b": servers[1].Addr},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = r.Close() })
	b, err := goredis.New(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Two keys on shard a, one on shard b.
	var onA, counterA, onB string
	for i := 0; onA == "" || counterA == "" || onB == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		if err := b.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		switch {
		case servers[0].Client(t).Exists(ctx, k).Val() == 0:
			onB = cmp.Or(onB, k)
		case onA == "":
			onA = k
		default:
			counterA = cmp.Or(counterA, k)
		}
	}
	raw := demote(t, servers[0], servers[2])

	plain := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": servers[0].Addr, "b": servers[1].Addr}})
	t.Cleanup(func() { _ = plain.Close() })
	raw.ConfigResetStat(ctx)
	_ = plain.Set(ctx, onA, "x", time.Minute).Err()
	t.Logf("go-redis' Ring alone sent a SET refused READONLY %d times", sent(t, raw, "set"))

	raw.ConfigResetStat(ctx)
	readOnlyErr(t, "Set on shard a", b.Set(ctx, onA, []byte("x"), time.Minute))
	_, err = b.Incr(ctx, counterA, 1, time.Minute)
	readOnlyErr(t, "Incr on shard a", err)
	if n := sent(t, raw, "set"); n < 1 || n > 2 {
		t.Errorf("Set on shard a reached it %d times, want 1 or 2", n)
	}
	if err := b.Set(ctx, onB, []byte("x"), time.Minute); err != nil {
		t.Errorf("Set on shard b = %v", err)
	}

	raw.ConfigResetStat(ctx)
	res, err := b.Pipeline(ctx, []backend.Op{
		backend.SetOp(onA, []byte("y"), time.Minute), backend.SetOp(onB, []byte("y"), time.Minute), backend.GetOp(onB),
	})
	if err != nil {
		t.Fatal(err)
	}
	readOnlyErr(t, "Pipeline Set on shard a", res[0].Err)
	if res[1].Err != nil || res[2].Err != nil || string(res[2].Value) != "y" {
		t.Errorf("Pipeline Set, Get on shard b = %v, %q, %v; want nil, y, nil", res[1].Err, res[2].Value, res[2].Err)
	}
	readOnlyErr(t, "SetMany on both shards", b.SetMany(ctx, []backend.Item{
		{Key: onA, Value: []byte("z"), TTL: time.Minute}, {Key: onB, Value: []byte("z"), TTL: time.Minute},
	}))
	if n := sent(t, raw, "set"); n < 2 || n > 4 {
		t.Errorf("a pipeline and a SetMany with one SET each for shard a sent it %d times, want 2 to 4", n)
	}
	if v, err := b.Get(ctx, onB); err != nil || string(v) != "z" {
		t.Errorf("Get(shard b) after SetMany = %q, %v; want z", v, err)
	}
}

// TestClusterFailover: on a Cluster with one replica per master, master
// 0's replica takes over (CLUSTER FAILOVER) while Set, Incr, SetMany and
// Pipeline writes to keys of master 0 go through the Backend. The demoted
// master answers a write with MOVED, never READONLY, and go-redis follows
// it to the new master: no write fails, every write that returned nil is
// on the new master afterwards, and the counter equals the number of Incr
// that returned a value.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartClusterReplicas(t, 3)
	b := dial(t, &redis.UniversalOptions{Addrs: c.Addrs(), IsClusterMode: true}, nil)
	ctx := t.Context()
	oldMaster := c.Nodes[0].Client(t)
	// Keys of master 0: it owns slots 0 to 16384/3-1.
	n := 0
	key := func() string {
		for {
			n++
			if k := fmt.Sprintf("fo:%d", n); goredisSlot(k) < 16384/3 {
				return k
			}
		}
	}
	counter := key()

	failover := make(chan error, 1)
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	go func() { failover <- c.Failover(fctx, 0) }() // c is not used until it returns
	acked := map[string]string{}
	var incrs int64
	var errs []error
	check := func(what string, err error) bool {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
		return err == nil
	}
	rounds, after := 0, -1 // after: rounds since the failover completed
	for ; after < 20; rounds++ {
		if after >= 0 {
			after++
		} else {
			select {
			case err := <-failover:
				if err != nil {
					t.Fatal(err)
				}
				after = 0
			default:
			}
		}
		v := strconv.Itoa(rounds)
		if k := key(); check("Set", b.Set(ctx, k, []byte(v), time.Minute)) {
			acked[k] = v
		}
		if _, err := b.Incr(ctx, counter, 1, time.Minute); check("Incr", err) {
			incrs++
		}
		k1, k2 := key(), key()
		if check("SetMany", b.SetMany(ctx, []backend.Item{{Key: k1, Value: []byte(v), TTL: time.Minute}, {Key: k2, Value: []byte(v), TTL: time.Minute}})) {
			acked[k1], acked[k2] = v, v
		}
		k := key()
		res, err := b.Pipeline(ctx, []backend.Op{backend.SetOp(k, []byte(v), time.Minute), backend.IncrOp(counter, 1, time.Minute)})
		if check("Pipeline", err) {
			if check("Pipeline Set", res[0].Err) {
				acked[k] = v
			}
			if check("Pipeline Incr", res[1].Err) {
				incrs++
			}
		}
	}
	for _, err := range errs {
		t.Errorf("a write during the failover failed: %v", err)
	}

	// The mechanism: the demoted master redirects writes.
	if err := oldMaster.Set(ctx, key(), "v", time.Minute).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		t.Errorf("SET on the demoted master = %v, want MOVED", err)
	}
	stats, _ := oldMaster.Info(ctx, "errorstats").Result()
	if !strings.Contains(stats, "errorstat_MOVED:") {
		t.Errorf("the demoted master redirected no write of the Backend (the client never used its stale slot map):\n%s", stats)
	}
	if strings.Contains(stats, "errorstat_READONLY:") {
		t.Errorf("the demoted master answered READONLY:\n%s", stats)
	}

	fresh := c.Client(t)
	for k, v := range acked {
		if got, err := fresh.Get(ctx, k).Result(); err != nil || got != v {
			t.Fatalf("Get(%q) after the failover = %q, %v; want %q (a write acknowledged and lost)", k, got, err, v)
		}
	}
	if got, err := fresh.Get(ctx, counter).Int64(); err != nil || got != incrs {
		t.Fatalf("counter after the failover = %d, %v; want %d (the Incr that returned a value)", got, err, incrs)
	}
	t.Logf("%d rounds, %d acknowledged writes, %d Incr; the demoted master's errorstats:\n%s", rounds, len(acked), incrs, strings.TrimSpace(stats))
}

// guardedPair returns two clients of the shared server: one with the
// READONLY guard a Backend installs, one without.
func guardedPair(t testing.TB) (guarded, plain *redis.Client) {
	t.Helper()
	addr := redistest.Shared(t).Addr
	guarded = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	plain = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _, _ = guarded.Close(), plain.Close() })
	if _, err := goredis.New(guarded, nil); err != nil {
		t.Fatal(err)
	}
	return guarded, plain
}

// TestReadOnlyGuardCost: the guard wraps every command of the caller's
// client, but a read (hit or miss, alone or in a pipeline of reads)
// allocates exactly what it does on a client without the guard; a write
// pays one allocation, the wrapper. Not parallel: it counts the process'
// allocations.
func TestReadOnlyGuardCost(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts: without -race only")
	}
	guarded, plain := guardedPair(t)
	ctx := t.Context()
	key := prefix(t) + "k"
	if err := plain.Set(ctx, key, make([]byte, 64), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	allocs := func(c *redis.Client, fn func(*redis.Client) error) float64 {
		return testing.AllocsPerRun(300, func() {
			if err := fn(c); err != nil && err != redis.Nil {
				t.Fatal(err)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		extra float64 // allowed allocations over the unguarded client
		fn    func(*redis.Client) error
	}{
		{"GET hit", 0, func(c *redis.Client) error { return c.Get(ctx, key).Err() }},
		{"GET miss", 0, func(c *redis.Client) error { return c.Get(ctx, key+"missing").Err() }},
		{"GETRANGE", 0, func(c *redis.Client) error { return c.GetRange(ctx, key, 0, 100).Err() }},
		{"EXISTS", 0, func(c *redis.Client) error { return c.Exists(ctx, key).Err() }},
		{"pipeline of reads", 0, func(c *redis.Client) error {
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Get(ctx, key)
				p.Exists(ctx, key)
				return nil
			})
			return err
		}},
		{"SET", 1, func(c *redis.Client) error { return c.Set(ctx, key, "v", time.Minute).Err() }},
	} {
		g, p := allocs(guarded, tc.fn), allocs(plain, tc.fn)
		if g > p+tc.extra {
			t.Errorf("%s: %v allocations with the guard, %v without; want at most %v more", tc.name, g, p, tc.extra)
		}
		t.Logf("%s: %v allocations with the guard, %v without", tc.name, g, p)
	}
}

// TestReadOnlyPipelineReadAfterWrite: a pipeline [SET k, GET k] sent on a
// connection to a demoted primary gets READONLY for the SET and the
// replica's old value for the GET; the guard sends the SET again on a
// fresh connection, which reaches the new primary (as a failover client's
// dial does). The GET is sent again with it: it reads the value the
// pipeline wrote, not the replica's from before the write.
func TestReadOnlyPipelineReadAfterWrite(t *testing.T) {
	t.Parallel()
	primary := redistest.Start(t)
	old := redistest.Start(t, noSyncDelay...)
	demoted := redistest.Start(t)
	ctx := t.Context()
	if err := old.Client(t).Set(ctx, "k", "old", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	demote(t, demoted, old)

	var target atomic.Pointer[string] // where the next dial goes
	target.Store(&demoted.Addr)
	client := redis.NewClient(&redis.Options{
		Addr:                  demoted.Addr,
		ContextTimeoutEnabled: true,
		PipelinePoolSize:      1,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, *target.Load())
		},
	})
	t.Cleanup(func() { _ = client.Close() })
	b, err := goredis.New(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	warm := client.Pipeline() // a pipeline connection to the demoted server
	warm.Ping(ctx)
	if _, err := warm.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	target.Store(&primary.Addr) // the failover

	res, err := b.Pipeline(ctx, []backend.Op{backend.SetOp("k", []byte("new"), time.Minute), backend.GetOp("k")})
	if err != nil || res[0].Err != nil {
		t.Fatalf("Pipeline = %v, %v; want the SET done by the new primary", err, res)
	}
	if got := primary.Client(t).Get(ctx, "k").Val(); got != "new" {
		t.Fatalf("the new primary holds k = %q, want new", got)
	}
	if res[1].Err != nil || string(res[1].Value) != "new" {
		t.Fatalf("GET after SET in the pipeline = %q, %v; want new (read after the write, where it ran)", res[1].Value, res[1].Err)
	}
}
