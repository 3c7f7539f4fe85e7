package memo

import (
	"bytes"
	"context"
	"math"
	"time"
)

// Background refreshes: stale-while-revalidate (a stale value is served
// and reloaded once in the background) and XFetch early refresh (a fresh
// value is reloaded before it expires, with a probability that grows as
// expiry nears). At most one refresh per key runs in a process at a time,
// and with a Locker one across processes.

// refreshStale reloads in the background the stale entry m found, unless
// the entry changes meanwhile.
func (m *miss[V]) refreshStale(ctx context.Context) {
	c := m.c
	if !c.claimRefresh(m.dataKey) {
		return
	}
	r := *m
	c.runRefresh(m.dataKey, func() { r.refresh(ctx, true) })
}

// refreshEarly starts an XFetch refresh of key in the background; the
// caller (often an L1 hit) does not wait on the backend. Exactly one of
// load and fetch is set.
func (c *Cache[V]) refreshEarly(ctx context.Context, key string, gen uint64, load LoadFunc[V], fetch FetchFunc[V]) {
	dataKey := c.keys.data(gen, key)
	if !c.claimRefresh(dataKey) {
		return
	}
	c.event(EventEarlyRefresh, key, 0, nil)
	r := miss[V]{c: c, key: key, gen: gen, dataKey: dataKey, load: load, fetch: fetch}
	c.runRefresh(dataKey, func() { r.refresh(ctx, false) })
}

// claimRefresh reports whether the caller may start the refresh of
// dataKey: one refresh goroutine per key at a time, so stale hits that
// arrive while a refresh runs do not each park a goroutine waiting for it.
func (c *Cache[V]) claimRefresh(dataKey string) bool {
	_, busy := c.refreshing.LoadOrStore(dataKey, struct{}{})
	return !busy
}

// runRefresh runs a claimed refresh in the background and releases the
// claim when it ends.
func (c *Cache[V]) runRefresh(dataKey string, refresh func()) {
	if !c.background(func() {
		defer c.refreshing.Delete(dataKey)
		refresh()
	}) {
		c.refreshing.Delete(dataKey)
	}
}

// refresh runs one background refresh of the key. With seen, m.found is
// what the caller saw and the refresh is skipped if the entry changed
// since (another refresh landed, Set, Invalidate, expiry); without, it is
// looked up first (early refresh from an L1 hit, which must not wait on
// the backend).
func (m *miss[V]) refresh(ctx context.Context, seen bool) {
	c := m.c
	c.stats.refreshes.Add(1)
	m.started = c.opts.Now()
	m.epoch = c.epoch.Load()
	m.seq = c.invals.of(m.key)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
	defer cancel()
	again := c.lookupFresh(rctx, m.key, m.dataKey, m.found.raw)
	if !m.stillDue(&again, seen) {
		return
	}
	if c.opts.Locker != nil {
		lock, ok, rechecked, err := m.acquire(rctx, &again)
		if err != nil || !ok {
			return // another process is refreshing
		}
		m.quiet = lock.quiet()
		defer m.unlock(context.WithoutCancel(rctx), lock)
		// With a GetLocker the grant brought a read of the entry, for
		// free: a refresh another process stored between the read above
		// and the grant is not loaded again. The entry must still be the
		// one read above (m.found since stillDue), early refresh or not:
		// any fresh entry is not enough, another process's new one is.
		if rechecked && !m.stillDue(&again, true) {
			return
		}
	}
	_, _ = m.loadAndStore(rctx, false)
}

// stillDue reports whether the refresh should go on after a read of the
// entry found again: with seen, only if the entry is still the one the
// caller saw (m.found); without, only if it is fresh or missing, and then
// again becomes m.found.
func (m *miss[V]) stillDue(again *lookupResult[V], seen bool) bool {
	if seen {
		return again.state != stateUnknown && bytes.Equal(again.raw, m.found.raw)
	}
	if again.state != stateFresh && again.state != stateMiss {
		return false
	}
	m.found = *again
	return true
}

// earlyRefreshDue implements the XFetch test: refresh a fresh value early
// with a probability that grows as expiry nears, scaled by the load time δ.
func (c *Cache[V]) earlyRefreshDue(m entryMeta, now time.Time) bool {
	if c.opts.Beta <= 0 || m.soft.IsZero() || m.load <= 0 {
		return false
	}
	delta := min(m.load, c.opts.LoadTimeout, c.opts.TTL)
	r := 1 - c.opts.Rand() // (0, 1] for a Rand in [0, 1)
	if r <= 0 {
		return true // ln(0) = -Inf: the edge means "refresh now"
	}
	gap := -float64(delta) * c.opts.Beta * math.Log(r)
	if gap >= float64(m.soft.Sub(now)) {
		return true // compared as floats: a huge gap never overflows a Duration
	}
	return false
}
