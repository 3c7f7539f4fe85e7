package memo

import (
	"hash/maphash"
	"sync"
	"time"
)

const l1Shards = 64

// l1 is the typed in-process tier: a sharded map of decoded values, bounded
// by entry count (random eviction within a shard: map iteration order).
// Entries carry the namespace generation they were stored under, so Clear
// invalidates them without touching them.
type l1[V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [l1Shards]l1Shard[V]
}

type l1Shard[V any] struct {
	mu sync.RWMutex
	m  map[string]*l1Entry[V]
}

type l1Entry[V any] struct {
	val     V
	gen     uint64
	soft    int64 // unix nanos: stale after (the backend's soft expiry)
	expires int64 // unix nanos: drop after (L1 TTL cap)
	meta    entryMeta
}

func newL1[V any](size int) *l1[V] {
	c := &l1[V]{seed: maphash.MakeSeed(), perShard: max(1, (size+l1Shards-1)/l1Shards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*l1Entry[V])
	}
	return c
}

func (c *l1[V]) shard(key string) *l1Shard[V] {
	return &c.shards[maphash.String(c.seed, key)%l1Shards]
}

// get returns the entry for key if it is present, of generation gen and not
// past its L1 expiry.
func (c *l1[V]) get(key string, gen uint64, now int64) (*l1Entry[V], bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || e.gen != gen || now >= e.expires {
		return nil, false
	}
	return e, true
}

func (c *l1[V]) set(key string, e *l1Entry[V]) {
	s := c.shard(key)
	s.mu.Lock()
	if _, exists := s.m[key]; !exists && len(s.m) >= c.perShard {
		for k := range s.m { // evict one arbitrary entry
			delete(s.m, k)
			break
		}
	}
	s.m[key] = e
	s.mu.Unlock()
}

func (c *l1[V]) delete(key string) bool {
	s := c.shard(key)
	s.mu.Lock()
	_, ok := s.m[key]
	delete(s.m, key)
	s.mu.Unlock()
	return ok
}

func (c *l1[V]) flush() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *l1[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

func nanos(t time.Time) int64 { return t.UnixNano() }
