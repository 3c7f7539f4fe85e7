package memo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// DefaultCounterTTL is the life of a counter when CounterOptions.TTL is 0.
const DefaultCounterTTL = 24 * time.Hour

// CounterOptions configures a [Counter]. The zero value is usable.
type CounterOptions struct {
	// Namespace and Version place the counter beside a Cache's keys (the
	// same key as [Cache.Incr] with that name). Defaults as in Options:
	// "memo", version 1.
	Namespace string
	Version   int
	// TTL is the life of the counter from its creation (the first Incr or
	// Decr after it is absent or Reset); later changes keep its expiry, so
	// a counter is a fixed window. A counter key always expires:
	// backend.NoExpiry is refused. Default DefaultCounterTTL.
	TTL time.Duration
	// BackendTimeout bounds each backend call. Default 1s.
	BackendTimeout time.Duration
}

// Counter is an atomic int64 counter in a backend, namespaced like a
// Cache's keys, built on the backend's [backend.Counter] capability. It is
// safe for concurrent use and across processes.
//
// Incr and Decr are never retried: when the reply is lost the error wraps
// [backend.ErrOutcomeUnknown] (the change may or may not have happened).
type Counter struct {
	b       backend.Backend
	key     string
	ttl     time.Duration
	timeout time.Duration
}

// NewCounter returns the counter name in b. opts may be nil. A backend
// without counters yields an error wrapping errors.ErrUnsupported.
func NewCounter(b backend.Backend, name string, opts *CounterOptions) (*Counter, error) {
	var o CounterOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case b == nil:
		return nil, fmt.Errorf("%w: nil backend", errOptions)
	case o.TTL == backend.NoExpiry:
		return nil, fmt.Errorf("%w: counter TTL: a counter must expire", errOptions)
	case o.TTL < 0 || o.BackendTimeout < 0:
		return nil, fmt.Errorf("%w: negative duration", errOptions)
	case o.Version < 0:
		return nil, fmt.Errorf("%w: Version %d < 0", errOptions, o.Version)
	}
	if _, ok := b.(backend.Counter); !ok {
		return nil, fmt.Errorf("memo: counter on %T: %w", b, errors.ErrUnsupported)
	}
	if o.Namespace == "" {
		o.Namespace = "memo"
	}
	if o.Version == 0 {
		o.Version = 1
	}
	if o.TTL == 0 {
		o.TTL = DefaultCounterTTL
	}
	if o.BackendTimeout == 0 {
		o.BackendTimeout = time.Second
	}
	return &Counter{b: b, key: newKeyspace(o.Namespace, o.Version).counter(name), ttl: o.TTL, timeout: o.BackendTimeout}, nil
}

// Counter returns the counter name in c's namespace (the key [Cache.Incr]
// uses for name). opts may be nil; its Namespace and Version are those of c.
func (c *Cache[V]) Counter(name string, opts *CounterOptions) (*Counter, error) {
	var o CounterOptions
	if opts != nil {
		o = *opts
	}
	o.Namespace, o.Version = c.opts.Namespace, c.opts.Version
	if o.BackendTimeout == 0 {
		o.BackendTimeout = c.opts.BackendTimeout
	}
	return NewCounter(c.backend, name, &o)
}

// Key returns the counter's backend key.
func (n *Counter) Key() string { return n.key }

// Get returns the counter's value: 0 when it is absent or expired.
func (n *Counter) Get(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	raw, err := n.b.Get(ctx, n.key)
	if errors.Is(err, backend.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: key %q", backend.ErrNotInteger, n.key)
	}
	return v, nil
}

// Incr adds delta and returns the new value; an absent counter starts at
// 0 and expires after CounterOptions.TTL.
func (n *Counter) Incr(ctx context.Context, delta int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	return backend.Incr(ctx, n.b, n.key, delta, n.ttl)
}

// Decr subtracts delta and returns the new value (see Incr).
func (n *Counter) Decr(ctx context.Context, delta int64) (int64, error) {
	if delta == -delta && delta != 0 { // math.MinInt64 cannot be negated
		return 0, fmt.Errorf("%w: key %q: decrement by %d", backend.ErrOverflow, n.key, delta)
	}
	return n.Incr(ctx, -delta)
}

// Reset deletes the counter: Get reports 0 and the next Incr starts a new
// window of CounterOptions.TTL.
func (n *Counter) Reset(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	return n.b.Delete(ctx, n.key)
}

// TTL returns the counter's remaining life. An absent counter yields an
// error wrapping backend.ErrNotFound; a backend without expiry reads
// yields one wrapping errors.ErrUnsupported.
func (n *Counter) TTL(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	return backend.TTL(ctx, n.b, n.key)
}
