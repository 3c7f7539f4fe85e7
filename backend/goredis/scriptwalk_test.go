package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// TestDeletePatternScriptRefusedMidWalk lets every master run the first
// page's script (EVAL) and refuses the next ones (an ACL denies
// EVALSHA): each master's walk starts again with SCAN and UNLINK
// commands, and the count stays exact (the keys the first pages deleted
// are counted once, not lost and not counted again).
func TestDeletePatternScriptRefusedMidWalk(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 50)
	ctx := t.Context()
	p := prefix(t)
	all, _ := fill(t, b, p, "s", 900, 60)
	for _, n := range cl.Nodes {
		c := n.Client(t)
		if err := c.Do(ctx, "acl", "setuser", "default", "-evalsha").Err(); err != nil {
			t.Fatalf("ACL SETUSER: %v", err)
		}
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if err != nil || n != int64(len(all)) {
		t.Fatalf("DeletePattern with EVALSHA denied = %d, %v; want %d, nil", n, err, len(all))
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after DeletePattern", left)
	}
	for i, node := range cl.Nodes {
		st := commandStats(t, node.Client(t))
		if st["eval"].calls != 1 || st["eval"].failed != 0 {
			t.Errorf("node %d: %d EVAL (%d failed), want the first page's one", i, st["eval"].calls, st["eval"].failed)
		}
		// Every UNLINK but those of the first page was sent as a command,
		// after one SCAN more than the pages the script ran.
		if st["scan"].calls < 3 {
			t.Errorf("node %d: %d SCANs, want the script's and the command walk's", i, st["scan"].calls)
		}
	}
}

// slotMover is a go-redis hook on one node client of a cluster client:
// after the second page script that node answered, it calls move.
type slotMover struct {
	pages atomic.Int32
	move  func()
}

func (h *slotMover) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *slotMover) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			if h.pages.Add(1) == 2 {
				h.move()
			}
		}
		return err
	}
}

func (h *slotMover) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if name := cmd.Name(); name == "evalsha" || name == "eval" {
				h.pages.Add(1)
			}
		}
		return err
	}
}

// TestDeletePatternSlotMovedMidDelete moves a whole slot, with the keys
// its master's script has not reached yet, from the master walked last
// to the master walked first, after the last master's second page (the
// masters are walked one at a time, in address order). Its keys then sit
// behind the first master's finished walk: DeletePattern must see the
// slot leave (the last master's view after its walk) and delete them on
// their new master, with an exact count and nothing left.
func TestDeletePatternSlotMovedMidDelete(t *testing.T) {
	t.Parallel()
	cl, _ := migrationCluster(t, 0)
	ctx := t.Context()
	addrs := cl.Addrs()
	order := slices.Clone(addrs)
	slices.Sort(order) // the walk order with a walk limit of 1
	first, last := slices.Index(addrs, order[0]), slices.Index(addrs, order[len(order)-1])
	tag := ""
	for i := 0; tag == ""; i++ {
		if t := fmt.Sprintf("mv%d", i); ownerOf(cl, int(goredisSlot(t))) == last {
			tag = t
		}
	}
	slot := int(goredisSlot(tag))

	var (
		moves   atomic.Int32
		moveErr error // written by the walk's goroutine, read after the walk
	)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	cc.OnNewNode(func(c *redis.Client) {
		if c.Options().Addr != order[len(order)-1] {
			return
		}
		c.AddHook(&slotMover{move: func() {
			moves.Add(1)
			moveErr = cl.MoveSlot(ctx, slot, last, first)
		}})
	})
	b, err := goredis.New(cc, &goredis.Options{ScanCount: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(); _ = cc.Close() })
	goredis.SetWalkLimit(b, 1)
	p := prefix(t)
	all, inSlot := fill(t, b, p, tag, 600, 200)

	n, err := b.DeletePattern(ctx, p+"*")
	if moves.Load() != 1 || moveErr != nil {
		t.Fatalf("slot %d moved %d times mid-walk, %v; want once", slot, moves.Load(), moveErr)
	}
	if err != nil || n != int64(len(all)) {
		t.Fatalf("DeletePattern with slot %d moved mid-walk = %d, %v; want %d, nil", slot, n, err, len(all))
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after DeletePattern (%d keys were in the moved slot)", left, len(inSlot))
	}
	// The slot really moved.
	slots, err := cl.Nodes[first].Client(t).ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for _, r := range slots {
		if r.Start <= slot && slot <= r.End && len(r.Nodes) > 0 && r.Nodes[0].Addr == order[0] {
			moved = true
		}
	}
	if !moved {
		t.Fatalf("slot %d is not on %s after the walk: the test did not move it", slot, order[0])
	}
}

// TestDeletePatternLargeTagGroup deletes 700 keys of one hash tag in one
// SCAN page: the page script sends them in UNLINKs of at most 256 keys
// (a Lua unpack of a whole page could overflow its stack), and every key
// goes, with an exact count.
func TestDeletePatternLargeTagGroup(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 5000)
	ctx := t.Context()
	p := prefix(t)
	const tag = "big"
	_, inSlot := fill(t, b, p, tag, 0, 700)
	owner := cl.Nodes[ownerOf(cl, int(goredisSlot(tag)))].Client(t)
	if err := owner.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if err != nil || n != int64(len(inSlot)) {
		t.Fatalf("DeletePattern = %d, %v; want %d, nil", n, err, len(inSlot))
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after DeletePattern", left)
	}
	st := commandStats(t, owner)
	if u := st["unlink"]; u.calls != 3 || u.failed != 0 || u.rejected != 0 || st["scan"].calls != 1 {
		t.Fatalf("owner: %d UNLINKs (%d failed, %d refused) in %d SCAN pages, want 3 (256 + 256 + 188 keys) in 1, none failed or refused", u.calls, u.failed, u.rejected, st["scan"].calls)
	}
}

// TestDeletePatternPausedMaster freezes one master of a Cluster: a
// DeletePattern with a 200 ms context returns soon after it, with an
// error wrapping context.DeadlineExceeded.
func TestDeletePatternPausedMaster(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 50)
	p := prefix(t)
	fill(t, b, p, "z", 300, 0)
	cl.Nodes[1].Pause(t)
	defer cl.Nodes[1].Resume(t)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.DeletePattern(ctx, p+"*")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("DeletePattern with a paused master and a 200ms context returned after %v", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DeletePattern with a paused master = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if errors.Is(err, backend.ErrIncomplete) || strings.Contains(err.Error(), "page script") {
		t.Fatalf("DeletePattern with a paused master = %v, want the deadline, not a script or completeness error", err)
	}
}

// TestDeletePatternScriptPageBounded sets ScanCount to 5,000 with about
// 1,200 keys per master: a page script holds its master for the whole
// page, so its SCAN COUNT stays at 1,000 and every master runs at least
// two page scripts.
func TestDeletePatternScriptPageBounded(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 5000)
	ctx := t.Context()
	p := prefix(t)
	all, _ := fill(t, b, p, "", 3600, 0)
	for _, n := range cl.Nodes {
		if err := n.Client(t).ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if err != nil || n != int64(len(all)) {
		t.Fatalf("DeletePattern = %d, %v; want %d, nil", n, err, len(all))
	}
	for i, node := range cl.Nodes {
		st := commandStats(t, node.Client(t))
		if u, pages := st["unlink"].calls, st["eval"].calls+st["evalsha"].calls; u <= 1000 || pages < 2 || pages != st["scan"].calls {
			t.Errorf("node %d: %d keys in %d page scripts (%d SCANs), want more than 1,000 keys in at least 2", i, u, pages, st["scan"].calls)
		}
	}
}

// TestDeletePatternViewDeniedCountsFirstPage denies CLUSTER NODES (as an
// ACL may, while it allows EVAL and the CLUSTER SLOTS go-redis needs):
// DeletePattern fails, but each master's first page script, sent in the
// round trip of the refused view, has deleted its page all the same, and
// the count must say so (it said 0).
func TestDeletePatternViewDeniedCountsFirstPage(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 50)
	ctx := t.Context()
	p := prefix(t)
	all, _ := fill(t, b, p, "v", 900, 0)
	for _, n := range cl.Nodes {
		if err := n.Client(t).Do(ctx, "acl", "setuser", "default", "-cluster|nodes").Err(); err != nil {
			t.Fatalf("ACL SETUSER: %v", err)
		}
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("DeletePattern with CLUSTER NODES denied = %d, %v; want the NOPERM error", n, err)
	}
	deleted := int64(len(all) - keysOnNodes(t, cl, p+"*"))
	if n != deleted {
		t.Fatalf("DeletePattern with CLUSTER NODES denied = %d, %v; it deleted %d keys", n, err, deleted)
	}
}

// afterSecondPage returns a Backend on a new cluster client of addrs
// whose node client for addr calls fn after that node's second page
// script (walk limit 1: the masters are walked one at a time).
func afterSecondPage(t *testing.T, addrs []string, addr string, scanCount int, fn func()) *goredis.Backend {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	cc.OnNewNode(func(c *redis.Client) {
		if c.Options().Addr == addr {
			c.AddHook(&slotMover{move: fn})
		}
	})
	b, err := goredis.New(cc, &goredis.Options{ScanCount: scanCount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(); _ = cc.Close() })
	goredis.SetWalkLimit(b, 1)
	return b
}

// TestDeletePatternFailoverMidWalk promotes a master's replica (CLUSTER
// FAILOVER) after that master's second page script: its next script is
// refused (READONLY on the demoted master), its walk starts again with
// commands on what is now a replica (whose UNLINKs are redirected to the
// new master), and the count stays exact, with no key left on any master
// or replica.
func TestDeletePatternFailoverMidWalk(t *testing.T) {
	t.Parallel()
	cl := redistest.StartClusterReplicas(t, 3)
	ctx := t.Context()
	var (
		failovers   atomic.Int32
		failoverErr error // written by the walk's goroutine, read after the walk
	)
	b := afterSecondPage(t, cl.Addrs(), cl.Nodes[1].Addr, 20, func() {
		failovers.Add(1)
		failoverErr = cl.Failover(ctx, 1)
	})
	p := prefix(t)
	all, _ := fill(t, b, p, "f", 600, 100)
	n, err := b.DeletePattern(ctx, p+"*")
	if failovers.Load() != 1 || failoverErr != nil {
		t.Fatalf("failed over %d times mid-walk, %v; want once", failovers.Load(), failoverErr)
	}
	if err != nil || n != int64(len(all)) {
		t.Fatalf("DeletePattern with a failover mid-walk = %d, %v; want %d, nil", n, err, len(all))
	}
	for _, node := range append(slices.Clone(cl.Nodes), cl.Replicas...) {
		c := node.Client(t)
		if role, err := c.Do(ctx, "role").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
			if err := c.Do(ctx, "wait", 1, 5000).Err(); err != nil {
				t.Fatalf("WAIT on %s: %v", node.Addr, err)
			}
		}
	}
	for _, node := range append(slices.Clone(cl.Nodes), cl.Replicas...) {
		if keys, err := node.Client(t).Keys(ctx, p+"*").Result(); err != nil || len(keys) != 0 {
			t.Errorf("%s: %d keys left after DeletePattern (%v)", node.Addr, len(keys), err)
		}
	}
}

// TestDeletePatternScriptFlushedMidWalk flushes a master's script cache
// after its second page: the next page's EVALSHA answers NOSCRIPT and is
// sent again as EVAL, the walk goes on with scripts (no fallback, no
// failed command), and every key goes, with an exact count.
func TestDeletePatternScriptFlushedMidWalk(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	ctx := t.Context()
	node := cl.Nodes[0].Client(t)
	var flushErr error // written by the walk's goroutine, read after the walk
	b := afterSecondPage(t, cl.Addrs(), cl.Nodes[0].Addr, 20, func() { flushErr = node.ScriptFlush(ctx).Err() })
	p := prefix(t)
	all, _ := fill(t, b, p, "n", 600, 100)
	if err := node.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if flushErr != nil {
		t.Fatal(flushErr)
	}
	if err != nil || n != int64(len(all)) {
		t.Fatalf("DeletePattern with the script cache flushed mid-walk = %d, %v; want %d, nil", n, err, len(all))
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after DeletePattern", left)
	}
	st := commandStats(t, node)
	if eval, evalsha := st["eval"], st["evalsha"]; eval.calls != 2 || eval.failed != 0 || evalsha.failed != 1 || eval.calls+evalsha.calls-1 != st["scan"].calls {
		t.Fatalf("flushed master: %d EVAL (%d failed), %d EVALSHA (%d failed), %d SCAN; want 2 EVAL, one NOSCRIPT, one script per SCAN",
			eval.calls, eval.failed, evalsha.calls, evalsha.failed, st["scan"].calls)
	}
}

// TestDeletePatternEdgeTagKeys deletes keys whose braces are not a hash
// tag or are one in an odd place (an empty tag, an unmatched brace, a
// tag after an empty one, binary bytes around a tag, glob characters):
// the page script must group them as Redis hashes them (a wrong group is
// refused with CROSSSLOT, and its keys only go through the cluster
// client) and delete every key, with an exact count.
func TestDeletePatternEdgeTagKeys(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 30)
	ctx := t.Context()
	p := prefix(t)
	forms := []string{"{}x%d", "{x%d", "}{%d}", "{{a}}%d", "a{}{b}%d", "\x00\xff{\x01}%d", "{%d}}", "{ }%d", "*?[]\\%d", "{big}%d"}
	var items []backend.Item
	for i := range 1000 {
		items = append(items, backend.Item{Key: p + fmt.Sprintf(forms[i%len(forms)], i), Value: []byte("v"), TTL: time.Minute})
	}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, n := range cl.Nodes {
		if err := n.Client(t).ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if err != nil || n != int64(len(items)) {
		t.Fatalf("DeletePattern = %d, %v; want %d, nil", n, err, len(items))
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after DeletePattern", left)
	}
	for i, node := range cl.Nodes {
		if u := commandStats(t, node.Client(t))["unlink"]; u.failed != 0 || u.rejected != 0 {
			t.Errorf("node %d: %d UNLINKs, %d failed, %d refused; want none failed or refused", i, u.calls, u.failed, u.rejected)
		}
	}
}
