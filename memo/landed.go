package memo

import (
	"sync"
	"sync/atomic"
)

// Values that just landed. Without a Locker a flight does not read the
// backend again before it loads: a miss waits for two round trips, the
// caller's read and the store. A caller whose read began before a flight
// of this node stored the value can still miss it, and reach the flight
// group after that flight has ended; it would load again (on a recovery
// herd: TestOutageLoadsOncePerKey). So each value a flight stores is kept
// here briefly, stamped in order with the reads, and a flight started by
// such a caller takes it instead of loading.
//
// A landed value is handed only to a flight whose read began before it
// landed (a read that began after it found the key without it, and the
// backend is then right: evicted, expired or overwritten), and only while
// no invalidation of its key was seen on this node since it was stored
// (the same sequence that refuses stores, see miss.store). It is at most
// as old as a value the caller's read could have returned.

// landedMax bounds the values kept; landedWindow (in BackendTimeouts) is
// how long one is kept: a read that began before a value landed ends
// within BackendTimeout, and its caller reaches the flight group at once.
const (
	landedMax    = 1024
	landedWindow = 4
)

// landings holds the values this node's flights stored, per data key.
type landings[V any] struct {
	// marks orders reads and landings: a read takes mark() before it
	// starts, a landing is stamped after its store returned.
	marks atomic.Uint64
	mu    sync.Mutex
	m     map[string]landing[V]
}

// landing is one stored value (or cached not-found) and when it landed.
type landing[V any] struct {
	val      V
	meta     entryMeta
	notFound bool
	stamp    uint64 // after the store returned
	seq      uint64 // the key's invalidation sequence the store was checked against
	until    int64  // nanotime after which it is no longer handed out
}

// mark returns the stamp a read takes before it starts.
func (l *landings[V]) mark() uint64 { return l.marks.Load() }

// put records that the value of dataKey was stored (the store was checked
// against the invalidation sequence seq) and is valid until now+keep.
func (l *landings[V]) put(dataKey string, e landing[V], now, keep int64) {
	e.stamp = l.marks.Add(1)
	e.until = now + keep
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]landing[V]{}
	}
	if _, ok := l.m[dataKey]; !ok && len(l.m) >= landedMax {
		l.prune(now)
	}
	l.m[dataKey] = e
}

// prune drops the entries past their window and, if that is not enough,
// arbitrary ones down to half the bound. Called with mu held.
func (l *landings[V]) prune(now int64) {
	for k, e := range l.m {
		if now >= e.until {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < landedMax/2 {
			return
		}
		delete(l.m, k)
	}
}

// take returns the value of dataKey that landed after a read stamped mark
// began, if no invalidation of its key was seen since (seq is the key's
// sequence now) and it is still fresh at nowWall (unix nanos of
// Options.Now); now is the hot-path clock.
func (l *landings[V]) take(dataKey string, mark, seq uint64, now, nowWall int64) (landing[V], bool) {
	l.mu.Lock()
	e, ok := l.m[dataKey]
	l.mu.Unlock()
	switch {
	case !ok, e.stamp <= mark, e.seq != seq, now >= e.until:
		return landing[V]{}, false
	case !e.meta.soft.IsZero() && nowWall >= e.meta.soft.UnixNano():
		return landing[V]{}, false
	}
	return e, true
}
