package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

// The tests in this file move slots, so each starts its own 3-master
// cluster instead of sharing the package's.

// migrationCluster starts a 3-master cluster and a Backend over it with
// a small ScanCount (many pages, so a slot can move between two of them).
func migrationCluster(t *testing.T, scanCount int) (*redistest.Cluster, *goredis.Backend) {
	t.Helper()
	cl := redistest.StartCluster(t, 3)
	b := dial(t, &redis.UniversalOptions{Addrs: cl.Addrs(), IsClusterMode: true}, &goredis.Options{ScanCount: scanCount})
	return cl, b
}

// ownerOf returns the node that owns slot in a fresh cluster (node i owns
// the i-th third of the slots, the last node the rest).
func ownerOf(cl *redistest.Cluster, slot int) int {
	return min(slot/(16384/len(cl.Nodes)), len(cl.Nodes)-1)
}

// fill stores plain keys p+"k:<i>" and tagged keys p+"{tag}:<i>" (all in
// the slot of tag) and returns both lists.
func fill(t *testing.T, b *goredis.Backend, p, tag string, plain, tagged int) (all, inSlot []string) {
	t.Helper()
	var items []backend.Item
	for i := range plain {
		items = append(items, backend.Item{Key: fmt.Sprintf("%sk:%d", p, i), Value: []byte("v"), TTL: time.Minute})
	}
	for i := range tagged {
		k := fmt.Sprintf("%s{%s}:%d", p, tag, i)
		inSlot = append(inSlot, k)
		items = append(items, backend.Item{Key: k, Value: []byte("v"), TTL: time.Minute})
	}
	if err := b.SetMany(t.Context(), items); err != nil {
		t.Fatalf("SetMany = %v", err)
	}
	for _, it := range items {
		all = append(all, it.Key)
	}
	return all, inSlot
}

// keysOnNodes counts the keys matching pattern on every node, with KEYS
// sent to each node directly.
func keysOnNodes(t *testing.T, cl *redistest.Cluster, pattern string) int {
	t.Helper()
	n := 0
	for _, node := range cl.Nodes {
		keys, err := node.Client(t).Keys(t.Context(), pattern).Result()
		if err != nil {
			t.Fatalf("KEYS on %s: %v", node.Addr, err)
		}
		n += len(keys)
	}
	return n
}

// TestScanFollowsSlotMovedMidScan moves the not-yet-reported keys of one
// slot to another master in the middle of a Scan, once half the slot's
// keys have been reported (CLUSTER SETSLOT MIGRATING/IMPORTING + MIGRATE;
// when finished, every other key of the slot follows and SETSLOT NODE ends
// the migration, as a reshard does: finishing with keys left on the source
// makes Redis refuse or delete them). A plain walk of every master misses
// the keys that land behind the other master's SCAN cursor and returns
// nil; Scan must report every key.
func TestScanFollowsSlotMovedMidScan(t *testing.T) {
	t.Parallel()
	for _, finish := range []bool{false, true} {
		t.Run(fmt.Sprintf("finished=%v", finish), func(t *testing.T) {
			t.Parallel()
			cl, b := migrationCluster(t, 20)
			ctx := t.Context()
			p := prefix(t)
			const tag = "m"
			all, inSlot := fill(t, b, p, tag, 600, 150)
			slot := int(goredisSlot(tag))
			from := ownerOf(cl, slot)
			to := (from + 1) % len(cl.Nodes)
			tagged := make(map[string]bool, len(inSlot))
			for _, k := range inSlot {
				tagged[k] = true
			}

			seen := make(map[string]bool)
			seenTagged := 0
			started := false // the migration is begun once, whatever it moved
			moved := 0
			err := b.Scan(ctx, p+"*", func(k string) error {
				if !seen[k] && tagged[k] {
					seenTagged++
				}
				seen[k] = true
				// The source's SCAN is reporting the slot, so half of its
				// keys are still ahead of its cursor.
				if started || seenTagged < len(inSlot)/2 {
					return nil
				}
				started = true
				var left []string
				for _, k := range inSlot {
					if !seen[k] {
						left = append(left, k)
					}
				}
				moved = len(left)
				if err := cl.BeginMigration(ctx, slot, from, to); err != nil {
					return err
				}
				if err := cl.MigrateKeys(ctx, from, to, left...); err != nil {
					return err
				}
				if !finish {
					return nil
				}
				if err := cl.MigrateSlotKeys(ctx, slot, from, to); err != nil {
					return err
				}
				return cl.FinishMigration(ctx, slot, to)
			})
			if err != nil {
				t.Fatalf("Scan with slot %d moved from node %d to %d mid-scan = %v, want nil", slot, from, to, err)
			}
			if moved == 0 {
				t.Fatalf("the test moved no unreported key (started=%v)", started)
			}
			var missing []string
			for _, k := range all {
				if !seen[k] {
					missing = append(missing, fmt.Sprintf("%s (slot %d)", k, goredisSlot(k)))
				}
			}
			if len(missing) > 0 {
				// keysOnNodes tells a Scan miss from keys the migration
				// itself lost.
				t.Fatalf("Scan missed %d of %d keys after %d keys of slot %d moved mid-scan: %v; %d of the %d keys are on the nodes now",
					len(missing), len(all), moved, slot, missing[:min(len(missing), 5)], keysOnNodes(t, cl, p+"*"), len(all))
			}
			// The moved keys are really on the other node.
			want := moved
			if finish {
				want = len(inSlot)
			}
			if there, err := cl.Nodes[to].Client(t).Keys(ctx, p+"{"+tag+"}:*").Result(); err != nil || len(there) != want {
				t.Fatalf("KEYS on the target node = %d keys, %v; want %d", len(there), err, want)
			}
			if n := keysOnNodes(t, cl, p+"*"); n != len(all) {
				t.Fatalf("%d keys on the nodes after the migration, want %d (none lost)", n, len(all))
			}
		})
	}
}

// TestScanSlotMovedBetweenWalks moves a whole slot from the master walked
// last to the master walked first, while the middle one is walked (one
// master at a time, as when a Cluster has more masters than a walk scans
// at once). Neither master's view changes around its own walk, and no
// view owns the slot: Scan must notice that (CLUSTER SLOTS says the slot
// is served) and report the slot's keys, found on the new owner by a
// rescan.
func TestScanSlotMovedBetweenWalks(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 20)
	goredis.SetWalkLimit(b, 1)
	ctx := t.Context()
	p := prefix(t)
	order := make([]int, len(cl.Nodes)) // walk order: by address
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(cl.Nodes[a].Addr, cl.Nodes[b].Addr) })
	first, middle, last := order[0], order[1], order[2]
	tag := ""
	for i := 0; tag == ""; i++ {
		if tg := fmt.Sprintf("w%d", i); ownerOf(cl, int(goredisSlot(tg))) == last {
			tag = tg
		}
	}
	all, inSlot := fill(t, b, p, tag, 300, 50)
	slot := int(goredisSlot(tag))
	seen := make(map[string]bool)
	started := false
	err := b.Scan(ctx, p+"*", func(k string) error {
		seen[k] = true
		if started || ownerOf(cl, int(goredisSlot(k))) != middle {
			return nil
		}
		started = true
		return cl.MoveSlot(ctx, slot, last, first)
	})
	if err != nil {
		t.Fatalf("Scan with slot %d moved from node %d to %d between their walks = %v, want nil", slot, last, first, err)
	}
	if !started {
		t.Fatalf("no key of the middle master (node %d) was reported: the slot never moved", middle)
	}
	missed := 0
	for _, k := range all {
		if !seen[k] {
			missed++
		}
	}
	if missed > 0 {
		// Tells a Scan miss from keys the migration itself lost.
		t.Fatalf("Scan missed %d of %d keys (%d in slot %d, moved from the last-walked master to the first); %d of the %d keys are on the nodes now",
			missed, len(all), len(inSlot), slot, keysOnNodes(t, cl, p+"*"), len(all))
	}
}

// TestDeletePatternHalfMigratedSlot runs DeletePattern while one slot's
// keys are split between two masters (a migration stopped after MIGRATE):
// UNLINKs sent to either master are redirected (MOVED, ASK, TRYAGAIN) and
// must be followed, and every key must go.
func TestDeletePatternHalfMigratedSlot(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 50)
	ctx := t.Context()
	p := prefix(t)
	const tag = "h"
	all, inSlot := fill(t, b, p, tag, 300, 100)
	slot := int(goredisSlot(tag))
	from := ownerOf(cl, slot)
	to := (from + 2) % len(cl.Nodes)
	if err := cl.BeginMigration(ctx, slot, from, to); err != nil {
		t.Fatal(err)
	}
	if err := cl.MigrateKeys(ctx, from, to, inSlot[:50]...); err != nil {
		t.Fatal(err)
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if err != nil || n != int64(len(all)) {
		t.Fatalf("DeletePattern during a half-finished migration = %d, %v; want %d, nil", n, err, len(all))
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after DeletePattern", left)
	}
}

// TestDeleteHalfMigratedSlot: a multi-key UNLINK of same-slot keys whose
// slot is half migrated answers TRYAGAIN (go-redis retries it four times,
// then fails). Delete must fall back to single-key UNLINKs, which follow
// ASK, and delete every key.
func TestDeleteHalfMigratedSlot(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 0)
	ctx := t.Context()
	p := prefix(t)
	const tag = "d"
	_, inSlot := fill(t, b, p, tag, 0, 40)
	slot := int(goredisSlot(tag))
	from := ownerOf(cl, slot)
	to := (from + 1) % len(cl.Nodes)
	if err := cl.BeginMigration(ctx, slot, from, to); err != nil {
		t.Fatal(err)
	}
	if err := cl.MigrateKeys(ctx, from, to, inSlot[:20]...); err != nil {
		t.Fatal(err)
	}
	// The failure this guards against, on the raw client.
	raw := cl.Client(t)
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := raw.Unlink(tctx, inSlot...).Err(); err == nil || !strings.HasPrefix(err.Error(), "TRYAGAIN") {
		t.Fatalf("raw multi-key UNLINK during the migration = %v, want TRYAGAIN", err)
	}
	if err := b.Delete(ctx, inSlot...); err != nil {
		t.Fatalf("Delete(%d same-slot keys) during a half-finished migration = %v", len(inSlot), err)
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after Delete", left)
	}
}

// TestScanIncompleteWhenSlotKeepsMoving moves a slot to the next master
// every time Scan reports one of its keys, so no rescan is ever stable:
// Scan must give up with backend.ErrIncomplete (saying how many keys it
// reported), never nil.
func TestScanIncompleteWhenSlotKeepsMoving(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 20)
	ctx := t.Context()
	p := prefix(t)
	const tag = "r"
	fill(t, b, p, tag, 100, 30)
	slot := int(goredisSlot(tag))
	owner := ownerOf(cl, slot)
	moves := 0
	err := b.Scan(ctx, p+"*", func(k string) error {
		if !strings.Contains(k, "{"+tag+"}") {
			return nil
		}
		next := (owner + 1) % len(cl.Nodes)
		if err := cl.MoveSlot(ctx, slot, owner, next); err != nil {
			return err
		}
		owner = next
		moves++
		return nil
	})
	if !errors.Is(err, backend.ErrIncomplete) {
		t.Fatalf("Scan while slot %d moved %d times = %v, want backend.ErrIncomplete", slot, moves, err)
	}
	if !strings.Contains(err.Error(), "keys reported") {
		t.Fatalf("error %q does not say how many keys were reported", err)
	}
}

// TestDeletePatternWithoutScripts denies EVAL (as an ACL may):
// DeletePattern runs no script and deletes every key, with an exact
// count.
func TestDeletePatternWithoutScripts(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 100)
	ctx := t.Context()
	p := prefix(t)
	all, _ := fill(t, b, p, "s", 500, 50)
	for _, n := range cl.Nodes {
		if err := n.Client(t).Do(ctx, "acl", "setuser", "default", "-eval").Err(); err != nil {
			t.Fatalf("ACL SETUSER: %v", err)
		}
	}
	n, err := b.DeletePattern(ctx, p+"*")
	if err != nil || n != int64(len(all)) {
		t.Fatalf("DeletePattern with EVAL denied = %d, %v; want %d, nil", n, err, len(all))
	}
	if left := keysOnNodes(t, cl, p+"*"); left != 0 {
		t.Fatalf("%d keys left on the nodes after DeletePattern", left)
	}
}

// TestGetManyHalfMigratedSlot: a multi-key read of one slot during a
// half-finished migration answers TRYAGAIN; GetMany falls back to
// single-key reads (which follow ASK) and returns every value.
func TestGetManyHalfMigratedSlot(t *testing.T) {
	t.Parallel()
	cl, b := migrationCluster(t, 0)
	ctx := t.Context()
	p := prefix(t)
	const tag = "g"
	_, inSlot := fill(t, b, p, tag, 0, 20)
	slot := int(goredisSlot(tag))
	from := ownerOf(cl, slot)
	to := (from + 1) % len(cl.Nodes)
	if err := cl.BeginMigration(ctx, slot, from, to); err != nil {
		t.Fatal(err)
	}
	if err := cl.MigrateKeys(ctx, from, to, inSlot[:10]...); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Client(t).MGet(tctx, inSlot...).Err(); err == nil || !strings.HasPrefix(err.Error(), "TRYAGAIN") {
		t.Fatalf("raw MGET during the migration = %v, want TRYAGAIN", err)
	}
	vals, err := b.GetMany(ctx, append(inSlot, p+"{"+tag+"}:missing"))
	if err != nil {
		t.Fatalf("GetMany(%d same-slot keys) during a half-finished migration = %v", len(inSlot), err)
	}
	for i, v := range vals[:len(inSlot)] {
		if string(v) != "v" {
			t.Fatalf("GetMany[%d] (%q) = %q, want v", i, inSlot[i], v)
		}
	}
	if vals[len(inSlot)] != nil {
		t.Fatalf("GetMany(missing) = %q, want nil", vals[len(inSlot)])
	}
}
