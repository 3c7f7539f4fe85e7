package backend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
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

	// ErrInvalidPattern reports a glob pattern that is empty, too long or too
	// complex to run safely (see [MaxPatternLen] and [MaxPatternWildcards]).
	ErrInvalidPattern = errors.New("backend: invalid pattern")

	// ErrInvalidKey reports an empty key.
	ErrInvalidKey = errors.New("backend: invalid key")

	// ErrTooLarge reports a value that can never fit in the backend (for
	// example larger than the memory backend's byte bound).
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

// CheckPattern validates a glob pattern against [MaxPatternLen] and
// [MaxPatternWildcards].
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
	return nil
}
