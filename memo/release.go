package memo

import "time"

// The lock releases of flights: a flight with a Locker does not wait for
// its unlock (the value has landed, or the load failed, when it returns;
// a lock that is not released expires by itself), so the unlock runs on
// another goroutine. A goroutine per unlock grows its stack through the
// Redis client on every miss (about half the cost of the unlock); releasers
// are kept instead, each waiting releaserIdle for the next unlock before it
// ends. A release is never queued behind another: it goes to an idle
// releaser, or starts one.

// releaserIdle is how long a releaser waits for another unlock.
const releaserIdle = time.Second

// releaseLater runs unlock on a releaser; when the Cache is closed (no
// background work) it runs it at once.
func (c *Cache[V]) releaseLater(unlock func()) {
	select {
	case c.releases <- unlock: // an idle releaser took it
		return
	default:
	}
	if !c.background(func() { c.releaser(unlock) }) {
		unlock()
	}
}

// releaser runs unlock, then the unlocks handed to it while it is idle,
// until it has been idle for releaserIdle or the Cache closes.
func (c *Cache[V]) releaser(unlock func()) {
	idle := time.NewTimer(releaserIdle)
	defer idle.Stop()
	for {
		unlock()
		idle.Reset(releaserIdle)
		select {
		case unlock = <-c.releases:
		case <-idle.C:
			return
		case <-c.closed:
			return
		}
	}
}
