package memo

import (
	"context"
	"strconv"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// Messages on the namespace channel: one type byte, then the argument.
const (
	msgInvalidate = 'I' // user key: evict it from L1; a value may have landed: wake its waiters
	msgLanded     = 'L' // data key: a value landed, wake waiters
	msgClear      = 'C' // new generation, decimal

	msgInvalidatePrefix = 'P' // user key prefix: evict matching keys from L1
)

// subscribe listens to the namespace channel when the backend has
// pub/sub; a failed Subscribe is retried in the background.
func (c *Cache[V]) subscribe(ctx context.Context) {
	ps, ok := c.backend.(backend.PubSub)
	if !ok {
		return
	}
	c.pubsub = ps
	sub, err := ps.Subscribe(ctx, c.keys.channel())
	if err != nil {
		c.opts.Logger.Warn("memo: subscribe failed; retrying in the background (until then L1 entries are trusted only for L1TTL)", "namespace", c.opts.Namespace, "err", err)
		c.background(c.resubscribe)
		return
	}
	c.setSub(sub)
}

// setSub installs a subscription and starts its listener, unless the
// Cache closed meanwhile.
func (c *Cache[V]) setSub(sub backend.Subscription) {
	c.bgMu.RLock()
	defer c.bgMu.RUnlock()
	select {
	case <-c.closed:
		_ = sub.Close()
		return
	default:
	}
	c.sub = sub
	c.wg.Add(1)
	go c.listen(sub)
}

// resubscribe retries a failed Subscribe with backoff until it succeeds or
// the Cache closes; messages missed meanwhile are a gap (L1 flushed).
func (c *Cache[V]) resubscribe() {
	delay := 100 * time.Millisecond
	for {
		select {
		case <-c.closed:
			return
		case <-time.After(delay):
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.BackendTimeout)
		sub, err := c.pubsub.Subscribe(ctx, c.keys.channel())
		cancel()
		if err == nil {
			c.flushL1()
			c.setSub(sub)
			return
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// publish sends one message to every node (this one included).
func (c *Cache[V]) publish(ctx context.Context, typ byte, arg string) {
	if c.pubsub == nil {
		return
	}
	payload := message(typ, arg)
	if typ == msgInvalidate {
		c.invals.sent(arg)
	}
	err := c.call(ctx, func(ctx context.Context) error {
		return c.pubsub.Publish(ctx, c.keys.channel(), payload)
	})
	if err != nil && typ == msgInvalidate {
		// Maybe not sent: if it arrives all the same, it counts as another
		// node's (one more refused store, never one less).
		c.invals.unsent(arg)
	}
}

// message encodes one namespace message: its type byte, then arg.
func message(typ byte, arg string) []byte {
	payload := make([]byte, 0, 1+len(arg))
	payload = append(payload, typ)
	return append(payload, arg...)
}

// listen applies messages from every node (its own included, harmlessly)
// until the subscription closes.
func (c *Cache[V]) listen(sub backend.Subscription) {
	defer c.wg.Done()
	for m := range sub.Messages() {
		if m.Gap {
			// Messages may have been lost: nothing in L1 can be trusted,
			// and waiters may have missed their wake-up.
			c.flushL1()
			c.invals.forgetSent()
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
			dataKey := c.keys.data(c.gen.Load(), arg)
			if !c.invals.heardOwn(arg) {
				// Another node's invalidation: a load here that read the
				// backend before it must not store. (This node's own
				// invalidations were counted when they were made.)
				c.invals.bump(arg)
			}
			c.forgetFlights(dataKey)
			if c.evictL1(arg) {
				c.stats.l1Invalidations.Add(1)
			}
			c.wake(dataKey)
		case msgInvalidatePrefix:
			c.stats.l1Invalidations.Add(uint64(c.evictL1Prefix(arg)))
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

// addWaiter registers a channel that is woken when a value lands under
// dataKey.
func (c *Cache[V]) addWaiter(dataKey string) chan struct{} {
	ch := make(chan struct{}, 1)
	c.waitMu.Lock()
	set := c.waiters[dataKey]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		c.waiters[dataKey] = set
	}
	set[ch] = struct{}{}
	c.waitMu.Unlock()
	return ch
}

func (c *Cache[V]) removeWaiter(dataKey string, ch chan struct{}) {
	c.waitMu.Lock()
	if set := c.waiters[dataKey]; set != nil {
		delete(set, ch)
		if len(set) == 0 {
			delete(c.waiters, dataKey)
		}
	}
	c.waitMu.Unlock()
}

func (c *Cache[V]) wake(dataKey string) {
	c.wakes.Add(1)
	c.waitMu.Lock()
	for ch := range c.waiters[dataKey] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	c.waitMu.Unlock()
}

func (c *Cache[V]) wakeAll() {
	c.wakes.Add(1)
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
