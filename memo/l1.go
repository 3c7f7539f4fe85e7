package memo

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
)

// l1 is the typed in-process tier: decoded values in a sync.Map (lock-free
// reads, no allocation on a hit), bounded by entry count. Entries carry the
// namespace generation they were stored under, so Clear invalidates them
// without touching them. When an insert takes the map past its size, a
// few arbitrary entries (sync.Map's range order) are evicted.
type l1[V any] struct {
	size  int64
	count atomic.Int64
	m     sync.Map // string → *l1Entry[V]
	evict sync.Mutex
}

type l1Entry[V any] struct {
	val     V
	gen     uint64
	soft    int64 // unix nanos: stale after (the backend's soft expiry)
	expires int64 // unix nanos: drop after (L1 TTL cap)
	meta    entryMeta
}

func newL1[V any](size int) *l1[V] {
	return &l1[V]{size: int64(size)}
}

// get returns the entry for key if it is present, of generation gen, not
// past its L1 expiry and still fresh: the only entries L1 serves.
func (c *l1[V]) get(key string, gen uint64, now int64) (*l1Entry[V], bool) {
	v, ok := c.m.Load(key)
	if !ok {
		return nil, false
	}
	e := v.(*l1Entry[V])
	if !e.serves(gen, now) {
		return nil, false
	}
	return e, true
}

// serves reports whether the entry may answer a read of generation gen at
// now: it is of that generation, not past its L1 expiry and still fresh.
func (e *l1Entry[V]) serves(gen uint64, now int64) bool {
	return e.gen == gen && now < e.expires && now < e.soft
}

func (c *l1[V]) set(key string, e *l1Entry[V]) {
	if _, loaded := c.m.Swap(key, e); loaded {
		return
	}
	if c.count.Add(1) <= c.size {
		return
	}
	// Over the bound: evict until back under it. One evictor at a time;
	// others proceed (the bound is exceeded by at most the number of
	// concurrent inserts, briefly).
	if !c.evict.TryLock() {
		return
	}
	defer c.evict.Unlock()
	c.m.Range(func(k, _ any) bool {
		if c.count.Load() <= c.size {
			return false
		}
		if k != key {
			if _, ok := c.m.LoadAndDelete(k); ok {
				c.count.Add(-1)
			}
		}
		return true
	})
}

func (c *l1[V]) delete(key string) bool {
	if _, ok := c.m.LoadAndDelete(key); ok {
		c.count.Add(-1)
		return true
	}
	return false
}

// deletePrefix evicts every key starting with prefix and reports how many.
func (c *l1[V]) deletePrefix(prefix string) int {
	n := 0
	c.m.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), prefix) && c.delete(k.(string)) {
			n++
		}
		return true
	})
	return n
}

// retag moves the entries of generation from to generation to.
func (c *l1[V]) retag(from, to uint64) {
	c.m.Range(func(k, v any) bool {
		if e := v.(*l1Entry[V]); e.gen == from {
			moved := *e
			moved.gen = to
			c.m.CompareAndSwap(k, e, &moved)
		}
		return true
	})
}

func (c *l1[V]) flush() {
	c.m.Range(func(k, _ any) bool {
		c.delete(k.(string))
		return true
	})
}

// putL1 keeps v in this node's L1, unless an invalidation was seen since
// epoch (the value may predate it) or v is too close to its expiry.
func (c *Cache[V]) putL1(key string, gen, epoch uint64, v V, m entryMeta) {
	c.putIn(c.l1, key, gen, epoch, v, m)
}

// putIn is putL1 into tier t (the L1, or the held values).
func (c *Cache[V]) putIn(t *l1[V], key string, gen, epoch uint64, v V, m entryMeta) {
	if t == nil {
		return
	}
	gen = c.renamedGen(gen)
	now := c.opts.Now()
	exp := now.Add(c.jitter(c.opts.L1TTL))
	if !m.soft.IsZero() && m.soft.Before(exp) {
		exp = m.soft
	}
	// L1 hits read a clock of millisecond resolution: stop serving an entry
	// from L1 a little before it expires, and keep values with less
	// freshness than that out of L1 altogether.
	slack := int64(0)
	if c.coarseClock {
		slack = int64(l1ExpirySlack)
	}
	e := &l1Entry[V]{val: v, gen: gen, soft: m.soft.UnixNano() - slack, expires: exp.UnixNano() - slack, meta: m}
	if m.soft.IsZero() {
		e.soft = math.MaxInt64
	}
	if e.soft <= now.UnixNano() || e.expires <= now.UnixNano() {
		return
	}
	t.set(key, e)
	if c.epoch.Load() != epoch {
		// An invalidation raced with this write: it may predate v.
		t.delete(key)
	}
}

// evictL1 removes key from this node's L1 and bumps the epoch, so that an
// L1 write of a value read before now is undone. It reports whether an
// entry was removed.
func (c *Cache[V]) evictL1(key string) bool {
	c.epoch.Add(1)
	if c.held != nil {
		c.held.delete(key)
	}
	return c.l1 != nil && c.l1.delete(key)
}

// evictL1Prefix is evictL1 for every key starting with prefix; it returns
// how many entries it removed.
func (c *Cache[V]) evictL1Prefix(prefix string) int {
	c.invals.bumpAll()
	c.epoch.Add(1)
	if c.held != nil {
		c.held.deletePrefix(prefix)
	}
	if c.l1 == nil {
		return 0
	}
	return c.l1.deletePrefix(prefix)
}

// flushL1 is evictL1 for every key.
func (c *Cache[V]) flushL1() {
	c.invals.bumpAll()
	c.epoch.Add(1)
	if c.held != nil {
		c.held.flush()
	}
	if c.l1 != nil {
		c.l1.flush()
	}
}
