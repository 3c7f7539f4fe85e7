package memory

import (
	"math"
	"sync"
	"sync/atomic"
)

// never is the expiry of an entry without TTL.
const never = math.MaxInt64

// reapPerWrite is how many entries each write checks for expiry, so that
// expired entries are reclaimed even when nobody reads them.
const reapPerWrite = 2

type entry struct {
	key     string
	value   []byte
	expires int64 // nanoseconds since Backend.base; never = no expiry
	idx     int   // position in shard.ring
	ref     atomic.Bool
}

func (e *entry) expired(now int64) bool {
	return e.expires != never && now >= e.expires
}

func entrySize(key string, n int) int64 {
	return int64(len(key)) + int64(n) + EntryOverhead
}

// shard is one independently locked part of a Backend, bounded by its own
// slice of MaxEntries and MaxBytes. The map indexes entries by key; ring
// holds the same entries in clock order (swap-remove keeps it dense).
// m == nil means the backend is closed.
type shard struct {
	mu          sync.RWMutex
	m           map[string]*entry
	ring        []*entry
	hand        int // CLOCK hand into ring
	reap        int // expiry sweeper position in ring
	bytes       int64
	maxBytes    int64
	maxEntries  int
	evictions   int64
	expirations int64
	_           [80]byte // 192 bytes: keep shards on separate cache lines
}

// get returns a copy of the live value of key and marks it referenced.
func (s *shard) get(key string, now func() int64) ([]byte, bool) {
	s.mu.RLock()
	e := s.m[key]
	if e == nil {
		s.mu.RUnlock()
		return nil, false
	}
	if e.expires != never {
		if t := now(); e.expired(t) {
			s.mu.RUnlock()
			s.reclaim(e, t)
			return nil, false
		}
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	v := clone(e.value)
	s.mu.RUnlock()
	return v, true
}

// reclaim removes e if it is still the (expired) entry of its key.
func (s *shard) reclaim(e *entry, now int64) {
	s.mu.Lock()
	if s.m != nil && s.m[e.key] == e && e.expired(now) {
		s.remove(e)
		s.expirations++
	}
	s.mu.Unlock()
}

// live returns the unexpired entry of key, reclaiming an expired one.
// The caller holds s.mu.
func (s *shard) live(key string, now int64) *entry {
	e := s.m[key]
	if e != nil && e.expired(now) {
		s.remove(e)
		s.expirations++
		return nil
	}
	return e
}

// put stores v (owned by the shard from now on) under key, evicting as
// needed. The caller holds s.mu, has checked s.m != nil and that the entry
// fits in s.maxBytes.
func (s *shard) put(key string, v []byte, expires, now int64) {
	s.reapExpired(now)
	size := entrySize(key, len(v))
	if e := s.m[key]; e != nil {
		// Update in place, keeping the entry's clock position.
		s.bytes += size - entrySize(key, len(e.value))
		e.value, e.expires = v, expires
		e.ref.Store(true)
		for s.bytes > s.maxBytes && s.evict(now, e) {
		}
		return
	}
	for (len(s.m) >= s.maxEntries || s.bytes+size > s.maxBytes) && s.evict(now, nil) {
	}
	e := &entry{key: key, value: v, expires: expires, idx: len(s.ring)}
	s.ring = append(s.ring, e)
	s.m[key] = e
	s.bytes += size
}

// evict removes one entry other than keep: the first expired or
// unreferenced entry under the clock hand, clearing reference bits on the
// way. It reports false if there is nothing to evict.
func (s *shard) evict(now int64, keep *entry) bool {
	if len(s.ring) == 0 || (len(s.ring) == 1 && s.ring[0] == keep) {
		return false
	}
	for {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		e := s.ring[s.hand]
		switch {
		case e == keep:
			s.hand++
		case e.expired(now):
			s.remove(e) // the hand now points at the entry swapped in
			s.expirations++
			return true
		case e.ref.Load():
			e.ref.Store(false)
			s.hand++
		default:
			s.remove(e)
			s.evictions++
			return true
		}
	}
}

// reapExpired checks the next reapPerWrite entries for expiry.
func (s *shard) reapExpired(now int64) {
	for range reapPerWrite {
		if len(s.ring) == 0 {
			return
		}
		if s.reap >= len(s.ring) {
			s.reap = 0
		}
		if e := s.ring[s.reap]; e.expired(now) {
			s.remove(e)
			s.expirations++
		} else {
			s.reap++
		}
	}
}

// remove deletes e from the shard. The caller holds s.mu.
func (s *shard) remove(e *entry) {
	last := len(s.ring) - 1
	moved := s.ring[last]
	s.ring[e.idx] = moved
	moved.idx = e.idx
	s.ring[last] = nil
	s.ring = s.ring[:last]
	delete(s.m, e.key)
	s.bytes -= entrySize(e.key, len(e.value))
}
