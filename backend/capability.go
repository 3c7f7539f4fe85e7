package backend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Batcher is implemented by backends that read and write many keys in one
// round trip (a pipeline or MGET). Use [GetMany] and [SetMany].
type Batcher interface {
	// GetMany returns one value per key, in the order of keys. A missing
	// key yields a nil entry; a present empty value yields a non-nil empty
	// slice.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
	// SetMany stores every item. It is not atomic: on error some items may
	// have been stored.
	SetMany(ctx context.Context, items []Item) error
}

// Counter is implemented by backends with atomic integer counters.
type Counter interface {
	// Incr adds delta to the integer stored under key and returns the new
	// value. A missing key counts as 0 and is created with ttl (> 0 or
	// NoExpiry); an existing key keeps its expiry. Incr is never retried
	// blindly: when its reply is lost the error wraps ErrOutcomeUnknown.
	Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
}

// Expirer is implemented by backends that read and change key expiry.
type Expirer interface {
	// TTL returns the remaining time to live of key, NoExpiry if it has
	// none, or an error wrapping ErrNotFound if it does not exist.
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Expire sets the expiry of an existing key (ttl > 0 or NoExpiry).
	// It returns an error wrapping ErrNotFound if the key does not exist.
	Expire(ctx context.Context, key string, ttl time.Duration) error
	// Persist removes the expiry of an existing key. It returns an error
	// wrapping ErrNotFound if the key does not exist.
	Persist(ctx context.Context, key string) error
}

// Scanner is implemented by backends that iterate keys by Redis-style glob
// pattern. Patterns are checked with [CheckPattern]. Build patterns from user
// input with [EscapeKeyPart] or [QuoteGlob].
type Scanner interface {
	// Scan calls fn for every key matching pattern. Keys present for the
	// whole scan are reported at least once; a key may be reported more
	// than once (Redis SCAN semantics). An error from fn stops the scan and
	// is returned.
	Scan(ctx context.Context, pattern string, fn func(key string) error) error
	// DeletePattern deletes every key matching pattern, in batches, and
	// returns how many keys it deleted.
	DeletePattern(ctx context.Context, pattern string) (int64, error)
}

// Swapper is implemented by backends with an atomic compare-and-swap, the
// primitive behind memo's stale-set protection.
type Swapper interface {
	// CompareAndSwap stores value under key with ttl only if the current
	// value equals old byte for byte; a nil old means "only if key is
	// absent". It reports whether it stored. When the reply is lost the
	// error wraps ErrOutcomeUnknown.
	CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error)
}

// PubSub is implemented by backends that broadcast messages to every
// subscriber, in this process and others (memo uses it to evict L1 entries
// on every node and to wake waiters when a value lands).
type PubSub interface {
	// Publish sends payload to every current subscriber of channel.
	Publish(ctx context.Context, channel string, payload []byte) error
	// Subscribe starts receiving messages on channels. When it returns, the
	// subscription is active: every message published afterwards is
	// delivered (or a Gap reported). The subscription lives until Close;
	// ctx bounds only the subscribe call itself.
	Subscribe(ctx context.Context, channels ...string) (Subscription, error)
}

// Subscription delivers published messages.
type Subscription interface {
	// Messages returns the channel of incoming messages. It is closed after
	// Close. Delivery is bounded: a subscriber that falls behind loses
	// messages, and is then sent a Message with Gap set.
	Messages() <-chan Message
	// Close ends the subscription. It is safe to call more than once.
	Close() error
}

// Message is one published message, or a gap notice.
type Message struct {
	Channel string // the channel it was published on
	Payload []byte // the published bytes; the receiver owns them
	// Gap reports that messages may have been lost before this one (a
	// reconnect, or a full buffer). Receivers that keep derived state, such
	// as an L1 cache, must resynchronise (flush). A gap message has no
	// Channel or Payload.
	Gap bool
}

// NonEmptyGetter is implemented by backends with a cheaper read for callers
// whose stored values are never empty (memo's entries are envelopes of at
// least a header): an empty value may then read as a miss, which spares the
// backend telling an empty value from a missing key (backend/goredis: one
// size-bounded GETRANGE instead of GETRANGE and EXISTS).
type NonEmptyGetter interface {
	// GetNonEmpty is Get, except that an empty value may be reported as
	// an error wrapping ErrNotFound.
	GetNonEmpty(ctx context.Context, key string) ([]byte, error)
}

// GetNonEmpty reads key using b's [NonEmptyGetter] capability when present,
// or Get otherwise; an empty value is an error wrapping ErrNotFound either
// way. For callers that never store empty values.
func GetNonEmpty(ctx context.Context, b Backend, key string) ([]byte, error) {
	if g, ok := b.(NonEmptyGetter); ok {
		return g.GetNonEmpty(ctx, key)
	}
	v, err := b.Get(ctx, key)
	if err == nil && len(v) == 0 {
		return nil, ErrNotFound
	}
	return v, err
}

// GetMany reads keys using b's [Batcher] capability when present, or one
// Get per key otherwise. Results follow [Batcher.GetMany]: nil for a miss.
func GetMany(ctx context.Context, b Backend, keys []string) ([][]byte, error) {
	if bb, ok := b.(Batcher); ok {
		return bb.GetMany(ctx, keys)
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := b.Get(ctx, k)
		switch {
		case err == nil:
			if v == nil {
				v = []byte{}
			}
			out[i] = v
		case errors.Is(err, ErrNotFound):
		default:
			return nil, err
		}
	}
	return out, nil
}

// SetMany writes items using b's [Batcher] capability when present, or one
// Set per item otherwise.
func SetMany(ctx context.Context, b Backend, items []Item) error {
	for _, it := range items {
		if err := CheckTTL(it.TTL); err != nil {
			return fmt.Errorf("backend: SetMany %q: %w", it.Key, err)
		}
	}
	if bb, ok := b.(Batcher); ok {
		return bb.SetMany(ctx, items)
	}
	for _, it := range items {
		if err := b.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

// Incr adds delta to the counter under key through b's [Counter]
// capability. There is no safe fallback for an atomic counter, so a backend
// without one yields an error wrapping errors.ErrUnsupported.
func Incr(ctx context.Context, b Backend, key string, delta int64, ttl time.Duration) (int64, error) {
	c, ok := b.(Counter)
	if !ok {
		return 0, unsupported(b, "Counter")
	}
	return c.Incr(ctx, key, delta, ttl)
}

// TTL reads key's remaining time to live through b's [Expirer] capability.
func TTL(ctx context.Context, b Backend, key string) (time.Duration, error) {
	e, ok := b.(Expirer)
	if !ok {
		return 0, unsupported(b, "Expirer")
	}
	return e.TTL(ctx, key)
}

// Expire sets key's expiry through b's [Expirer] capability.
func Expire(ctx context.Context, b Backend, key string, ttl time.Duration) error {
	e, ok := b.(Expirer)
	if !ok {
		return unsupported(b, "Expirer")
	}
	return e.Expire(ctx, key, ttl)
}

// Persist removes key's expiry through b's [Expirer] capability.
func Persist(ctx context.Context, b Backend, key string) error {
	e, ok := b.(Expirer)
	if !ok {
		return unsupported(b, "Expirer")
	}
	return e.Persist(ctx, key)
}

// Scan iterates keys matching pattern through b's [Scanner] capability.
func Scan(ctx context.Context, b Backend, pattern string, fn func(key string) error) error {
	s, ok := b.(Scanner)
	if !ok {
		return unsupported(b, "Scanner")
	}
	return s.Scan(ctx, pattern, fn)
}

// DeletePattern deletes keys matching pattern through b's [Scanner]
// capability.
func DeletePattern(ctx context.Context, b Backend, pattern string) (int64, error) {
	s, ok := b.(Scanner)
	if !ok {
		return 0, unsupported(b, "Scanner")
	}
	return s.DeletePattern(ctx, pattern)
}

// CompareAndSwap runs an atomic compare-and-swap through b's [Swapper]
// capability. There is no safe fallback.
func CompareAndSwap(ctx context.Context, b Backend, key string, old, value []byte, ttl time.Duration) (bool, error) {
	s, ok := b.(Swapper)
	if !ok {
		return false, unsupported(b, "Swapper")
	}
	return s.CompareAndSwap(ctx, key, old, value, ttl)
}

// Publish sends payload on channel through b's [PubSub] capability. There
// is no fallback: a backend without pub/sub yields an error wrapping
// errors.ErrUnsupported.
func Publish(ctx context.Context, b Backend, channel string, payload []byte) error {
	ps, ok := b.(PubSub)
	if !ok {
		return unsupported(b, "PubSub")
	}
	return ps.Publish(ctx, channel, payload)
}

// Subscribe starts a subscription through b's [PubSub] capability.
func Subscribe(ctx context.Context, b Backend, channels ...string) (Subscription, error) {
	ps, ok := b.(PubSub)
	if !ok {
		return nil, unsupported(b, "PubSub")
	}
	return ps.Subscribe(ctx, channels...)
}

func unsupported(b Backend, capability string) error {
	return fmt.Errorf("backend: %T does not implement backend.%s: %w", b, capability, errors.ErrUnsupported)
}
