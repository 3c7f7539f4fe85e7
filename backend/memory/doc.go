// Package memory is cachekit's embedded, in-process [backend.Backend]: the
// default when there is no Redis. It implements every optional capability
// of package backend ([backend.Batcher], [backend.Pipeliner],
// [backend.Counter], [backend.Expirer], [backend.Scanner],
// [backend.Swapper] and [backend.PubSub]) with the same observable
// behaviour as the Redis backend.
//
// # Bounds
//
// A [Backend] never holds more than [Options.MaxEntries] entries or
// [Options.MaxBytes] bytes. An entry costs len(key) + len(value) +
// [EntryOverhead] bytes. Keys are spread over [Options.Shards] shards by a
// seeded hash, and each shard owns an equal slice of both bounds, so the
// largest value that can be stored is about MaxBytes/Shards; a bigger one
// is rejected with an error wrapping [backend.ErrTooLarge] and nothing is
// evicted. Independently, [Options.MaxValueBytes] (default
// [backend.DefaultMaxValueBytes], 4 MiB, the Redis backend's default too)
// bounds every value, so both backends accept the same values: the
// effective limit is the smaller of MaxValueBytes and the shard's room
// (MaxBytes/Shards − len(key) − [EntryOverhead]; with the defaults,
// 64 MiB/16 − 96 bytes − the key). [New] rejects a MaxValueBytes set above
// what a shard can hold. Since no oversized value can be stored, no read
// ever returns one.
//
// # Bad input
//
// Checked before anything changes: an empty key is
// [backend.ErrInvalidKey]; a TTL ≤ 0 [backend.ErrInvalidTTL]; a value over
// the bounds above [backend.ErrTooLarge]; a pattern that is empty, too
// long, has too many '*' or is malformed (an unclosed '[', a trailing lone
// '\') [backend.ErrInvalidPattern] (see [backend.CheckPattern]); an Incr on
// a non-integer [backend.ErrNotInteger], past int64 [backend.ErrOverflow].
//
// # Eviction
//
// When a write would exceed its shard's bounds, the shard evicts with the
// CLOCK (second-chance) algorithm, an approximation of LRU: a read sets the
// entry's reference bit (an atomic store, under a read lock); the shard's
// clock hand sweeps its entries, clearing set bits and evicting the first
// entry whose bit is clear. Expired entries met by the hand are reclaimed
// first and do not count as evictions. Because bounds are per shard, the
// evicted entry is the least recently used of its shard, not of the whole
// backend.
//
// # Expiry
//
// Every write takes a TTL that is positive or [backend.NoExpiry]; a TTL ≤ 0
// is rejected with [backend.ErrInvalidTTL]. A TTL is rounded up to a whole
// millisecond ([backend.RoundTTL]: 500µs is kept 1ms), as Redis stores it,
// so a key expires at the same moment on both backends; [Backend.TTL]
// reports the remaining time with nanosecond precision. An expired entry is never
// returned by any operation: expiry is checked on every read. Expired
// entries are reclaimed lazily: by the read that finds them, by the clock
// hand, and by a small amount of sweeping on every write (two entries per
// write, like Redis' active expiry), so they do not squat on capacity for
// long. Time comes from [Options.Clock] (default time.Now, using the
// monotonic clock).
//
// # Values
//
// Values are copied in on every write and out on every read: a caller may
// change a slice it passed to Set, or got from Get, without affecting the
// stored data. Counters ([Backend.Incr]) are stored as decimal ASCII, as in
// Redis, so Get on a counter returns for example "5".
//
// # Concurrency
//
// A Backend is safe for concurrent use. Each operation on one key is atomic
// (it holds the key's shard lock), so counters and compare-and-swap are
// linearizable. Multi-key operations (GetMany, SetMany, Delete, Scan,
// DeletePattern) are not atomic as a whole. Scan never holds a lock while
// it calls its callback, which may therefore use the Backend.
//
// # Pub/sub
//
// Publish delivers in process to every subscriber of the channel, never
// blocking: each subscription buffers [SubscriptionBuffer] messages; a
// subscriber that falls behind loses messages and then receives a
// [backend.Message] with Gap set, ahead of any later message. The package
// starts no goroutines.
package memory
