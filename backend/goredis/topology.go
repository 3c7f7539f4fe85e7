package goredis

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// slotSet is a set of Redis Cluster hash slots (a 2 KiB bitmap).
type slotSet [slotCount / 64]uint64

func (s *slotSet) add(slot uint16)      { s[slot/64] |= 1 << (slot % 64) }
func (s *slotSet) has(slot uint16) bool { return s[slot/64]&(1<<(slot%64)) != 0 }

// addRange adds the slots lo to hi (inclusive), a 64-slot word at a time
// where it can (a master's range is thousands of slots, read twice per
// master by every pattern walk).
func (s *slotSet) addRange(lo, hi uint16) {
	for i := int(lo); i <= int(hi); {
		if i%64 == 0 && i+63 <= int(hi) {
			s[i/64] = ^uint64(0)
			i += 64
			continue
		}
		s.add(uint16(i))
		i++
	}
}
func (s *slotSet) union(o *slotSet) {
	for i := range s {
		s[i] |= o[i]
	}
}
func (s *slotSet) intersect(o *slotSet) {
	for i := range s {
		s[i] &= o[i]
	}
}

// complement returns the slots not in s.
func (s *slotSet) complement() slotSet {
	var c slotSet
	for i := range s {
		c[i] = ^s[i]
	}
	return c
}
func (s *slotSet) xorInto(a, b *slotSet) {
	for i := range s {
		s[i] |= a[i] ^ b[i]
	}
}
func (s *slotSet) equalWithin(o, w *slotSet) bool {
	for i := range s {
		if (s[i]^o[i])&w[i] != 0 {
			return false
		}
	}
	return true
}

// len returns the number of slots in s.
func (s *slotSet) len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// first returns the smallest slot in s, or -1 when s is empty.
func (s *slotSet) first() int {
	for i, w := range s {
		if w != 0 {
			return i*64 + bits.TrailingZeros64(w)
		}
	}
	return -1
}

// nodeView is one master's own view of its slots, from the "myself" line
// of its CLUSTER NODES: what a pattern walk compares before and after
// scanning the node to notice slots that moved under it.
type nodeView struct {
	id        string
	master    bool   // flags include "master" (false: demoted to a replica)
	epoch     string // config epoch: bumped when the node takes slots
	owned     slotSet
	migrating map[uint16]string // slot → id of the importing node
	importing map[uint16]string // slot → id of the migrating node
}

// parseNodeView parses the "myself" line of a CLUSTER NODES reply:
// <id> <addr> <flags> <master> <ping> <pong> <epoch> <link> <slot>...,
// where a slot is "N", "LO-HI", "[N->-ID]" (migrating) or "[N-<-ID]"
// (importing).
func parseNodeView(reply string) (nodeView, error) {
	for line := range strings.Lines(reply) {
		f := strings.Fields(line)
		if len(f) < 8 || !hasFlag(f[2], "myself") {
			continue
		}
		v := nodeView{id: f[0], master: hasFlag(f[2], "master"), epoch: f[6]}
		for _, s := range f[8:] {
			if err := v.addSlot(s); err != nil {
				return nodeView{}, fmt.Errorf("CLUSTER NODES slot %q: %w", s, err)
			}
		}
		return v, nil
	}
	return nodeView{}, fmt.Errorf("CLUSTER NODES: no myself line")
}

func hasFlag(flags, flag string) bool {
	for f := range strings.SplitSeq(flags, ",") {
		if f == flag {
			return true
		}
	}
	return false
}

func (v *nodeView) addSlot(s string) error {
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner = strings.TrimSuffix(inner, "]")
		if n, id, ok := strings.Cut(inner, "->-"); ok {
			slot, err := parseSlot(n)
			if err != nil {
				return err
			}
			if v.migrating == nil {
				v.migrating = make(map[uint16]string)
			}
			v.migrating[slot] = id
			return nil
		}
		if n, id, ok := strings.Cut(inner, "-<-"); ok {
			slot, err := parseSlot(n)
			if err != nil {
				return err
			}
			if v.importing == nil {
				v.importing = make(map[uint16]string)
			}
			v.importing[slot] = id
			return nil
		}
		return fmt.Errorf("unknown slot state")
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parseSlot(lo)
	if err != nil {
		return err
	}
	z := a
	if isRange {
		if z, err = parseSlot(hi); err != nil {
			return err
		}
	}
	if z < a {
		return fmt.Errorf("empty range")
	}
	v.owned.addRange(a, z)
	return nil
}

func parseSlot(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n >= slotCount {
		return 0, fmt.Errorf("bad slot number")
	}
	return uint16(n), nil
}

// moved returns the slots whose keys may have moved on or off the node
// between views a and b: slots it gained or lost, slots being migrated or
// imported in either view, and every slot it owned if its identity, role
// or config epoch changed (a slot may have left and come back).
func moved(a, b *nodeView) slotSet {
	var s slotSet
	s.xorInto(&a.owned, &b.owned)
	for _, v := range []*nodeView{a, b} {
		for slot := range v.migrating {
			s.add(slot)
		}
		for slot := range v.importing {
			s.add(slot)
		}
	}
	if a.id != b.id || a.master != b.master || a.epoch != b.epoch {
		s.union(&a.owned)
		s.union(&b.owned)
	}
	return s
}

// sameWithin reports whether views a and b agree on every slot of w:
// same identity, role and epoch, same ownership, same migrations.
func sameWithin(a, b *nodeView, w *slotSet) bool {
	if a.id != b.id || a.master != b.master || a.epoch != b.epoch || !a.owned.equalWithin(&b.owned, w) {
		return false
	}
	return sameEdges(a.migrating, b.migrating, w) && sameEdges(a.importing, b.importing, w)
}

func sameEdges(a, b map[uint16]string, w *slotSet) bool {
	for slot, id := range a {
		if w.has(slot) && b[slot] != id {
			return false
		}
	}
	for slot, id := range b {
		if w.has(slot) && a[slot] != id {
			return false
		}
	}
	return true
}
