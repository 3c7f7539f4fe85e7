package redistest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The slot migration helpers below drive a migration by hand, step by
// step, the way redis-cli --cluster reshard does: BeginMigration, then
// MigrateKeys (any number of times), then FinishMigration. Stopping after
// MigrateKeys leaves a half-finished migration: the slot's keys are split
// between the two nodes, a multi-key command on the source answers
// TRYAGAIN and single-key commands are redirected with ASK. The helpers
// return errors instead of failing a test, so they can be called from any
// goroutine (a Scan callback, say).

// nodeClient returns a client for node i without retries; close it after
// use.
func (c *Cluster) nodeClient(i int) (*redis.Client, error) {
	if i < 0 || i >= len(c.Nodes) {
		return nil, fmt.Errorf("redistest: no node %d in a cluster of %d", i, len(c.Nodes))
	}
	return redis.NewClient(&redis.Options{Addr: c.Nodes[i].Addr, ContextTimeoutEnabled: true, MaxRetries: -1}), nil
}

// do runs one command on node i.
func (c *Cluster) do(ctx context.Context, i int, args ...any) (any, error) {
	cl, err := c.nodeClient(i)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	v, err := cl.Do(ctx, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("redistest: %v on %s: %w", args, c.Nodes[i].Addr, err)
	}
	return v, nil
}

// NodeID returns the cluster node id of node i (CLUSTER MYID).
func (c *Cluster) NodeID(ctx context.Context, i int) (string, error) {
	v, err := c.do(ctx, i, "cluster", "myid")
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

// BeginMigration marks slot as importing on node to and migrating on node
// from (CLUSTER SETSLOT IMPORTING, then MIGRATING).
func (c *Cluster) BeginMigration(ctx context.Context, slot, from, to int) error {
	fromID, err := c.NodeID(ctx, from)
	if err != nil {
		return err
	}
	toID, err := c.NodeID(ctx, to)
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, to, "cluster", "setslot", slot, "importing", fromID); err != nil {
		return err
	}
	_, err = c.do(ctx, from, "cluster", "setslot", slot, "migrating", toID)
	return err
}

// MigrateKeys moves keys from node from to node to with MIGRATE … KEYS.
// The keys must share one slot, whose migration has begun; keys that are
// not on from are skipped.
func (c *Cluster) MigrateKeys(ctx context.Context, from, to int, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	args := []any{"migrate", "127.0.0.1", strconv.Itoa(c.Nodes[to].Port), "", 0, 5000, "keys"}
	for _, k := range keys {
		args = append(args, k)
	}
	v, err := c.do(ctx, from, args...)
	if err != nil {
		return err
	}
	if s, _ := v.(string); s != "OK" && s != "NOKEY" {
		return fmt.Errorf("redistest: MIGRATE answered %v", v)
	}
	return nil
}

// MigrateSlotKeys moves every key of slot still on node from to node to
// (CLUSTER GETKEYSINSLOT, then MigrateKeys in batches of 100). The slot's
// migration must have begun.
func (c *Cluster) MigrateSlotKeys(ctx context.Context, slot, from, to int) error {
	for {
		v, err := c.do(ctx, from, "cluster", "getkeysinslot", slot, 100)
		if err != nil {
			return err
		}
		list, _ := v.([]any)
		if len(list) == 0 {
			return nil
		}
		keys := make([]string, len(list))
		for i, k := range list {
			keys[i], _ = k.(string)
		}
		if err := c.MigrateKeys(ctx, from, to, keys...); err != nil {
			return err
		}
	}
}

// FinishMigration assigns slot to node to on every node (CLUSTER SETSLOT
// NODE, the importing node first), which ends the migration. Every key of
// the slot must have been moved to node to first (see MigrateSlotKeys):
// FinishMigration fails, changing nothing, when another node still holds
// one. Redis would refuse SETSLOT NODE on such a node or, once the target's
// new config epoch reaches it by gossip, silently delete those keys.
func (c *Cluster) FinishMigration(ctx context.Context, slot, to int) error {
	for i := range c.Nodes {
		if i == to {
			continue
		}
		v, err := c.do(ctx, i, "cluster", "countkeysinslot", slot)
		if err != nil {
			return err
		}
		if n, _ := v.(int64); n != 0 {
			return fmt.Errorf("redistest: node %d (%s) still holds %d keys of slot %d: move them before finishing the migration, or Redis deletes them",
				i, c.Nodes[i].Addr, n, slot)
		}
	}
	toID, err := c.NodeID(ctx, to)
	if err != nil {
		return err
	}
	order := []int{to}
	for i := range c.Nodes {
		if i != to {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if _, err := c.do(ctx, i, "cluster", "setslot", slot, "node", toID); err != nil {
			return err
		}
	}
	return c.waitOwner(ctx, slot, to)
}

// waitOwner waits until every node names node to as the owner of slot
// (CLUSTER SLOTS): SETSLOT NODE bumps the new owner's config epoch, and
// until gossip has settled a node can still take an older claim for the
// slot's owner (the next migration's MIGRATING then fails with "I'm not
// the owner of hash slot" on the node just given it).
func (c *Cluster) waitOwner(ctx context.Context, slot, to int) error {
	want := c.Nodes[to].Addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		settled := true
		for i := range c.Nodes {
			owner, err := c.slotOwner(ctx, i, slot)
			if err != nil {
				return err
			}
			if owner != want {
				settled = false
				break
			}
		}
		if settled {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: slot %d not owned by node %d (%s) on every node 10s after its migration", slot, to, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond): // polling with a deadline: gossip has no event to wait on
		}
	}
}

// slotOwner returns the address of the master that node i names as the
// owner of slot ("" if none).
func (c *Cluster) slotOwner(ctx context.Context, i, slot int) (string, error) {
	cl, err := c.nodeClient(i)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ranges, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return "", fmt.Errorf("redistest: CLUSTER SLOTS on %s: %w", c.Nodes[i].Addr, err)
	}
	for _, r := range ranges {
		if r.Start <= slot && slot <= r.End && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr, nil
		}
	}
	return "", nil
}

// MoveSlot migrates slot and every key in it from node from to node to:
// BeginMigration, MigrateSlotKeys, FinishMigration.
func (c *Cluster) MoveSlot(ctx context.Context, slot, from, to int) error {
	if err := c.BeginMigration(ctx, slot, from, to); err != nil {
		return err
	}
	if err := c.MigrateSlotKeys(ctx, slot, from, to); err != nil {
		return err
	}
	return c.FinishMigration(ctx, slot, to)
}
