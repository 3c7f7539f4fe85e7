package memo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// Locker acquires a distributed lock without waiting for it. memo takes it
// around a load so that, across processes, one caller loads a cold key while
// the others wait for the value to land. *lockx.Locker satisfies it (memo
// does not import lockx); [LockerFunc] adapts a function.
type Locker interface {
	// TryAcquire makes one attempt to take the lock called name. ok=false
	// with a nil error means another holder has it. release frees the lock;
	// it must work even with an already-cancelled context.
	TryAcquire(ctx context.Context, name string) (release func(context.Context) error, ok bool, err error)
}

// LockerFunc adapts a function to [Locker].
type LockerFunc func(ctx context.Context, name string) (func(context.Context) error, bool, error)

// TryAcquire calls f.
func (f LockerFunc) TryAcquire(ctx context.Context, name string) (func(context.Context) error, bool, error) {
	return f(ctx, name)
}

// GetLocker is a [Locker] that can also read a key of the Cache's backend
// right after granting a lock, in the grant's round trip. memo re-checks
// its key after taking the lock on a miss (another process may have
// stored the value between the caller's read and the grant); with a
// GetLocker whose GetsFrom holds for the Cache's backend, that re-check
// costs no round trip of its own, and a locked miss waits for three
// instead of four. *lockx.Locker is one (over one Redis server, with the
// backend/goredis Backend on the same client: see lockx.Locker.GetsFrom).
// memo uses it only when GetsFrom holds; otherwise it calls TryAcquire and
// reads the backend itself.
type GetLocker interface {
	Locker
	// GetsFrom reports whether TryAcquireGet reads keys of b in the round
	// trip of the grant. memo asks it once, in [New].
	GetsFrom(b backend.Backend) bool
	// TryAcquireGet is TryAcquire followed, when the lock is granted
	// (ok is true, err is nil), by a read of key from b that starts after
	// the grant: value and getErr are what backend.GetNonEmpty(ctx, b, key)
	// returns for it. When the lock is not granted they are nil.
	//
	// Its release also reports whether the lock was waited on: whether an
	// attempt (TryAcquire or TryAcquireGet, by any process) to take the
	// lock called name was refused while it was held. It must say true
	// when it cannot tell, and memo takes an error for true. memo stores a
	// value loaded under such a lock without the "value landed" message
	// that wakes the callers of other processes waiting for it, and sends
	// the message after the release only if the lock was waited on.
	TryAcquireGet(ctx context.Context, name string, b backend.Backend, key string) (release func(context.Context) (waited bool, err error), ok bool, value []byte, getErr error, err error)
}

// Options configures a [Cache]. The zero value of every field is its
// documented default, and a nil *Options means all defaults.
type Options struct {
	// Namespace prefixes every key ("ns:v<version>:..."). Default "memo".
	Namespace string
	// Version is part of every key; bump it when V's encoding changes
	// incompatibly. Default 1.
	Version int

	// Codec serializes values. Default codec.Default (msgpack). It is also
	// the only codec stored entries are decoded with: an entry written with
	// another codec is corrupt (a miss, counted in CorruptEntries, and
	// overwritten).
	Codec codec.Codec
	// AcceptCodecs lists further codecs whose stored entries are decoded,
	// to migrate a namespace from one codec to another without a wave of
	// misses (see codec.Envelope.Accept). Default none.
	AcceptCodecs []codec.Codec
	// Compression applies to encoded values of at least
	// CompressionThreshold bytes. Default none.
	Compression codec.Compression
	// CompressionThreshold: default codec.DefaultThreshold.
	CompressionThreshold int

	// TTL is how long a value stays fresh. Default 5 minutes; at most
	// [MaxTTL]. There is no "never expire" (the seed's TIMEOUT: None):
	// a cache never leaves a key without expiry, so backend.NoExpiry is
	// refused by [New] with [ErrInvalidOptions]; use a long TTL instead.
	TTL time.Duration
	// Jitter spreads expiries by ±Jitter·TTL so keys loaded together do not
	// expire together. Default 0.1; a negative value disables jitter.
	Jitter float64
	// StaleTTL is the stale-while-revalidate window after TTL: a value
	// that is stale but within it is returned at once and refreshed once in
	// the background. Default 0 (no stale serving).
	StaleTTL time.Duration
	// StaleIfError is how long past TTL a value may still be returned when
	// its reload fails (RFC 5861 stale-if-error). Default 0.
	StaleIfError time.Duration
	// Beta enables probabilistic early refresh (XFetch): a fresh value is
	// refreshed in the background when now − δ·Beta·ln(rand) ≥ expiry,
	// where δ is the measured load time. 1 is the usual setting; 0 (the
	// default) disables it.
	Beta float64
	// NegativeTTL caches a loader's [ErrNotFound] for this long. Default 0:
	// not-found is not cached.
	NegativeTTL time.Duration
	// NotFound, when set, says which other loader errors mean "no value"
	// (for example func(err error) bool { return errors.Is(err,
	// sql.ErrNoRows) }): they are treated exactly as [ErrNotFound] —
	// cached for NegativeTTL, and returned to callers as ErrNotFound. Not
	// consulted for panics or for GetMany's batch loader errors.
	NotFound func(error) bool

	// LoadTimeout bounds a load, which runs detached from its callers'
	// contexts. Default 30 seconds.
	LoadTimeout time.Duration
	// BackendTimeout bounds every backend call, so a slow or frozen backend
	// costs a caller at most this much before it falls back to loading.
	// Default 250 ms.
	BackendTimeout time.Duration
	// MaxConcurrentLoads bounds concurrent loads per Cache, protecting the
	// origin when the backend is down and every Get becomes a load.
	// Default 256.
	MaxConcurrentLoads int

	// L1Size enables a typed in-process cache of up to L1Size entries in
	// front of the backend. L1 hits return the stored V without decoding
	// (so V must be treated as immutable by callers). Default 0: no L1.
	L1Size int
	// L1TTL caps how long an L1 entry is served, bounding staleness when an
	// invalidation message from another node is missed. Default: TTL/10,
	// at least 1 second and at most TTL.
	L1TTL time.Duration

	// Locker, when set, is taken around every load so that one caller
	// across all processes loads a cold key. Default nil: coalescing is
	// per process only. A [GetLocker] (the lockx Locker given the
	// backend's own client) saves the miss a round trip.
	Locker Locker
	// LockWait is how long a caller that lost the lock waits for the value
	// to land before loading itself (liveness over purity). Default:
	// LoadTimeout.
	LockWait time.Duration
	// PollInterval bounds how long a waiting caller goes without checking
	// the backend when no "value landed" message arrives. Default 50 ms.
	PollInterval time.Duration

	// FailClosed makes an unavailable backend an error instead of a reason
	// to load: when the backend fails, times out or does not answer within
	// the caller's share of its budget (half of what remains of its
	// context), or the circuit breaker is open, Get, Fetch and GetMany
	// return an error wrapping [ErrBackendUnavailable] within the caller's
	// budget, and the loader is not called. For origins that must not take
	// the traffic the cache normally absorbs. L1 hits are still served.
	// Default false: fail open (load, and return the loaded value).
	FailClosed bool

	// StrictEviction makes [New] fail with an error wrapping
	// [ErrEvictionPolicy] when a backend server can evict keys (see the
	// package documentation, Eviction). Default false: a warning through
	// Logger. A server that refuses CONFIG GET is never an error.
	StrictEviction bool

	// BreakerThreshold is the number of consecutive backend failures
	// (errors or timeouts; misses are not failures) that opens the circuit
	// breaker. Default 5; negative disables the breaker.
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker skips the backend before
	// letting one probe through. Default 1 second.
	BreakerCooldown time.Duration

	// Logger receives warnings about backend failures and recovered panics.
	// Default slog.Default().
	Logger *slog.Logger
	// Observer receives every cache event. Default none.
	Observer Observer

	// Now returns the current time; tests inject a fake clock. Default
	// time.Now.
	Now func() time.Time
	// Rand returns a float in [0, 1) for jitter and early refresh. Default
	// math/rand/v2.Float64.
	Rand func() float64
}

// ErrInvalidOptions is wrapped by every error [New] (and [NewCounter])
// returns for invalid [Options].
var ErrInvalidOptions = errors.New("memo: invalid options")

// errOptions is the package-internal name of [ErrInvalidOptions].
var errOptions = ErrInvalidOptions

// MaxTTL is the longest duration memo accepts anywhere: every duration
// option of [Options] (TTL, StaleTTL, StaleIfError, NegativeTTL, L1TTL,
// LoadTimeout, BackendTimeout, LockWait, PollInterval, BreakerCooldown;
// longer is refused by [New]), and every duration of a [Result] (TTL, its
// stale windows and Retain; [Cache.Put] refuses longer with [ErrTTLTooLong],
// and a [FetchFunc]'s result is clamped to it).
//
// Stored entries carry their expiry as a time that must lie before the
// year 2262 (codec.Envelope), and backend TTLs add a value's TTL to its
// windows: with every duration at most 10 years, the furthest expiry
// (now + a jittered TTL of up to 2·MaxTTL) stays centuries inside that
// range, and no sum of durations memo makes overflows time.Duration.
// 10 years is also longer than any cached value should live unrefreshed.
const MaxTTL = 10 * 365 * 24 * time.Hour

// ErrTTLTooLong is returned by [Cache.Put] for a [Result] with a duration
// longer than [MaxTTL] (including backend.NoExpiry, when it also wraps
// [ErrNoExpiry]).
var ErrTTLTooLong = errors.New("memo: duration longer than memo.MaxTTL")

func (o *Options) withDefaults() (Options, error) {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Namespace == "" {
		out.Namespace = "memo"
	}
	if out.Version == 0 {
		out.Version = 1
	}
	if out.Codec == nil {
		out.Codec = codec.Default
	}
	if out.TTL == 0 {
		out.TTL = 5 * time.Minute
	}
	if out.Jitter == 0 {
		out.Jitter = 0.1
	}
	if out.Jitter < 0 {
		out.Jitter = 0
	}
	if out.LoadTimeout == 0 {
		out.LoadTimeout = 30 * time.Second
	}
	if out.BackendTimeout == 0 {
		out.BackendTimeout = 250 * time.Millisecond
	}
	if out.MaxConcurrentLoads == 0 {
		out.MaxConcurrentLoads = 256
	}
	if out.L1TTL == 0 {
		out.L1TTL = min(max(out.TTL/10, time.Second), out.TTL)
	}
	if out.LockWait == 0 {
		out.LockWait = out.LoadTimeout
	}
	if out.PollInterval == 0 {
		out.PollInterval = 50 * time.Millisecond
	}
	if out.BreakerThreshold == 0 {
		out.BreakerThreshold = 5
	}
	if out.BreakerCooldown == 0 {
		out.BreakerCooldown = time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Rand == nil {
		out.Rand = randFloat
	}
	switch {
	case isNilPointer(out.Locker):
		return out, fmt.Errorf("%w: Locker is a nil %T (leave Locker nil for no distributed lock)", errOptions, out.Locker)
	case out.Version < 0:
		return out, fmt.Errorf("%w: Version %d < 0", errOptions, out.Version)
	case out.TTL < 0, out.StaleTTL < 0, out.StaleIfError < 0, out.NegativeTTL < 0, out.L1TTL < 0:
		return out, fmt.Errorf("%w: negative TTL", errOptions)
	case out.Jitter >= 1:
		return out, fmt.Errorf("%w: Jitter %v ≥ 1", errOptions, out.Jitter)
	case out.Beta < 0:
		return out, fmt.Errorf("%w: Beta %v < 0", errOptions, out.Beta)
	case out.LoadTimeout < 0, out.BackendTimeout < 0, out.LockWait < 0, out.PollInterval < 0, out.BreakerCooldown < 0:
		return out, fmt.Errorf("%w: negative duration", errOptions)
	case out.TTL > MaxTTL:
		return out, fmt.Errorf("%w: TTL %v longer than MaxTTL (%v); a cache never keeps keys without expiry, use a long TTL", errOptions, durString(out.TTL), MaxTTL)
	case out.StaleTTL > MaxTTL, out.StaleIfError > MaxTTL, out.NegativeTTL > MaxTTL, out.L1TTL > MaxTTL,
		out.LoadTimeout > MaxTTL, out.BackendTimeout > MaxTTL, out.LockWait > MaxTTL, out.PollInterval > MaxTTL,
		out.BreakerCooldown > MaxTTL:
		return out, fmt.Errorf("%w: a duration (StaleTTL, StaleIfError, NegativeTTL, L1TTL, LoadTimeout, BackendTimeout, LockWait, PollInterval or BreakerCooldown) is longer than MaxTTL (%v)", errOptions, MaxTTL)
	case out.MaxConcurrentLoads < 0, out.L1Size < 0:
		return out, fmt.Errorf("%w: negative size", errOptions)
	}
	return out, nil
}

// durString prints d, or "backend.NoExpiry".
func durString(d time.Duration) string {
	if d == backend.NoExpiry {
		return "backend.NoExpiry"
	}
	return d.String()
}

// checkResult refuses a [Result] with a duration longer than [MaxTTL].
func checkResult[V any](r Result[V]) error {
	for _, d := range [...]time.Duration{r.TTL, r.StaleWhileRevalidate, r.StaleIfError, r.Retain} {
		if d == backend.NoExpiry {
			return fmt.Errorf("%w (%w): a Result duration is backend.NoExpiry", ErrTTLTooLong, ErrNoExpiry)
		}
		if d > MaxTTL {
			return fmt.Errorf("%w: a Result duration is %v (MaxTTL %v)", ErrTTLTooLong, d, MaxTTL)
		}
	}
	return nil
}

// clampResult limits every duration of r to [MaxTTL], reporting whether it
// changed any.
func clampResult[V any](r *Result[V]) bool {
	changed := false
	for _, d := range [...]*time.Duration{&r.TTL, &r.StaleWhileRevalidate, &r.StaleIfError, &r.Retain} {
		if *d > MaxTTL {
			*d = MaxTTL
			changed = true
		}
	}
	return changed
}

// isNilPointer reports whether l holds a nil pointer or function (a typed
// nil, such as a nil *lockx.Locker or LockerFunc): not a nil Locker, and
// one whose first call panics.
func isNilPointer(l Locker) bool {
	if l == nil {
		return false
	}
	v := reflect.ValueOf(l)
	switch v.Kind() {
	case reflect.Pointer, reflect.Func:
		return v.IsNil()
	}
	return false
}
