package memory

import (
	"context"
	"sync"

	"github.com/cachekit/cachekit/backend"
)

// SubscriptionBuffer is how many undelivered messages a subscription
// buffers before it drops messages and owes a gap notice.
const SubscriptionBuffer = 1024

var _ backend.Subscription = (*subscription)(nil)

// hub routes published messages to subscriptions.
type hub struct {
	mu   sync.RWMutex
	subs map[string]map[*subscription]struct{} // channel → subscribers; nil once closed
}

// subscription is a backend.Subscription. Its channel has one slot more
// than SubscriptionBuffer, reserved for the gap notice: regular messages
// are sent only while fewer than SubscriptionBuffer are queued, so the
// notice always fits and is queued right after the first lost message,
// ahead of any later one. Only deliver sends, and only under mu, so the
// length check cannot race with another sender.
type subscription struct {
	b        *Backend
	channels []string
	ch       chan backend.Message

	mu      sync.Mutex
	closed  bool
	lastGap bool // the last message queued was a gap notice
}

// Publish sends a copy of payload to every current subscriber of channel
// in this process. It never blocks: a subscriber whose buffer is full
// loses the message and is sent a gap notice instead.
func (b *Backend) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	b.hub.mu.RLock()
	defer b.hub.mu.RUnlock()
	for sub := range b.hub.subs[channel] {
		sub.deliver(backend.Message{Channel: channel, Payload: clone(payload)})
	}
	return nil
}

// Subscribe returns a subscription to channels (duplicates are ignored).
// It lives until its Close or the Backend's Close; ctx bounds only the
// call. Messages is buffered ([SubscriptionBuffer]); see [Backend.Publish].
func (b *Backend) Subscribe(ctx context.Context, channels ...string) (backend.Subscription, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	sub := &subscription{b: b, ch: make(chan backend.Message, SubscriptionBuffer+1)}
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	if b.hub.subs == nil || b.closed.Load() {
		return nil, backend.ErrClosed
	}
	for _, c := range channels {
		set := b.hub.subs[c]
		if set == nil {
			set = make(map[*subscription]struct{})
			b.hub.subs[c] = set
		}
		if _, dup := set[sub]; !dup {
			set[sub] = struct{}{}
			sub.channels = append(sub.channels, c)
		}
	}
	return sub, nil
}

// deliver queues m without blocking, or drops it and queues a gap notice.
func (s *subscription) deliver(m backend.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if len(s.ch) < SubscriptionBuffer {
		s.ch <- m
		s.lastGap = false
		return
	}
	// Dropped. A gap notice still queued (it is the last message queued,
	// and the queue is not empty) already covers this loss.
	if !s.lastGap {
		s.ch <- backend.Message{Gap: true} // the reserved slot: never blocks
		s.lastGap = true
	}
}

// Messages returns the channel of incoming messages, closed by Close.
func (s *subscription) Messages() <-chan backend.Message { return s.ch }

// Close unsubscribes and closes the Messages channel. It is idempotent
// and always returns nil.
func (s *subscription) Close() error {
	h := &s.b.hub
	h.mu.Lock()
	if h.subs != nil {
		for _, c := range s.channels {
			if set := h.subs[c]; set != nil {
				delete(set, s)
				if len(set) == 0 {
					delete(h.subs, c)
				}
			}
		}
	}
	h.mu.Unlock()
	s.close()
	return nil
}

func (s *subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// closeAll closes every subscription; later Subscribe calls fail.
func (h *hub) closeAll() {
	h.mu.Lock()
	all := make(map[*subscription]struct{})
	for _, set := range h.subs {
		for sub := range set {
			all[sub] = struct{}{}
		}
	}
	h.subs = nil
	h.mu.Unlock()
	for sub := range all {
		sub.close()
	}
}
