package lockx

import (
	"context"
	"sync"
	"time"
)

// localDriver keeps locks in a map: the process-local implementation.
// Fencing counters are kept per key for fenceTTL after their last grant,
// as the fence keys in Redis.
type localDriver struct {
	mu      sync.Mutex
	locks   map[string]localEntry
	fences  map[string]localFence
	nextVal uint64
	grants  int
}

type localEntry struct {
	val     uint64
	expires time.Time
}

type localFence struct {
	tok     int64
	expires time.Time
}

func newLocalDriver() *localDriver {
	return &localDriver{locks: map[string]localEntry{}, fences: map[string]localFence{}}
}

func (d *localDriver) acquire(ctx context.Context, name, key string, ttl time.Duration, fenced bool) (lease, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if e, ok := d.locks[key]; ok && now.Before(e.expires) {
		return nil, ErrNotObtained
	}
	// Same rule as the Redis script: the clock in microseconds, or one
	// more than the last token when the clock has not moved past it.
	var tok int64
	if fenced {
		tok = now.UnixMicro()
		if f, ok := d.fences[key]; ok && now.Before(f.expires) && tok <= f.tok {
			tok = f.tok + 1
		}
		d.fences[key] = localFence{tok: tok, expires: now.Add(fenceTTL)}
	}
	d.nextVal++
	e := localEntry{val: d.nextVal, expires: now.Add(ttl)}
	d.locks[key] = e
	if d.grants++; d.grants%1024 == 0 {
		d.sweepLocked(now)
	}
	return &localLease{d: d, key: key, val: e.val, ttl: ttl, tok: tok, exp: e.expires}, nil
}

// sweepLocked drops expired entries so that abandoned locks and idle fence
// counters do not pile up.
func (d *localDriver) sweepLocked(now time.Time) {
	for k, e := range d.locks {
		if !now.Before(e.expires) {
			delete(d.locks, k)
		}
	}
	for k, f := range d.fences {
		if !now.Before(f.expires) {
			delete(d.fences, k)
		}
	}
}

// expireFence ends the fence counter of key now, as if fenceTTL had passed
// (tests force the expiry with it).
func (d *localDriver) expireFence(key string) {
	d.mu.Lock()
	delete(d.fences, key)
	d.mu.Unlock()
}

// deleteKey removes a lock behind its holder's back (tests simulate an
// out-of-band deletion with it).
func (d *localDriver) deleteKey(key string) {
	d.mu.Lock()
	delete(d.locks, key)
	d.mu.Unlock()
}

type localLease struct {
	d   *localDriver
	key string
	val uint64
	ttl time.Duration
	tok int64
	exp time.Time
}

func (l *localLease) token() int64     { return l.tok }
func (l *localLease) until() time.Time { return l.exp }

func (l *localLease) extend(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	now := time.Now()
	e, ok := l.d.locks[l.key]
	if !ok || e.val != l.val || !now.Before(e.expires) {
		return time.Time{}, ErrLost
	}
	e.expires = now.Add(l.ttl)
	l.d.locks[l.key] = e
	l.exp = e.expires
	return e.expires, nil
}

func (l *localLease) release(context.Context) error {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	e, ok := l.d.locks[l.key]
	if !ok || e.val != l.val {
		return ErrLost
	}
	delete(l.d.locks, l.key)
	if !time.Now().Before(e.expires) {
		return ErrLost
	}
	return nil
}
