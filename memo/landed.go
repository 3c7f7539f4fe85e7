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
// BackendTimeouts) is how long one is: a read that began before a value
// landed ends within BackendTimeout, and its caller reaches the flight
// group at once.
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
// arbitrary ones down to half the bound (their keys may then be loaded
// twice, never served wrong). Called with mu held.
func (l *landings) prune(now int64) {
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

// since reports whether a value of dataKey landed after a read stamped
// mark began (and not longer ago than its window).
func (l *landings) since(dataKey string, mark uint64, now int64) bool {
	l.mu.Lock()
	e, ok := l.m[dataKey]
	l.mu.Unlock()
	return ok && e.stamp > mark && now < e.until
}
