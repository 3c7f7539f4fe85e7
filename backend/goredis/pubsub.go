package goredis

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// Publish sends payload to every subscriber of channel with PUBLISH. On a
// Cluster PUBLISH reaches subscribers on every node (it is sent to the
// master of the channel's slot, so the messages of one channel keep their
// order); on a Ring it is sent to every shard, because a Ring subscription
// lives on one shard. go-redis
// may re-send a PUBLISH whose reply was lost, so a subscriber can (rarely)
// receive a message twice.
func (b *Backend) Publish(ctx context.Context, channel string, payload []byte) error {
	if b.closed.Load() {
		return backend.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	switch c := b.c.(type) {
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Publish(ctx, channel, payload).Err()
		})
	case *redis.ClusterClient:
		// Publish on the master of the channel's slot, where go-redis
		// also subscribes: messages on one channel then keep their order
		// (a random node per PUBLISH reorders them across the cluster bus).
		var node *redis.Client
		if node, err = c.MasterForKey(ctx, channel); err == nil {
			err = node.Publish(ctx, channel, payload).Err()
		}
	default:
		err = b.c.Publish(ctx, channel, payload).Err()
	}
	if err != nil {
		return b.fail(ctx, "PUBLISH", channel, err)
	}
	return nil
}

// Subscribe subscribes to channels (duplicates are ignored) and waits,
// bounded by ctx, until the server confirms every channel. The
// subscription then lives until its Close or the Backend's Close.
//
// Delivery is bounded: [Options.SubscriptionBuffer] messages are buffered;
// when the consumer falls behind, messages are dropped and a gap notice
// (a [backend.Message] with Gap set) follows. A gap notice is also
// delivered when the connection breaks and again when go-redis has
// reconnected and re-subscribed (messages published meanwhile are lost),
// and when the server stops answering health-check PINGs (see
// [Options.HealthCheckInterval]).
func (b *Backend) Subscribe(ctx context.Context, channels ...string) (backend.Subscription, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{
		b:    b,
		ch:   make(chan backend.Message, b.opt.SubscriptionBuffer+1),
		done: make(chan struct{}),
	}
	seen := make(map[string]bool, len(channels))
	for _, c := range channels {
		if !seen[c] {
			seen[c] = true
			s.channels = append(s.channels, c)
		}
	}
	if len(s.channels) == 0 {
		close(s.done)
		return s, b.register(s)
	}
	s.ps = b.c.Subscribe(ctx, s.channels...)
	confirmed := make(map[string]bool, len(s.channels))
	for len(confirmed) < len(s.channels) {
		msg, err := s.ps.Receive(ctx)
		if err != nil {
			_ = s.ps.Close()
			return nil, b.fail(ctx, "SUBSCRIBE", s.channels[0], err)
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				confirmed[m.Channel] = true
			}
		case *redis.Message:
			s.deliver(backend.Message{Channel: m.Channel, Payload: []byte(m.Payload)})
		}
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.loop(loopCtx, confirmed)
	if err := b.register(s); err != nil {
		return nil, err
	}
	return s, nil
}

// register records s so that Backend.Close closes it.
func (b *Backend) register(s *subscription) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		s.shutdown()
		return backend.ErrClosed
	}
	b.subs[s] = struct{}{}
	return nil
}

var _ backend.Subscription = (*subscription)(nil)

// subscription is a backend.Subscription fed by one receive goroutine.
// The goroutine is the only sender on ch, so the length check in deliver
// cannot race; ch has one slot more than the buffer, reserved for the gap
// notice.
type subscription struct {
	b        *Backend
	channels []string
	ch       chan backend.Message
	lastGap  bool // the last message queued is a gap notice (loop only)
	done     chan struct{}

	mu     sync.Mutex
	ps     *redis.PubSub // nil once closed
	cancel context.CancelFunc
	closed bool
}

// Messages returns the channel of incoming messages, closed by Close.
func (s *subscription) Messages() <-chan backend.Message { return s.ch }

// Close unsubscribes, stops the receive goroutine and closes the Messages
// channel before it returns. It is idempotent and returns nil.
func (s *subscription) Close() error {
	s.b.mu.Lock()
	if s.b.subs != nil {
		delete(s.b.subs, s)
	}
	s.b.mu.Unlock()
	s.shutdown()
	return nil
}

func (s *subscription) shutdown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	ps := s.ps
	s.ps = nil
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	if ps != nil {
		_ = ps.Close() // unblocks a pending Receive
	}
	if s.cancel == nil { // the loop never started
		close(s.ch)
		return
	}
	<-s.done
}

// deliver queues m without blocking, or drops it and queues a gap notice.
func (s *subscription) deliver(m backend.Message) {
	if len(s.ch) < cap(s.ch)-1 {
		s.ch <- m
		s.lastGap = m.Gap
		return
	}
	// Dropped. A gap notice still queued (the last message queued, with
	// the queue not empty) already covers this loss.
	if !s.lastGap {
		s.ch <- backend.Message{Gap: true}
		s.lastGap = true
	}
}

func (s *subscription) current() *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

// loop receives until Close. confirmed holds the channels whose
// subscription the server has confirmed on the current connection: a
// confirmation for a channel already in it means go-redis reconnected and
// re-subscribed.
func (s *subscription) loop(ctx context.Context, confirmed map[string]bool) {
	defer close(s.done)
	defer close(s.ch)
	defer func() {
		if r := recover(); r != nil {
			s.b.log.Error("goredis: subscription receive loop panicked", "panic", r, "channels", s.channels)
		}
	}()
	const minBackoff, maxBackoff = 10 * time.Millisecond, time.Second
	backoff := minBackoff
	broken, pinged := false, false
	for {
		ps := s.current()
		if ps == nil {
			return
		}
		msg, err := ps.ReceiveTimeout(ctx, s.b.opt.HealthCheckInterval)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if !broken && errors.As(err, &ne) && ne.Timeout() {
				if !pinged {
					pinged = true
					_ = ps.Ping(ctx)
					continue
				}
				// No reply to the PING within an interval: the server or
				// the path to it is gone without closing the connection.
				s.b.log.Warn("goredis: subscription unresponsive, resubscribing", "channels", s.channels)
				pinged = false
				clear(confirmed)
				s.deliver(backend.Message{Gap: true})
				s.resubscribe(ctx, ps)
				continue
			}
			if !broken {
				broken = true
				s.b.log.Warn("goredis: subscription connection lost", "channels", s.channels, "err", err)
				s.deliver(backend.Message{Gap: true})
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		broken, pinged, backoff = false, false, minBackoff
		switch m := msg.(type) {
		case *redis.Message:
			s.deliver(backend.Message{Channel: m.Channel, Payload: []byte(m.Payload)})
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if confirmed[m.Channel] {
				// Re-subscribed after a reconnect: messages published
				// while disconnected are lost.
				clear(confirmed)
				s.deliver(backend.Message{Gap: true})
			}
			confirmed[m.Channel] = true
		}
	}
}

// resubscribe replaces old with a new PubSub on a fresh connection.
func (s *subscription) resubscribe(ctx context.Context, old *redis.PubSub) {
	ps := s.b.c.Subscribe(ctx, s.channels...)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ps.Close()
		return
	}
	s.ps = ps
	s.mu.Unlock()
	_ = old.Close()
}
