package goredis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// cmdStat is one command's line of INFO commandstats: calls, failed
// calls, and calls refused before they ran (rejected_calls: a CROSSSLOT
// or a redirection inside a script, an ACL).
type cmdStat struct{ calls, failed, rejected int }

// commandStats reads INFO commandstats of one node, by command name
// (e.g. "unlink", "cluster|nodes").
func commandStats(t *testing.T, c *redis.Client) map[string]cmdStat {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	out := make(map[string]cmdStat)
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		var st cmdStat
		for f := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "calls":
				st.calls = n
			case "failed_calls":
				st.failed = n
			case "rejected_calls":
				st.rejected = n
			}
		}
		out[name] = st
	}
	return out
}

// TestDeletePatternCommandsPerMaster counts, with INFO commandstats on
// every master of its own cluster, what DeletePattern sends: every
// master holds keys and runs the page script, one call per SCAN (EVAL
// for the first page, EVALSHA after it; no SCAN sent on its own); each
// key's UNLINK runs on the master that holds it (one per key, none
// failed, no multi-key UNLINK for keys without a hash tag); CLUSTER NODES
// is read twice per master (before its first page and by its last page's
// script); and no CLUSTER SLOTS is sent beyond go-redis's own state
// reload.
func TestDeletePatternCommandsPerMaster(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 100) // several pages per master
	ctx := t.Context()
	nodes := make([]*redis.Client, len(cl.Nodes))
	for i, n := range cl.Nodes {
		nodes[i] = n.Client(t)
	}
	for call := range 2 {
		p := prefix(t)
		items := make([]backend.Item, 1500)
		for i := range items {
			items[i] = backend.Item{Key: fmt.Sprintf("%suser:%d", p, i), Value: []byte("v"), TTL: time.Minute}
		}
		if err := b.SetMany(ctx, items); err != nil {
			t.Fatal(err)
		}
		held := make([]int, len(nodes))
		for i, n := range nodes {
			if err := n.ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			keys, err := n.Keys(ctx, p+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			held[i] = len(keys)
		}
		deleted, err := b.DeletePattern(ctx, p+"*")
		if err != nil || deleted != int64(len(items)) {
			t.Fatalf("call %d: DeletePattern = %d, %v; want %d", call, deleted, err, len(items))
		}
		slotsReads := 0
		for i, n := range nodes {
			st := commandStats(t, n)
			if u := st["unlink"]; u.calls != held[i] || u.failed != 0 || u.rejected != 0 {
				t.Errorf("call %d, node %d: %d UNLINKs (%d failed, %d refused), want one per key it held (%d), none failed or refused", call, i, u.calls, u.failed, u.rejected, held[i])
			}
			if held[i] == 0 {
				t.Errorf("call %d, node %d: held no key, want keys on every master", call, i)
			}
			if v := st["cluster|nodes"].calls; v != 2 {
				t.Errorf("call %d, node %d: CLUSTER NODES read %d times, want 2", call, i, v)
			}
			eval, evalsha, scans := st["eval"], st["evalsha"], st["scan"].calls
			if eval.calls != 1 || eval.failed+evalsha.failed != 0 || eval.calls+evalsha.calls != scans || scans < 2 {
				t.Errorf("call %d, node %d: %d EVAL, %d EVALSHA (%d, %d failed), %d SCAN; want 1 EVAL, then one EVALSHA per further page, each running the only SCANs (at least 2 pages), none failed",
					call, i, eval.calls, evalsha.calls, eval.failed, evalsha.failed, scans)
			}
			slotsReads += st["cluster|slots"].calls
		}
		if slotsReads > 1 {
			t.Errorf("call %d: CLUSTER SLOTS read %d times, want at most go-redis's one reload", call, slotsReads)
		}
		if left := keysOnNodes(t, cl, p+"*"); left != 0 {
			t.Fatalf("call %d: %d keys left after DeletePattern", call, left)
		}
	}
}

// TestDeletePatternTaggedKeys deletes keys that share hash tags (many
// keys per slot) mixed with untagged ones: the tagged keys of a slot go
// in one UNLINK, so a master sees far fewer UNLINKs than keys.
func TestDeletePatternTaggedKeys(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 0)
	ctx := context.Background()
	p := prefix(t)
	var items []backend.Item
	for i := range 600 {
		k := fmt.Sprintf("%s{t%d}:%d", p, (i/3)%6, i)
		if i%3 == 0 {
			k = fmt.Sprintf("%suser:%d", p, i)
		}
		items = append(items, backend.Item{Key: k, Value: []byte("v"), TTL: time.Minute})
	}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, n := range cl.Nodes {
		if err := n.Client(t).ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := b.DeletePattern(ctx, p+"*")
	if err != nil || deleted != int64(len(items)) {
		t.Fatalf("DeletePattern = %d, %v; want %d", deleted, err, len(items))
	}
	unlinks := 0
	for _, n := range cl.Nodes {
		unlinks += commandStats(t, n.Client(t))["unlink"].calls
	}
	// 200 untagged keys, one UNLINK each; 400 tagged keys in 6 slots, at
	// most one UNLINK per slot per SCAN page.
	if unlinks < 206 || unlinks > 200+6*8 {
		t.Errorf("%d UNLINKs for 200 untagged keys and 400 keys in 6 slots, want 206 to %d", unlinks, 200+6*8)
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left after DeletePattern", left)
	}
}
