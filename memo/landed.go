package memo

import (
	"sync"
	"sync/atomic"
)

// When values landed. Without a Locker a flight does not read the backend
// again before it loads: a miss waits for two round trips, the caller's
// read and the store. But a caller whose read began before a flight of
// this node stored the key's value can miss it, and reach the flight group
// after that flight has ended; loading then would be a second load of one
// key in one process (TestOneLoadPerKeyWithoutLocker). So every store
// that lands is stamped here, in one order with the reads, and a flight
// whose caller's read began before the key's last landing reads the
// backend again before it loads. No value is kept here: what the flight
// serves comes from the backend, as any read's.

// landedMax bounds the data keys remembered; landedWindow (in
// BackendTimeouts) is how long one is kept before it may be pruned: a
// read that began before a value landed ends within BackendTimeout, and
// its caller reaches the flight group at once. A caller later than that,
// or whose key was pruned, reads again all the same (landings.forgot).
const (
	landedMax    = 1024
	landedWindow = 4
)

// landings remembers when values last landed, per data key.
type landings struct {
	// marks orders reads and landings: a read takes mark() before it
	// starts, a landing is stamped after its store returned.
	marks atomic.Uint64
	mu    sync.Mutex
	m     map[string]landing
	// forgot is the newest stamp of a landing no longer in m: a read whose
	// mark is older may have begun before it, whatever its key, and reads
	// the backend again (an extra round trip, never a second load).
	forgot uint64
}

type landing struct {
	stamp uint64 // marks after the store returned
	until int64  // hot-path clock: forgotten after
}

// mark returns the stamp a read takes before it starts.
func (l *landings) mark() uint64 { return l.marks.Load() }

// landed records that a value of dataKey was stored, at now (the hot-path
// clock); it is remembered for keep.
func (l *landings) landed(dataKey string, now, keep int64) {
	e := landing{stamp: l.marks.Add(1), until: now + keep}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]landing{}
	}
	if _, ok := l.m[dataKey]; !ok && len(l.m) >= landedMax {
		l.prune(now)
	}
	l.m[dataKey] = e
}

// prune drops the entries past their window and, if that is not enough,
// arbitrary ones down to half the bound; since then answers yes for
// their keys to every read older than the newest of them. Called with mu
// held.
func (l *landings) prune(now int64) {
	for k, e := range l.m {
		if now >= e.until {
			l.forget(k, e)
		}
	}
	for k, e := range l.m {
		if len(l.m) < landedMax/2 {
			return
		}
		l.forget(k, e)
	}
}

// forget drops the entry e of k, keeping its stamp in forgot. Called with
// mu held.
func (l *landings) forget(k string, e landing) {
	delete(l.m, k)
	l.forgot = max(l.forgot, e.stamp)
}

// since reports whether a value of dataKey may have landed after a read
// stamped mark began: it did, or a landing the record forgot (past its
// window, or over its bound) came after mark.
func (l *landings) since(dataKey string, mark uint64) bool {
	l.mu.Lock()
	e, ok := l.m[dataKey]
	forgot := l.forgot
	l.mu.Unlock()
	return mark < forgot || (ok && e.stamp > mark)
}
