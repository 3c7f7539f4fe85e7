package backend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cachekit/cachekit/internal/glob"
)

// Errors returned by backends. Implementations translate their driver's
// errors at the boundary (for example redis.Nil becomes [ErrNotFound]), so
// callers can test with errors.Is whatever backend they run on.
var (
	// ErrNotFound reports a miss: the key does not exist or has expired.
	ErrNotFound = errors.New("backend: not found")

	// ErrInvalidTTL reports a TTL that is zero or negative. A TTL ≤ 0 never
	// means "keep forever" in cachekit: pass [NoExpiry] to ask for that.
	ErrInvalidTTL = errors.New("backend: invalid ttl (must be > 0, or backend.NoExpiry)")

	// ErrOutcomeUnknown reports that a non-idempotent command (a counter
	// increment, a compare-and-swap) was sent but its reply was lost, for
	// example to a timeout. The command may or may not have been applied;
	// cachekit never re-sends it blindly. It is returned joined with the
	// underlying cause (often context.DeadlineExceeded).
	ErrOutcomeUnknown = errors.New("backend: outcome unknown (command sent, reply lost)")

	// ErrInvalidPattern reports a glob pattern that is empty, too long, too
	// complex to run safely (see [MaxPatternLen] and
	// [MaxPatternWildcards]) or malformed (a '[' without its ']', a
	// trailing lone '\'). See [CheckPattern].
	ErrInvalidPattern = errors.New("backend: invalid pattern")

	// ErrInvalidKey reports an empty key.
	ErrInvalidKey = errors.New("backend: invalid key")

	// ErrTooLarge reports a value larger than the backend accepts: over its
	// MaxValueBytes option (default [DefaultMaxValueBytes]), or one that
	// can never fit in the memory backend's byte bound. A write is rejected
	// with it before any I/O and nothing is written. A read that finds an
	// oversized value written by someone else reports a miss: its error
	// wraps both [ErrNotFound] and ErrTooLarge.
	ErrTooLarge = errors.New("backend: value too large")

	// ErrIncomplete reports a pattern operation (Scan, DeletePattern) that
	// may have missed keys: the key space moved under it (a Redis Cluster
	// slot changed owner or was being migrated, again and again) and the
	// backend could not prove a rescan complete. The error also says what
	// was done (keys deleted or reported); repeating the operation once the
	// cluster is stable finishes the job. A backend never returns nil when
	// it may have missed keys.
	ErrIncomplete = errors.New("backend: possibly incomplete (keys moved during the operation)")

	// ErrClosed reports use of a backend or subscription after Close.
	ErrClosed = errors.New("backend: closed")

	// ErrNotInteger reports an Incr on a value that is not a decimal
	// 64-bit integer (Redis rules: optional '-', no '+', no leading zeros
	// or spaces). Nothing is changed.
	ErrNotInteger = errors.New("backend: value is not an integer or out of range")

	// ErrOverflow reports an Incr whose result would not fit in an int64.
	// Nothing is changed.
	ErrOverflow = errors.New("backend: increment or decrement would overflow")
)

// NoExpiry is the only TTL that stores a key without expiry. Every other
// TTL must be positive: Set, SetMany, Incr and Expire reject a TTL ≤ 0 with
// [ErrInvalidTTL], so an arithmetic slip can never create an immortal key.
// TTL reports NoExpiry for a key that exists without an expiry.
const NoExpiry = time.Duration(math.MaxInt64)

// DefaultMaxValueBytes is the default MaxValueBytes of the backends in
// cachekit (4 MiB): the largest value a write accepts and a read returns.
//
// Why 4 MiB: it holds an HTTP response at middleware's default 1 MiB body
// cap, with its headers and envelope, four times over; it equals the memory
// backend's default per-entry capacity (64 MiB over 16 shards), so the two
// backends accept the same values by default; and it bounds what one cache
// read may cost: a Redis reply of 4 MiB takes milliseconds on loopback and
// its bytes are held, often twice (stored and decoded), per concurrent
// request. Memcached's default item limit is 1 MiB; Redis allows 512 MiB.
const DefaultMaxValueBytes = 4 << 20

// Pattern limits applied by every backend to Scan and DeletePattern, so a
// user-supplied pattern cannot cost unbounded server CPU (Redis glob
// matching is backtracking; see CVE-2022-36021 and CVE-2024-31228).
const (
	// MaxPatternLen is the longest pattern accepted, in bytes.
	MaxPatternLen = 512
	// MaxPatternWildcards is the largest number of '*' accepted in a pattern.
	MaxPatternWildcards = 8
)

// Backend stores byte values under string keys. Implementations must be
// safe for concurrent use.
//
// A Backend may implement any of the optional capability interfaces in this
// package ([Batcher], [Counter], [Expirer], [Scanner], [Swapper],
// [PubSub]); use the package-level helpers such as [GetMany] and [Incr],
// which use a capability when present and fall back or report
// errors.ErrUnsupported otherwise.
type Backend interface {
	// Get returns the value stored under key, or an error wrapping
	// ErrNotFound if there is none. The returned slice belongs to the
	// caller.
	Get(ctx context.Context, key string) ([]byte, error)

	// Set stores value under key for ttl. ttl must be > 0 or NoExpiry.
	// The backend does not retain value after Set returns.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// Delete removes keys. Missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
}

// Item is one entry of a batch write.
type Item struct {
	Key   string        // the key to write (non-empty)
	Value []byte        // the value; the backend copies it
	TTL   time.Duration // > 0 or NoExpiry
}

// CheckTTL returns an error wrapping [ErrInvalidTTL] unless ttl > 0.
// [NoExpiry] is positive and therefore valid. Backends call it before any
// write.
func CheckTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("%w: %v", ErrInvalidTTL, ttl)
	}
	return nil
}

// RoundTTL rounds a positive ttl up to a whole millisecond, the precision
// of Redis expiry (SET PX, PEXPIRE): 500µs becomes 1ms, 1.2ms becomes 2ms.
// [NoExpiry] is returned unchanged. Every backend stores the rounded TTL,
// so a key expires at the same moment on all of them. ttl must be
// positive (see [CheckTTL]).
func RoundTTL(ttl time.Duration) time.Duration {
	if ttl == NoExpiry {
		return NoExpiry
	}
	if r := ttl % time.Millisecond; r != 0 {
		if ttl > NoExpiry-time.Millisecond {
			return NoExpiry - NoExpiry%time.Millisecond // the largest whole millisecond
		}
		ttl += time.Millisecond - r
	}
	return ttl
}

// CheckValueSize returns an error wrapping [ErrTooLarge] if a value of n
// bytes is over max. Backends call it before any write, with their
// MaxValueBytes option.
func CheckValueSize(key string, n, max int) error {
	if n > max {
		return fmt.Errorf("%w: %d bytes for key %q (max %d)", ErrTooLarge, n, key, max)
	}
	return nil
}

// CheckWrite validates a write of a value of n bytes under key for ttl
// against a backend's MaxValueBytes option maxValue: an error wrapping
// [ErrInvalidTTL] for a TTL ≤ 0 ([CheckTTL]), then one wrapping
// [ErrTooLarge] for a value over maxValue ([CheckValueSize]). Backends
// call it before any write.
func CheckWrite(key string, n int, ttl time.Duration, maxValue int) error {
	if err := CheckTTL(ttl); err != nil {
		return err
	}
	return CheckValueSize(key, n, maxValue)
}

// CheckPattern validates a glob pattern: it must be non-empty, at most
// [MaxPatternLen] bytes, with at most [MaxPatternWildcards] '*', and
// well formed: every '[' closed by a ']' (inside a set '\' escapes the
// next byte and "a-]" is a range ending at ']', exactly as Redis parses
// it) and no trailing lone '\'. Redis would silently reinterpret a
// malformed pattern ("user:[" matches nothing, "user:[a" matches
// "user:a"), so it is rejected instead, with an error wrapping
// [ErrInvalidPattern] that names the offset. Backends call it before any
// scan.
func CheckPattern(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPattern)
	}
	if len(pattern) > MaxPatternLen {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrInvalidPattern, len(pattern), MaxPatternLen)
	}
	stars := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++ // escaped character is literal
		case '*':
			stars++
		}
	}
	if stars > MaxPatternWildcards {
		return fmt.Errorf("%w: %d wildcards (max %d)", ErrInvalidPattern, stars, MaxPatternWildcards)
	}
	if err := glob.Validate(pattern); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPattern, err)
	}
	return nil
}
