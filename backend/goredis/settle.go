package goredis

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// maxRescans is how many times a Cluster pattern walk rescans slots that
// moved under it before it gives up with [backend.ErrIncomplete].
const maxRescans = 3

// settle makes a Cluster walk complete despite slot migrations. SCAN is
// per node: a key that moves from a master not yet scanned to one already
// scanned is never seen. Every master's own view of its slots (CLUSTER
// NODES) is read in the round trips of its first and last SCAN (a view
// kept from an earlier walk would not do: a slot that left a master
// before its walk and came back during it need not change the master's
// config epoch, so only a view read as the walk starts shows it). A slot is
// covered when some master owned it in both views, with the same identity,
// role and config epoch, and no master saw it being migrated or
// imported: that
// master's SCAN met every key of the slot that existed for the whole
// walk. Every other slot is rescanned: slots that changed owner around
// some master's walk, were being migrated or imported, or whose UNLINK a
// master redirected; and slots owned in no view at all (a slot can move
// from a master not yet walked to one already walked, changing neither
// one's view around its own walk), unless CLUSTER SLOTS says no master
// serves them. Rescans go one master at a time, each migration's source
// before its target (so a key that moves during the rescan is met on one
// side or the other). A rescan counts only if every master's view of
// those slots stayed the same from the end of the previous pass to the
// end of the rescan; otherwise it is repeated, at most maxRescans times,
// and then the walk fails with backend.ErrIncomplete.
func (w *walk) settle(ctx context.Context, first []pass) error {
	var moving, seen slotSet
	prev := make(map[string]nodeView, len(first)) // by address
	for _, p := range first {
		// A slot owned in some view but not covered is in moved: owned
		// in one view only, or the master's identity changed.
		m := moved(&p.before, &p.after)
		moving.union(&m)
		seen.union(&p.before.owned)
		seen.union(&p.after.owned)
		prev[p.node.Options().Addr] = p.after
	}
	if unseen := seen.complement(); unseen.len() > 0 && len(first) > 0 {
		served, err := w.served(ctx, first[0].node)
		if err != nil {
			return err
		}
		unseen.intersect(&served)
		moving.union(&unseen)
	}
	moving.union(&w.redirected)
	for round := 0; moving.len() > 0; round++ {
		if round == maxRescans {
			return w.incomplete(&moving)
		}
		sound, next, err := w.rescan(ctx, &moving, prev)
		if err != nil {
			return err
		}
		if sound {
			return nil
		}
		moving.union(&next.moved)
		prev = next.views
	}
	return nil
}

// served returns the slots that some master serves, from c's CLUSTER
// SLOTS.
func (w *walk) served(ctx context.Context, c *redis.Client) (slotSet, error) {
	var s slotSet
	ranges, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return s, w.b.fail(ctx, "CLUSTER SLOTS", "", err)
	}
	for _, r := range ranges {
		if r.Start < 0 || r.End < r.Start || r.End >= slotCount {
			return s, fmt.Errorf("goredis: CLUSTER SLOTS: bad range %d-%d", r.Start, r.End)
		}
		s.addRange(uint16(r.Start), uint16(r.End))
	}
	return s, nil
}

// rescanned is what one rescan saw: every master's view after its walk,
// and the slots that moved during it.
type rescanned struct {
	views map[string]nodeView
	moved slotSet
}

// rescan walks every master again, sequentially and in migration order,
// keeping only keys of the slots in moving. It reports whether the rescan
// is sound: every master's view of those slots matched prev before and
// after its walk, and the walk order put each migration's source first.
func (w *walk) rescan(ctx context.Context, moving *slotSet, prev map[string]nodeView) (bool, rescanned, error) {
	nodes, err := w.b.masters(ctx)
	if err != nil {
		return false, rescanned{}, err
	}
	nodes, ordered := migrationOrder(nodes, moving, prev)
	within := *moving
	w.within = &within
	out := rescanned{views: make(map[string]nodeView, len(nodes))}
	sound := ordered
	for _, n := range nodes {
		p, err := w.node(ctx, n)
		if err != nil {
			return false, out, err
		}
		addr := n.Options().Addr
		out.views[addr] = p.after
		m := moved(&p.before, &p.after)
		old, known := prev[addr]
		if !known || !sameWithin(&old, &p.before, moving) || !sameWithin(&p.before, &p.after, moving) {
			sound = false
			if known {
				mo := moved(&old, &p.before)
				m.union(&mo)
			}
		}
		out.moved.union(&m)
	}
	return sound, out, nil
}

// migrationOrder sorts nodes so that, for every slot in moving, the node
// migrating it comes before the node importing it (sources, then nodes
// that are both, then the others, then targets). It reports false when
// some migration cannot be honoured: a cycle, or a node not among nodes.
func migrationOrder(nodes []*redis.Client, moving *slotSet, prev map[string]nodeView) ([]*redis.Client, bool) {
	rank := func(n *redis.Client) int {
		v := prev[n.Options().Addr]
		src, dst := hasEdgeIn(v.migrating, moving), hasEdgeIn(v.importing, moving)
		switch {
		case src && !dst:
			return 0
		case src && dst:
			return 1
		case !dst:
			return 2
		default:
			return 3
		}
	}
	nodes = slices.Clone(nodes)
	slices.SortStableFunc(nodes, func(a, b *redis.Client) int { return rank(a) - rank(b) })
	pos := make(map[string]int, len(nodes)) // node id → position
	for i, n := range nodes {
		if v, ok := prev[n.Options().Addr]; ok {
			pos[v.id] = i
		}
	}
	for i, n := range nodes {
		for s, dst := range prev[n.Options().Addr].migrating {
			if !moving.has(s) {
				continue
			}
			if j, ok := pos[dst]; !ok || j <= i {
				return nodes, false
			}
		}
	}
	return nodes, true
}

func hasEdgeIn(edges map[uint16]string, moving *slotSet) bool {
	for s := range edges {
		if moving.has(s) {
			return true
		}
	}
	return false
}

// incomplete is the error of a walk that could not prove itself complete.
func (w *walk) incomplete(moving *slotSet) error {
	what := "reported"
	if w.del {
		what = "deleted"
	}
	return fmt.Errorf("goredis: pattern %q: %w: %d keys %s; %d slots kept moving (first: %d) after %d rescans",
		w.pattern, backend.ErrIncomplete, w.done.Load(), what, moving.len(), moving.first(), maxRescans)
}
