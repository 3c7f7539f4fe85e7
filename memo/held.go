package memo

// Degraded mode: while the backend cannot take a loaded value (it failed,
// timed out, or the breaker is open), the value is kept on this node for
// L1TTL — in the L1 when there is one, else in a small holding area — so
// that every Get does not go to the origin until the backend is back (one
// load per key and version during an outage, not one per Get).
// Invalidations on this node evict held values like L1 entries; those of
// other nodes are lost while the backend is down, so, as for the L1, a held
// value is served for at most L1TTL.

// heldSize bounds the holding area used when L1Size is 0.
const heldSize = 1024

// hold keeps v, which the backend could not take, unless an invalidation
// was seen since epoch.
func (c *Cache[V]) hold(key string, gen, epoch uint64, v V, m entryMeta) {
	if c.l1 != nil {
		c.putIn(c.l1, key, gen, epoch, v, m)
		return
	}
	c.putIn(c.held, key, gen, epoch, v, m)
}

// heldValue returns a value this node keeps for key: in its L1 or its
// holding area.
func (c *Cache[V]) heldValue(key string, gen uint64) (*l1Entry[V], bool) {
	t := c.l1
	if t == nil {
		t = c.held
	}
	return t.get(key, gen, c.nanotime())
}

// heldFlight serves, as a flight's result, the value a flight of this node
// that ended after the caller looked kept for the key (in the L1, or held
// because the backend could not take it): a second load of the key would
// follow the first by milliseconds, and the backend does not have a held
// value to find on a re-check. (The caller's miss is already counted.)
func (m *miss[V]) heldFlight() (flight[V], bool) {
	e, ok := m.c.heldValue(m.key, m.gen)
	if !ok {
		return flight[V]{}, false
	}
	return flight[V]{val: e.val, info: e.meta.info(SourceL1)}, true
}
