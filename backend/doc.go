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
// reads and writes), [Counter] (atomic increments), [Expirer] (TTL read,
// expire, persist), [Scanner] (glob scan and pattern delete), [Swapper]
// (compare-and-swap) and [PubSub]. Call them through the package helpers —
// [GetMany], [SetMany], [Incr], [TTL], [Expire], [Persist], [Scan],
// [DeletePattern], [CompareAndSwap] — the way io/fs.ReadFile uses
// fs.ReadFileFS: batch operations fall back to one call per key; operations
// with no safe fallback (an atomic counter cannot be emulated over
// Get+Set) return an error wrapping errors.ErrUnsupported.
//
// # TTLs
//
// Every write takes a TTL that must be positive. A TTL ≤ 0 is rejected with
// [ErrInvalidTTL] before any I/O and nothing is written: Redis would store
// such a key without expiry, and an arithmetic slip in a caller must never
// create an immortal key. [NoExpiry] is the one explicit way to store a key
// without expiry.
//
// # Keys and patterns
//
// Keys are arbitrary non-empty strings. Build keys from user input with
// [EscapeKeyPart]: it removes the glob metacharacters and the Redis Cluster
// hash-tag braces, so a user id like "*" or "{x}" can neither widen a
// pattern delete nor move the key to another slot. Patterns follow Redis
// glob rules ('*' matches '/' too) and are bounded by [CheckPattern].
//
// # Errors
//
// Misses are [ErrNotFound]. A non-idempotent command whose reply was lost is
// [ErrOutcomeUnknown] (never blindly retried). When the caller's context
// ends, errors.Is(err, ctx.Err()) holds.
package backend
