package memo

import (
	"context"
	"strconv"

	"github.com/cachekit/cachekit/backend"
)

// Messages on the namespace channel: one type byte, then the argument.
const (
	msgInvalidate = 'I' // user key: evict it from L1
	msgLanded     = 'L' // data key: a value landed, wake waiters
	msgClear      = 'C' // new generation, decimal

	msgInvalidatePrefix = 'P' // user key prefix: evict matching keys from L1
)

func (c *Cache[V]) publish(ctx context.Context, typ byte, arg string) {
	if c.ps == nil {
		return
	}
	payload := make([]byte, 0, 1+len(arg))
	payload = append(payload, typ)
	payload = append(payload, arg...)
	_ = c.call(context.WithoutCancel(ctx), func(ctx context.Context) error {
		return c.ps.Publish(ctx, c.keys.channel(), payload)
	})
}

// listen applies messages from every node (its own included, harmlessly)
// until the subscription closes.
func (c *Cache[V]) listen(sub backend.Subscription) {
	defer c.wg.Done()
	for m := range sub.Messages() {
		if m.Gap {
			// Messages may have been lost: nothing in L1 can be trusted,
			// and waiters may have missed their wake-up.
			c.epoch.Add(1)
			if c.l1 != nil {
				c.l1.flush()
			}
			c.wakeAll()
			c.genCheckedAt.Store(0)
			continue
		}
		if len(m.Payload) == 0 {
			continue
		}
		arg := string(m.Payload[1:])
		switch m.Payload[0] {
		case msgInvalidate:
			c.epoch.Add(1)
			c.forgetFlights(c.keys.data(c.gen.Load(), arg))
			if c.l1 != nil && c.l1.delete(arg) {
				c.stats.l1Invalidations.Add(1)
			}
		case msgInvalidatePrefix:
			c.epoch.Add(1)
			if c.l1 != nil {
				c.stats.l1Invalidations.Add(uint64(c.l1.deletePrefix(arg)))
			}
		case msgLanded:
			c.wake(arg)
		case msgClear:
			if g, err := strconv.ParseUint(arg, 10, 64); err == nil {
				c.setGeneration(g)
				c.genCheckedAt.Store(c.nanotime())
			}
		}
	}
}

func (c *Cache[V]) addWaiter(dk string) chan struct{} {
	ch := make(chan struct{}, 1)
	c.waitMu.Lock()
	set := c.waiters[dk]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		c.waiters[dk] = set
	}
	set[ch] = struct{}{}
	c.waitMu.Unlock()
	return ch
}

func (c *Cache[V]) removeWaiter(dk string, ch chan struct{}) {
	c.waitMu.Lock()
	if set := c.waiters[dk]; set != nil {
		delete(set, ch)
		if len(set) == 0 {
			delete(c.waiters, dk)
		}
	}
	c.waitMu.Unlock()
}

func (c *Cache[V]) wake(dk string) {
	c.waitMu.Lock()
	for ch := range c.waiters[dk] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	c.waitMu.Unlock()
}

func (c *Cache[V]) wakeAll() {
	c.waitMu.Lock()
	for _, set := range c.waiters {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	c.waitMu.Unlock()
}
