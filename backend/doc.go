// Package backend is cachekit's storage vocabulary: a three-method
// [Backend] interface over byte values, optional capability interfaces, and
// helpers that use a capability when a backend has it.
//
// # Implementations
//
//   - backend/memory: the embedded default, bounded by entries and bytes.
//   - backend/goredis: Redis through go-redis v9 (standalone, Sentinel,
//     Cluster, Ring).
//
// Both pass the same conformance suite, backend/backendtest, so code written
// against one behaves the same on the other.
//
// # Capabilities
//
// Beyond Get/Set/Delete, a backend may implement [Batcher] (pipelined batch
// reads and writes), [Pipeliner] (mixed operations in one round trip),
// [Counter] (atomic increments), [Expirer] (TTL read, expire, persist),
// [Scanner] (glob scan and pattern delete), [Swapper] (compare-and-swap)
// and [PubSub]. Call them through the package helpers — [GetMany],
// [SetMany], [Pipeline], [Incr], [TTL], [Expire], [Persist], [Scan],
// [DeletePattern], [CompareAndSwap], [Publish], [Subscribe] — the way
// io/fs.ReadFile uses fs.ReadFileFS: batch operations and pipelines fall
// back to one call per key; operations with no safe fallback (an atomic
// counter cannot be emulated over Get+Set) return an error wrapping
// errors.ErrUnsupported.
//
// # Pipelines
//
// [Pipeline] queues mixed operations ([GetOp], [SetOp], [DeleteOp],
// [IncrOp], [ExpireOp], [TTLOp], [PersistOp]) and returns one [Result] per
// operation, in order. Every operation is validated before anything is
// sent; an invalid one fails the whole pipeline with an error and nothing
// runs. Otherwise each Result says whether its operation succeeded, failed
// (a miss is ErrNotFound, as with Get) or has an unknown outcome
// ([ErrOutcomeUnknown]: sent, reply lost). A pipeline holding an Incr is
// never re-sent; one of idempotent operations may be retried by the
// backend. Operations on one key apply in order; the pipeline is not
// atomic.
//
// # Bounds and bad input
//
// Every backend checks its input before any I/O and answers bad input with
// a typed error, never a panic:
//
//   - Keys: an empty key is [ErrInvalidKey].
//   - Values: a write of a value over the backend's MaxValueBytes option
//     (default [DefaultMaxValueBytes], 4 MiB) is [ErrTooLarge] and nothing
//     is written (Set, SetMany, CompareAndSwap, pipeline Set). A read of an
//     oversized value written by someone else is a miss: its error wraps
//     both [ErrNotFound] and [ErrTooLarge], and the backend never receives
//     more than MaxValueBytes+1 bytes of it.
//   - TTLs: a TTL ≤ 0 is [ErrInvalidTTL] (Redis would store such a key
//     without expiry; an arithmetic slip in a caller must never create an
//     immortal key). [NoExpiry] is the one explicit way to store a key
//     without expiry. Every TTL is rounded up to a whole millisecond, the
//     precision of Redis expiry ([RoundTTL]: 500µs is stored as 1ms, 1.2ms
//     as 2ms), on every backend, so a key expires at the same moment on all
//     of them.
//   - Patterns (Scan, DeletePattern): Redis glob rules ('*' matches '/' too,
//     '?' one byte, '[set]', '[^set]', '[a-z]', '\' escapes). A pattern
//     that is empty, longer than [MaxPatternLen] bytes, has more than
//     [MaxPatternWildcards] '*', or is malformed — a '[' without its ']'
//     ("user:[", "user:[a", "user:[^", "[a-]") or a trailing lone '\' —
//     is [ErrInvalidPattern], before any SCAN ([CheckPattern]).
//   - Counters: a value that is not a decimal int64 is [ErrNotInteger]; a
//     result outside int64 is [ErrOverflow]; nothing changes.
//
// # Keys and patterns
//
// Keys are arbitrary non-empty strings. Build keys from user input with
// [EscapeKeyPart]: it removes the glob metacharacters and the Redis Cluster
// hash-tag braces, so a user id like "*" or "{x}" can neither widen a
// pattern delete nor move the key to another slot. Quote a literal prefix
// of a pattern with [QuoteGlob].
//
// # Errors
//
// Misses are [ErrNotFound]. A non-idempotent command whose reply was lost is
// [ErrOutcomeUnknown] (never blindly retried). When the caller's context
// ends, errors.Is(err, ctx.Err()) holds. Use after Close is [ErrClosed].
package backend
