package goredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// Defaults for [Options].
const (
	// DefaultScanCount is the COUNT hint of each SCAN call and the largest
	// number of keys in one UNLINK.
	DefaultScanCount = 500
	// DefaultSubscriptionBuffer is how many undelivered messages a
	// subscription buffers before it drops messages and owes a gap notice.
	DefaultSubscriptionBuffer = 1024
	// DefaultHealthCheckInterval is how long a subscription waits without
	// traffic before it pings the server.
	DefaultHealthCheckInterval = 30 * time.Second
)

// ErrContextTimeoutDisabled is returned by [New] for a client built without
// ContextTimeoutEnabled: such a client does not let a context deadline
// bound socket reads (a 100 ms deadline against a frozen server returns
// after the 5 s ReadTimeout). Build the client with ContextTimeoutEnabled:
// true, use [Dial], or set [Options.AllowContextTimeoutDisabled].
var ErrContextTimeoutDisabled = errors.New("goredis: client built without ContextTimeoutEnabled (context deadlines would not bound reads; use goredis.Dial or set ContextTimeoutEnabled: true)")

var (
	_ backend.Backend   = (*Backend)(nil)
	_ backend.Batcher   = (*Backend)(nil)
	_ backend.Counter   = (*Backend)(nil)
	_ backend.Expirer   = (*Backend)(nil)
	_ backend.Scanner   = (*Backend)(nil)
	_ backend.Swapper   = (*Backend)(nil)
	_ backend.PubSub    = (*Backend)(nil)
	_ backend.Pipeliner = (*Backend)(nil)
)

// Options configures a [Backend]. A nil *Options, like the zero value,
// selects every default.
type Options struct {
	// ScanCount is the COUNT hint of each SCAN call made by Scan and
	// DeletePattern, and the largest number of keys sent in one UNLINK.
	// Default 500 ([DefaultScanCount]).
	ScanCount int

	// SubscriptionBuffer is the number of messages a subscription buffers
	// for a slow consumer; beyond it messages are dropped and a gap notice
	// is delivered. Default 1024 ([DefaultSubscriptionBuffer]).
	SubscriptionBuffer int

	// HealthCheckInterval is how long a subscription waits without any
	// traffic before it sends a PING; if the PING is not answered within
	// another interval, the subscription reconnects and delivers a gap
	// notice. Default 30 s ([DefaultHealthCheckInterval]).
	HealthCheckInterval time.Duration

	// AllowContextTimeoutDisabled lets [New] accept a client built
	// without ContextTimeoutEnabled. Default false.
	//
	// WARNING: with such a client a context deadline does not bound
	// socket reads; a frozen server blocks callers for the client's
	// ReadTimeout whatever their deadline.
	AllowContextTimeoutDisabled bool

	// MaxValueBytes is the largest value stored or returned, the same
	// contract as the memory backend's option of that name. Set, SetMany,
	// CompareAndSwap and pipeline writes reject a larger value with an
	// error wrapping [backend.ErrTooLarge] before any network I/O. Get,
	// GetMany and pipeline reads of a larger value written by another
	// client report a miss (an error wrapping both [backend.ErrNotFound]
	// and [backend.ErrTooLarge]; see [Backend.OversizedReads]) and never
	// read or allocate more than MaxValueBytes+1 bytes of it (see "Value
	// size" in the package documentation). Default 4 MiB
	// ([backend.DefaultMaxValueBytes]); at most 512 MiB, Redis' own limit.
	MaxValueBytes int

	// Logger receives subscription reconnects and other background events.
	// Default slog.Default().
	Logger *slog.Logger
}

// topology is the shape of the client, which decides how multi-key and
// all-node operations run.
type topology int

const (
	standalone topology = iota // *redis.Client, including a failover client
	cluster                    // *redis.ClusterClient
	ring                       // *redis.Ring
)

// Backend is a [backend.Backend] over a go-redis client, implementing every
// optional capability of package backend. Create one with [New] or [Dial].
// It is safe for concurrent use.
type Backend struct {
	c      redis.UniversalClient
	topo   topology
	owned  bool // Close closes c
	opt    Options
	log    *slog.Logger
	closed atomic.Bool

	walkLimit int // masters one pattern walk scans at once; 0: maxParallelMasters (tests lower it)

	oversizedReads atomic.Int64 // reads that found a value over MaxValueBytes
	maxArg         any          // int64(MaxValueBytes), boxed once for GETRANGE

	pipes sync.Pool // of redis.Pipeliner, reused by Get

	valueHint atomic.Int64 // bytes per value of the last streamed GetMany, to size the next one's memory
	bigKeys   bigKeys      // keys a MGET found oversized: GetMany reads them with GETRANGE

	mu   sync.Mutex
	subs map[*subscription]struct{} // open subscriptions, closed by Close
}

// New returns a Backend over client, which must be a *redis.Client
// (standalone or Sentinel failover), a *redis.ClusterClient or a
// *redis.Ring, built with ContextTimeoutEnabled: true (see
// [ErrContextTimeoutDisabled]). opts may be nil. The caller keeps
// ownership of client: [Backend.Close] does not close it.
//
// The client's MaxRetries setting applies to idempotent commands only;
// Incr and CompareAndSwap are never re-sent (see the package
// documentation).
//
// On a standalone or Sentinel failover *redis.Client and on a *redis.Ring,
// New installs (once per client) a go-redis hook that retries a READONLY
// reply — a demoted primary — only once, on a fresh connection, and then
// returns an error wrapping [ErrReadOnly]; go-redis alone re-sends it
// MaxRetries times. The hook applies to every command and pipeline sent
// through that client, including the caller's own; reads a replica
// serves pass straight through it (see the package documentation).
func New(client redis.UniversalClient, opts *Options) (*Backend, error) {
	if client == nil {
		return nil, errors.New("goredis: nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ScanCount < 0 || o.SubscriptionBuffer < 0 || o.HealthCheckInterval < 0 || o.MaxValueBytes < 0 {
		return nil, fmt.Errorf("goredis: negative option in %+v", o)
	}
	if o.MaxValueBytes > maxRedisString {
		return nil, fmt.Errorf("goredis: MaxValueBytes %d is over Redis' 512 MiB string limit", o.MaxValueBytes)
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = backend.DefaultMaxValueBytes
	}
	if o.ScanCount == 0 {
		o.ScanCount = DefaultScanCount
	}
	if o.SubscriptionBuffer == 0 {
		o.SubscriptionBuffer = DefaultSubscriptionBuffer
	}
	if o.HealthCheckInterval == 0 {
		o.HealthCheckInterval = DefaultHealthCheckInterval
	}
	b := &Backend{c: client, opt: o, log: o.Logger, subs: make(map[*subscription]struct{}), maxArg: int64(o.MaxValueBytes)}
	if b.log == nil {
		b.log = slog.Default()
	}
	var ctxTimeout bool
	switch c := client.(type) {
	case *redis.Client:
		b.topo, ctxTimeout = standalone, c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		b.topo, ctxTimeout = cluster, c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		b.topo, ctxTimeout = ring, c.Options().ContextTimeoutEnabled
	default:
		return nil, fmt.Errorf("goredis: unsupported client type %T (want *redis.Client, *redis.ClusterClient or *redis.Ring)", client)
	}
	if !ctxTimeout && !o.AllowContextTimeoutDisabled {
		return nil, ErrContextTimeoutDisabled
	}
	switch c := client.(type) { // see readonly.go
	case *redis.Client:
		o := c.Options()
		guardReadOnly(c, c.AddHook, o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff)
	case *redis.Ring:
		o := c.Options()
		guardReadOnly(c, c.AddHook, o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff)
	}
	return b, nil
}

// Dial builds a go-redis client from a copy of opts with
// ContextTimeoutEnabled forced on (redis.NewUniversalClient picks a
// standalone, Sentinel failover or Cluster client from the options) and
// returns a Backend over it. The Backend owns that client: [Backend.Close]
// closes it.
func Dial(opts *redis.UniversalOptions, o *Options) (*Backend, error) {
	if opts == nil {
		return nil, errors.New("goredis: nil redis.UniversalOptions")
	}
	uo := *opts
	uo.ContextTimeoutEnabled = true
	c := redis.NewUniversalClient(&uo)
	b, err := New(c, o)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	b.owned = true
	return b, nil
}

// Client returns the underlying go-redis client, for commands the Backend
// does not wrap. Commands sent through it bypass the Backend's
// safeguards (no retry protection, no error translation).
func (b *Backend) Client() redis.UniversalClient { return b.c }

// MaxValueBytes returns the largest value a write accepts
// ([Options.MaxValueBytes]). Layers above use it to check their own size
// limits (middleware's MaxBodySize). It is safe for concurrent use.
func (b *Backend) MaxValueBytes() int { return b.opt.MaxValueBytes }

// Close closes every open subscription and, for a Backend built by [Dial],
// the client. Later calls fail with [backend.ErrClosed]. Close is
// idempotent.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.mu.Lock()
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for s := range subs {
		_ = s.Close()
	}
	if b.owned {
		return b.c.Close()
	}
	return nil
}

// Get returns the value stored under key, or [backend.ErrNotFound]. A
// value over [Options.MaxValueBytes], written by another client, is a
// miss too (the error also wraps [backend.ErrTooLarge]): Get sends
// GETRANGE key 0 MaxValueBytes with EXISTS key in one round trip, hit or
// miss, so it never receives or allocates more than MaxValueBytes+1 bytes,
// and costs the server about what a GET costs.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, error) {
	if err := b.check(ctx, key); err != nil {
		return nil, err
	}
	return b.boundedGet(ctx, key)
}

// GetNonEmpty is Get for callers whose values are never empty, such as
// memo (it implements [backend.NonEmptyGetter]): one GETRANGE key 0
// MaxValueBytes and no EXISTS, so an empty value reads as a miss
// ([backend.ErrNotFound]). The size bound is Get's: a value over
// [Options.MaxValueBytes] is a miss that also wraps [backend.ErrTooLarge],
// and no more than MaxValueBytes+1 bytes are received.
func (b *Backend) GetNonEmpty(ctx context.Context, key string) ([]byte, error) {
	if err := b.check(ctx, key); err != nil {
		return nil, err
	}
	cmd := redis.NewStringCmd(ctx, "getrange", key, 0, b.maxArg)
	_ = b.c.Process(ctx, cmd)
	return b.nonEmpty(ctx, key, cmd)
}

// PipeGetNonEmpty queues on pipe the one command [Backend.GetNonEmpty]
// sends for key, so that the read travels in the round trip of the
// caller's own commands: lockx reads memo's key this way right after
// granting its lock (see lockx.Locker.TryAcquireGet). pipe must be a
// pipeline of the Backend's own client ([Backend.Client]), executed with
// ctx. Once it has been executed, [PipedGet.Result] returns what
// GetNonEmpty would have returned for a read sent at that point of the
// pipeline: the same size bound, oversized-read count and error
// translation. A read that GetNonEmpty refuses before any I/O (a closed
// Backend, an ended ctx, an empty key) is not queued; Result returns its
// error. Queueing counts nothing: a read whose Result is never asked for
// leaves no trace.
func (b *Backend) PipeGetNonEmpty(ctx context.Context, pipe redis.Pipeliner, key string) PipedGet {
	if err := b.check(ctx, key); err != nil {
		return PipedGet{err: err}
	}
	g := PipedGet{b: b, key: key, cmd: redis.NewStringCmd(ctx, "getrange", key, 0, b.maxArg)}
	_ = pipe.Process(ctx, g.cmd)
	return g
}

// PipedGet is a read of [Backend.GetNonEmpty] queued on a caller's
// pipeline by [Backend.PipeGetNonEmpty]. The zero value is not usable.
type PipedGet struct {
	b   *Backend
	key string
	cmd *redis.StringCmd // nil when the read was refused (err)
	err error
}

// Result returns the outcome of the read, once its pipeline has been
// executed: what [Backend.GetNonEmpty] returns. ctx is the context the
// pipeline was executed with (an error says whether it had ended).
func (g PipedGet) Result(ctx context.Context) ([]byte, error) {
	if g.cmd == nil {
		return nil, g.err
	}
	return g.b.nonEmpty(ctx, g.key, g.cmd)
}

// nonEmpty interprets the reply of GetNonEmpty's GETRANGE of key.
func (b *Backend) nonEmpty(ctx context.Context, key string, cmd *redis.StringCmd) ([]byte, error) {
	v, err := cmd.Bytes()
	switch {
	case err != nil:
		return nil, b.fail(ctx, "GETRANGE", key, err)
	case len(v) > b.opt.MaxValueBytes:
		return nil, b.oversized(key, len(v))
	case len(v) == 0:
		return nil, backend.ErrNotFound
	}
	return v, nil
}

// Set stores value under key for ttl (> 0 or [backend.NoExpiry]), with
// millisecond precision: a TTL is rounded up to a whole millisecond
// ([backend.RoundTTL]; 500µs is stored as 1ms). A value over
// [Options.MaxValueBytes] yields an error wrapping [backend.ErrTooLarge]
// before any network I/O.
func (b *Backend) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := b.checkWrite(ctx, key, len(value), ttl); err != nil {
		return err
	}
	if err := b.c.Set(ctx, key, value, expiration(ttl)).Err(); err != nil {
		return b.fail(ctx, "SET", key, err)
	}
	return nil
}

// Delete removes keys with UNLINK (the memory is reclaimed in the
// background). On a Cluster keys are grouped by hash slot, so a multi-key
// delete never fails with CROSSSLOT; on a Ring each key is unlinked on its
// shard. An empty key yields [backend.ErrInvalidKey] and deletes nothing.
func (b *Backend) Delete(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := b.check(ctx, k); err != nil {
			return err
		}
	}
	_, err := b.unlink(ctx, keys)
	return err
}

// check rejects a closed backend, a finished context and an empty key.
func (b *Backend) check(ctx context.Context, key string) error {
	if b.closed.Load() {
		return backend.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return backend.ErrInvalidKey
	}
	return nil
}

// checkWrite validates a write of a value of n bytes under key with ttl,
// before any I/O.
func (b *Backend) checkWrite(ctx context.Context, key string, n int, ttl time.Duration) error {
	if err := b.check(ctx, key); err != nil {
		return err
	}
	return backend.CheckWrite(key, n, ttl, b.opt.MaxValueBytes)
}

// expiration converts a checked TTL to the go-redis expiration argument:
// 0 (no expiry) for NoExpiry, otherwise ttl rounded up to a whole
// millisecond, so go-redis sends PX (or EX) without truncating to 0.
func expiration(ttl time.Duration) time.Duration {
	if ttl == backend.NoExpiry {
		return 0
	}
	return time.Duration(millis(ttl)) * time.Millisecond
}

// millis returns ttl in milliseconds rounded up ([backend.RoundTTL], the
// rule both backends follow), or 0 for NoExpiry.
func millis(ttl time.Duration) int64 {
	if ttl == backend.NoExpiry {
		return 0
	}
	return int64(backend.RoundTTL(ttl) / time.Millisecond)
}

// fail translates a go-redis error: redis.Nil becomes backend.ErrNotFound,
// a READONLY reply wraps ErrReadOnly (whatever the client kind: a Cluster
// has no guard, see readonly.go), and an error caused by the end of ctx
// also satisfies errors.Is with ctx.Err() (go-redis reports a deadline on
// the socket as an i/o timeout).
func (b *Backend) fail(ctx context.Context, op, key string, err error) error {
	if errors.Is(err, redis.Nil) {
		return backend.ErrNotFound
	}
	if !errors.Is(err, ErrReadOnly) && redis.IsReadOnlyError(err) {
		err = fmt.Errorf("%w: %w", ErrReadOnly, err)
	}
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(d) {
		// The socket deadline is the context's deadline; its timer may
		// not have fired yet when the read times out.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("goredis: %s %q: %w: %w", op, key, cerr, err)
	}
	return fmt.Errorf("goredis: %s %q: %w", op, key, err)
}

// failUnsure translates the error of a non-idempotent command. Unless the
// command certainly did not run (the server answered with an error, or the
// connection was never established), the error also wraps
// backend.ErrOutcomeUnknown.
func (b *Backend) failUnsure(ctx context.Context, op, key string, err error) error {
	if errors.Is(err, redis.Nil) || notSent(err) {
		return b.fail(ctx, op, key, err)
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !strings.HasPrefix(rerr.Error(), "redis: ") {
		return b.fail(ctx, op, key, err) // a server reply: the outcome is known
	}
	return b.fail(ctx, op, key, fmt.Errorf("%w: %w", backend.ErrOutcomeUnknown, err))
}

// notSent reports errors that go-redis returns before writing a command:
// a closed client, a full pool, a failed dial.
func notSent(err error) bool {
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
