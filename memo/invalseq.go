package memo

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// invalSeqStripes is the number of per-key invalidation counters. Keys
// share a counter when they hash alike: an invalidation of one then also
// refuses the store of a load of the other that overlapped it (the value
// is served, not stored), never the reverse.
const invalSeqStripes = 1024

// invalSeqs counts the invalidations this node has seen, its own and those
// heard through pub/sub, per key (striped) and for all keys (Clear, a
// prefix invalidation, a pub/sub gap). A load captures its key's sequence
// before it reads the backend and does not store when it changed: the
// value may predate the invalidation, whatever the backend still holds (an
// evicted tombstone makes the compare-and-swap succeed).
type invalSeqs struct {
	seed    maphash.Seed
	all     atomic.Uint64
	stripes [invalSeqStripes]atomic.Uint64

	// own counts this node's invalidation messages not yet heard back,
	// per key: hearing its own message does not refuse the store of a load
	// that started after the invalidation.
	mu  sync.Mutex
	own map[string]int
}

func newInvalSeqs() *invalSeqs { return &invalSeqs{seed: maphash.MakeSeed(), own: map[string]int{}} }

// of returns the invalidation sequence of key: it changes with every
// invalidation of key, and of every key.
func (s *invalSeqs) of(key string) uint64 {
	return s.stripes[maphash.String(s.seed, key)%invalSeqStripes].Load() + s.all.Load()
}

// bump records an invalidation of key.
func (s *invalSeqs) bump(key string) {
	s.stripes[maphash.String(s.seed, key)%invalSeqStripes].Add(1)
}

// bumpAll records an invalidation of possibly every key.
func (s *invalSeqs) bumpAll() { s.all.Add(1) }

// sent records that this node is publishing an invalidation of key.
func (s *invalSeqs) sent(key string) {
	s.mu.Lock()
	s.own[key]++
	s.mu.Unlock()
}

// unsent undoes sent for a message that may not have been published.
func (s *invalSeqs) unsent(key string) { s.heardOwn(key) }

// heardOwn reports whether an invalidation message of key heard now is
// (counted as) this node's own, and consumes it.
func (s *invalSeqs) heardOwn(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.own[key]
	switch {
	case n == 0:
		return false
	case n == 1:
		delete(s.own, key)
	default:
		s.own[key] = n - 1
	}
	return true
}

// forgetSent drops the record of messages sent: after a gap they may never
// be heard back.
func (s *invalSeqs) forgetSent() {
	s.mu.Lock()
	clear(s.own)
	s.mu.Unlock()
}
