package lockx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// MinTTL is the shortest lease [Options.TTL] accepts. Anything shorter
// leaves no room for a network round trip and the watchdog's TTL/3 ticks.
const MinTTL = 10 * time.Millisecond

// unlockTimeout bounds the release in [Lock.Unlock], which runs detached
// from the caller's context so that an already-cancelled request context
// still releases the lock.
const unlockTimeout = time.Second

// Defaults for the zero fields of [Options].
const (
	// DefaultTTL is the default [Options.TTL], as in redsync.
	DefaultTTL = 8 * time.Second
	// DefaultRetryDelay is the default [Options.RetryDelay].
	DefaultRetryDelay = 10 * time.Millisecond
	// DefaultMaxRetryDelay is the default [Options.MaxRetryDelay]: the
	// longest a waiting [Locker.Lock] sleeps between attempts.
	DefaultMaxRetryDelay = 250 * time.Millisecond
	// DefaultPrefix is the default [Options.Prefix].
	DefaultPrefix = "lockx:"
)

// Options configures a [Locker]. A nil *Options or a zero field means the
// documented default; the one feature that can be turned off has one
// switch (DisableWatchdog). Invalid values are rejected by the
// constructors with an error wrapping [ErrInvalidOptions]. lockx runs on
// the real clock (tests use testing/synctest), so it has no Now field.
type Options struct {
	// TTL is the lease: how long a lock stays valid without being extended.
	// The watchdog extends it every TTL/3. Default [DefaultTTL] (8s); values
	// below [MinTTL] (including negative ones) are rejected, so a lock
	// without expiry cannot be created.
	TTL time.Duration

	// Tries bounds the attempts [Locker.Lock] makes before returning
	// [ErrNotObtained]. Default 0: retry until the context ends. Negative
	// values are rejected. [Locker.TryLock] always makes one attempt.
	Tries int

	// RetryDelay is the wait after the first failed attempt; it doubles
	// after each further attempt up to MaxRetryDelay. Every wait is drawn
	// uniformly from [d/2, d] (jitter) so waiters do not move in step.
	// Defaults [DefaultRetryDelay] (10ms) and [DefaultMaxRetryDelay]
	// (250ms). Negative values, or MaxRetryDelay < RetryDelay, are rejected.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration

	// DisableWatchdog turns off automatic extension. The lock then lasts one
	// TTL unless the holder calls [Lock.Extend]; [Lock.Done] still closes
	// when the lease runs out. Default false: the watchdog runs.
	DisableWatchdog bool

	// MaxHold caps how long the watchdog keeps a lock alive, counted from
	// acquisition. When it is reached the watchdog stops extending and the
	// lock's work context is cancelled with an error wrapping [ErrLost]; the
	// lease then runs out by itself unless it is unlocked first. Default 0:
	// no cap. Negative values are rejected.
	//
	// WARNING: without a cap, a holder that never unlocks (a leaked *Lock,
	// a stuck goroutine) keeps the lock as long as its process lives.
	MaxHold time.Duration

	// Prefix starts every Redis key of this Locker. Default
	// [DefaultPrefix] ("lockx:"). It must not contain '{' or '}' (the
	// lock name is the Cluster hash tag).
	Prefix string

	// StrictEviction makes [New] and [NewRedlock] fail with an error
	// wrapping [ErrEvictionPolicy] when a Redis server can evict keys
	// (maxmemory is set and maxmemory-policy is anything but noeviction:
	// allkeys-* or volatile-*), instead of logging a warning. An evicted
	// lock key lets a second holder in. A server that refuses CONFIG GET
	// (managed Redis often does) or does not answer within 1s is not
	// checked: New logs it and goes on. Default false: warn.
	StrictEviction bool

	// Logger receives the eviction warning, a warning when a watchdog
	// extension starts failing, and reports of panics recovered in the
	// watchdog. Default slog.Default().
	Logger *slog.Logger
}

// config is Options after defaults and validation.
type config struct {
	ttl, retryDelay, maxRetryDelay, maxHold time.Duration
	tries                                   int
	watchdog, strictEviction                bool
	prefix                                  string
	logger                                  *slog.Logger
}

func newConfig(o *Options) (config, error) {
	if o == nil {
		o = &Options{}
	}
	c := config{
		ttl: o.TTL, tries: o.Tries, retryDelay: o.RetryDelay, maxRetryDelay: o.MaxRetryDelay,
		maxHold: o.MaxHold, watchdog: !o.DisableWatchdog, strictEviction: o.StrictEviction,
		prefix: o.Prefix, logger: o.Logger,
	}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.retryDelay == 0 {
		c.retryDelay = DefaultRetryDelay
	}
	if c.maxRetryDelay == 0 {
		c.maxRetryDelay = max(DefaultMaxRetryDelay, c.retryDelay)
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	switch {
	case c.ttl < MinTTL:
		return c, fmt.Errorf("%w: TTL %v is below the minimum %v", ErrInvalidOptions, o.TTL, MinTTL)
	case c.tries < 0:
		return c, fmt.Errorf("%w: Tries %d is negative", ErrInvalidOptions, o.Tries)
	case c.retryDelay < 0 || c.maxRetryDelay < 0:
		return c, fmt.Errorf("%w: negative retry delay", ErrInvalidOptions)
	case c.maxRetryDelay < c.retryDelay:
		return c, fmt.Errorf("%w: MaxRetryDelay %v is below RetryDelay %v", ErrInvalidOptions, c.maxRetryDelay, c.retryDelay)
	case c.maxHold < 0:
		return c, fmt.Errorf("%w: MaxHold %v is negative", ErrInvalidOptions, o.MaxHold)
	case strings.ContainsAny(c.prefix, "{}"):
		return c, fmt.Errorf("%w: Prefix %q contains a hash-tag brace", ErrInvalidOptions, o.Prefix)
	}
	return c, nil
}

// driver performs one acquisition attempt; one Redis node (singleDriver),
// Redlock nodes (redisDriver, via redsync) and the process-local map
// implement it.
type driver interface {
	// acquire makes one attempt. It mints a fencing token with the grant
	// when fenced is set (the lease's token is 0 otherwise). It returns
	// ErrNotObtained, a *QuorumError, or another error on failure.
	acquire(ctx context.Context, name, key string, ttl time.Duration, fenced bool) (lease, error)
}

// lease is one granted lock as the driver sees it. Calls are serialised
// by the owning Lock.
type lease interface {
	token() int64
	until() time.Time
	// extend resets the TTL if the lease is still held. It returns the new
	// validity end, or ErrLost / a *QuorumError.
	extend(ctx context.Context) (time.Time, error)
	// release deletes the lock if it is still ours; ErrLost if it was not.
	release(ctx context.Context) error
}

// Locker hands out [Lock]s: over Redis ([New], [NewRedlock]) or within one
// process ([NewLocal]). The zero value is not usable. A Locker is safe for
// concurrent use and holds no resources of its own (the Redis clients
// belong to the caller).
type Locker struct {
	cfg   config
	drv   driver
	stats lockStats

	// testHookExtend, when set by tests, runs before every watchdog
	// extension.
	testHookExtend func(*Lock)
}

func newLocker(drv driver, o *Options) (*Locker, error) {
	cfg, err := newConfig(o)
	if err != nil {
		return nil, err
	}
	return &Locker{cfg: cfg, drv: drv}, nil
}

// NewLocal returns a Locker whose locks live in this process only: the
// embedded default when there is no Redis. It has the same semantics as a
// Redis Locker — TTL leases, fencing tokens, watchdog, context errors — but
// excludes only goroutines of this process that share the returned Locker.
// Tokens are seeded from the clock, so they keep increasing across process
// restarts as long as the clock does not go backwards.
func NewLocal(o *Options) (*Locker, error) {
	return newLocker(newLocalDriver(), o)
}

// Lock acquires the lock called name, retrying with backoff while it is
// held elsewhere, until it is granted, [Options.Tries] attempts fail, or
// ctx ends. When ctx ends the error satisfies errors.Is(err, ctx.Err())
// (and errors.Is for the last attempt's error, usually [ErrNotObtained]).
// Other failures are [ErrNotObtained] or a [*QuorumError].
//
// The returned Lock must be released with [Lock.Unlock]. Names are any
// non-empty string; they are escaped, so they cannot inject Redis Cluster
// hash tags.
func (l *Locker) Lock(ctx context.Context, name string) (*Lock, error) {
	return l.lock(ctx, name, l.cfg.tries, true, false, nil)
}

// TryLock makes one attempt to acquire the lock called name and returns
// [ErrNotObtained] at once if it is held elsewhere.
func (l *Locker) TryLock(ctx context.Context, name string) (*Lock, error) {
	return l.lock(ctx, name, 1, true, false, nil)
}

// TryAcquire is [Locker.TryLock] in the shape of memo's Locker interface:
// ok is false with a nil error when the lock is held elsewhere. The lock
// runs the watchdog until release is called; release is [Lock.Unlock].
//
// The caller never sees a fencing token, so none is minted: over Redis
// the lock is one key with a TTL, deleted by release, and nothing is left
// behind (no fence counter). With [New] (the lock is one key: on a
// server, a Cluster or a Ring) a refused attempt marks the lock as waited
// on, in the same script: a key next to the lock's ("prefix{name}:waited")
// that expires after one TTL, deleted by the holder's release (a grant
// keeps a mark an earlier holder left: its waiters still wait). [Locker.TryAcquireGet]'s release reports it (memo
// wakes waiters only when there are some).
func (l *Locker) TryAcquire(ctx context.Context, name string) (release func(context.Context) error, ok bool, err error) {
	lk, err := l.lock(ctx, name, 1, false, true, nil)
	if errors.Is(err, ErrNotObtained) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return lk.Unlock, true, nil
}

// Do acquires the lock called name (as [Locker.Lock]), runs fn while
// holding it, and releases it. fn's context is derived from ctx and is
// also cancelled if the lock is lost (its cause, from context.Cause, wraps
// [ErrLost]). The lock is released even if fn panics or calls
// runtime.Goexit; the panic then continues.
//
// Do returns fn's error joined with the error of the release; a release
// that reports [ErrLost] means fn may have run without exclusion at its
// end, and the protected resource should have rejected its stale writes by
// fencing token. fn does not see a token, so Do mints none (and leaves no
// fence counter in Redis): use [Locker.Lock] and [Lock.Token] when the
// protected resource checks tokens.
func (l *Locker) Do(ctx context.Context, name string, fn func(ctx context.Context) error) (err error) {
	lk, err := l.lock(ctx, name, l.cfg.tries, false, false, nil)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(lk.ctx, func() { cancel(context.Cause(lk.ctx)) })
	finished := false
	defer func() {
		stop()
		cancel(nil)
		uerr := lk.Unlock(ctx)
		if finished {
			err = errors.Join(err, uerr)
		}
	}()
	err = fn(wctx)
	finished = true
	return err
}

// lock acquires the lock called name in at most tries attempts (0: until
// ctx ends). With marked, over one node, a refused attempt marks the lock
// as waited on (see TryAcquire). With g, whose driver is l's, each attempt
// reads g's key right after a grant, in the grant's round trip (see
// TryAcquireGet).
func (l *Locker) lock(ctx context.Context, name string, tries int, fenced, marked bool, g *foldedGet) (*Lock, error) {
	if name == "" {
		return nil, ErrInvalidName
	}
	lk, err := l.attempts(ctx, name, tries, fenced, marked, g)
	if err != nil {
		l.stats.failed.Add(1)
	} else {
		l.stats.acquired.Add(1)
	}
	return lk, err
}

// attempts runs the acquisition loop of lock, counting contention and the
// time spent waiting between attempts.
func (l *Locker) attempts(ctx context.Context, name string, tries int, fenced, marked bool, g *foldedGet) (*Lock, error) {
	key := l.key(name)
	single, _ := l.drv.(*singleDriver)
	var (
		last  error
		timer *time.Timer
	)
	for i := 0; tries == 0 || i < tries; i++ {
		if i > 0 {
			if i == 1 {
				l.stats.waits.Add(1)
			}
			d := l.backoff(i)
			waitStart := time.Now()
			if timer == nil {
				timer = time.NewTimer(d)
				defer timer.Stop()
			} else {
				timer.Reset(d)
			}
			select {
			case <-ctx.Done():
				l.stats.waitNanos.Add(int64(time.Since(waitStart)))
				return nil, &ctxError{op: "lock", name: name, ctx: ctx.Err(), last: last}
			case <-timer.C:
			}
			l.stats.waitNanos.Add(int64(time.Since(waitStart)))
		}
		if err := ctx.Err(); err != nil {
			return nil, &ctxError{op: "lock", name: name, ctx: err, last: last}
		}
		var (
			ls  lease
			err error
		)
		if single != nil && (marked || g != nil) {
			ls, err = single.acquireThen(ctx, name, key, l.cfg.ttl, fenced, marked, g)
		} else {
			ls, err = l.drv.acquire(ctx, name, key, l.cfg.ttl, fenced)
		}
		if err == nil {
			return newLock(l, name, ls), nil
		}
		if cerr := ctxEnded(ctx); cerr != nil {
			// An attempt cut short by the caller's context says nothing
			// about the lock: the last complete attempt's verdict stands.
			if last == nil {
				last = err
			}
			return nil, &ctxError{op: "lock", name: name, ctx: cerr, last: last}
		}
		if !errors.Is(err, ErrNotObtained) && !errors.Is(err, ErrQuorum) {
			return nil, err
		}
		if errors.Is(err, ErrNotObtained) {
			l.stats.contended.Add(1)
		}
		last = err
	}
	return nil, last
}

// key is the Redis key of the lock called name: the escaped name is the
// Cluster hash tag, shared with the fence counter (key + fenceSuffix).
func (l *Locker) key(name string) string {
	return l.cfg.prefix + "{" + backend.EscapeKeyPart(name) + "}"
}

// backoff returns the wait before attempt i (i ≥ 1): exponential from
// RetryDelay, capped at MaxRetryDelay, with jitter in [d/2, d].
func (l *Locker) backoff(i int) time.Duration {
	d := l.cfg.retryDelay
	for j := 1; j < i && d < l.cfg.maxRetryDelay; j++ {
		d *= 2
	}
	d = min(d, l.cfg.maxRetryDelay)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
