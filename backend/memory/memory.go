package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// Defaults for [Options].
const (
	// DefaultMaxEntries is the default [Options.MaxEntries].
	DefaultMaxEntries = 100_000
	// DefaultMaxBytes is the default [Options.MaxBytes] (64 MiB).
	DefaultMaxBytes = 64 << 20
	// DefaultShards is the default [Options.Shards].
	DefaultShards = 16
)

// EntryOverhead is the fixed number of bytes every entry counts against
// [Options.MaxBytes] on top of len(key)+len(value): an estimate of its
// bookkeeping (entry struct, map slot, clock slot).
const EntryOverhead = 96

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

// Options configures a [Backend]. The zero value, like a nil *Options,
// selects every default.
type Options struct {
	// MaxEntries bounds the number of entries. Default 100,000
	// ([DefaultMaxEntries]).
	MaxEntries int
	// MaxBytes bounds the bytes held, counting len(key) + len(value) +
	// [EntryOverhead] per entry. Default 64 MiB ([DefaultMaxBytes]). A
	// single entry may use at most MaxBytes/Shards.
	MaxBytes int64
	// Shards is the number of independently locked shards, rounded down to
	// a power of two and to at most MaxEntries. Default 16
	// ([DefaultShards]). More shards reduce lock contention; fewer make
	// eviction closer to global LRU and allow larger single values.
	Shards int
	// MaxValueBytes is the largest value a write accepts, the same
	// contract as the Redis backend's option of that name: a larger value
	// is rejected with an error wrapping [backend.ErrTooLarge] before
	// anything changes. Default 4 MiB ([backend.DefaultMaxValueBytes]).
	// Independently, an entry (key + value + [EntryOverhead]) must fit in
	// its shard's slice of MaxBytes; New rejects a MaxValueBytes set above
	// MaxBytes/Shards − EntryOverhead, which could never be stored. A
	// default MaxValueBytes above a small MaxBytes is simply bounded by
	// the shard.
	MaxValueBytes int
	// Clock returns the current time. Default time.Now. Tests inject a
	// fake clock to move time without sleeping.
	Clock func() time.Time
}

// Backend is the in-memory [backend.Backend]. Create one with [New]. It is
// safe for concurrent use; see the package documentation for its bounds,
// eviction and expiry.
type Backend struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard
	clock  func() time.Time
	base   time.Time
	// maxValue is Options.MaxValueBytes.
	maxValue int
	closed   atomic.Bool
	hub      hub
}

// New returns a Backend configured by opts (nil = defaults). It returns an
// error for negative bounds.
func New(opts *Options) (*Backend, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxEntries < 0 || o.MaxBytes < 0 || o.Shards < 0 || o.MaxValueBytes < 0 {
		return nil, fmt.Errorf("memory: negative option in %+v", o)
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Shards == 0 {
		o.Shards = DefaultShards
	}
	n := min(o.Shards, o.MaxEntries)
	n = 1 << (bits.Len(uint(n)) - 1) // power of two ≤ n
	if room := o.MaxBytes/int64(n) - EntryOverhead; o.MaxValueBytes > 0 && int64(o.MaxValueBytes) > room {
		return nil, fmt.Errorf("memory: MaxValueBytes %d can never be stored: a shard holds %d bytes (MaxBytes %d over %d shards, minus %d bytes of entry overhead); raise MaxBytes or lower Shards",
			o.MaxValueBytes, room, o.MaxBytes, n, EntryOverhead)
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = backend.DefaultMaxValueBytes
	}
	b := &Backend{
		maxValue: o.MaxValueBytes,
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		shards:   make([]shard, n),
		clock:    o.Clock,
		base:     time.Now(),
	}
	if b.clock != nil {
		b.base = b.clock()
	}
	for i := range b.shards {
		s := &b.shards[i]
		s.maxEntries = o.MaxEntries / n
		if i < o.MaxEntries%n {
			s.maxEntries++
		}
		s.maxBytes = o.MaxBytes / int64(n)
		if int64(i) < o.MaxBytes%int64(n) {
			s.maxBytes++
		}
		s.m = make(map[string]*entry)
	}
	b.hub.subs = make(map[string]map[*subscription]struct{})
	return b, nil
}

// now returns the current time as nanoseconds since b.base, on the
// monotonic clock unless a Clock was injected.
func (b *Backend) now() int64 {
	if b.clock == nil {
		return int64(time.Since(b.base))
	}
	return int64(b.clock().Sub(b.base))
}

// deadline converts a checked TTL to an absolute expiry, rounded up to a
// whole millisecond as Redis stores it ([backend.RoundTTL]).
func deadline(now int64, ttl time.Duration) int64 {
	if ttl == backend.NoExpiry {
		return never
	}
	ttl = backend.RoundTTL(ttl)
	if now > 0 && int64(ttl) > never-1-now {
		return never - 1 // saturate: practically never, but still a TTL
	}
	return now + int64(ttl)
}

func (b *Backend) shard(key string) *shard {
	return &b.shards[maphash.String(b.seed, key)&b.mask]
}

// check rejects calls on a closed backend or with a finished context.
func (b *Backend) check(ctx context.Context) error {
	if b.closed.Load() {
		return backend.ErrClosed
	}
	return ctx.Err()
}

func checkKey(key string) error {
	if key == "" {
		return backend.ErrInvalidKey
	}
	return nil
}

func clone(v []byte) []byte {
	c := make([]byte, len(v))
	copy(c, v)
	return c
}

// Get returns a copy of the value stored under key, or an error wrapping
// [backend.ErrNotFound] if it is missing or expired.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, ok := b.shard(key).get(key, b.now)
	if !ok {
		return nil, backend.ErrNotFound
	}
	return v, nil
}

// Set stores a copy of value under key for ttl (> 0 or
// [backend.NoExpiry], rounded up to a whole millisecond), evicting other
// entries of the key's shard if needed. A value over
// [Options.MaxValueBytes], or one that can never fit in its shard, yields
// an error wrapping [backend.ErrTooLarge] and nothing changes.
func (b *Backend) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := b.checkWrite(ctx, key, len(value), ttl); err != nil {
		return err
	}
	s := b.shard(key)
	v := clone(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		return backend.ErrClosed
	}
	now := b.now()
	s.put(key, v, deadline(now, ttl), now)
	return nil
}

// checkWrite validates a write of a value of n bytes under key.
func (b *Backend) checkWrite(ctx context.Context, key string, n int, ttl time.Duration) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := backend.CheckWrite(key, n, ttl, b.maxValue); err != nil {
		return err
	}
	s := b.shard(key)
	if size := entrySize(key, n); size > s.maxBytes {
		return fmt.Errorf("%w: entry of %d bytes for key %q exceeds the shard bound of %d bytes",
			backend.ErrTooLarge, size, key, s.maxBytes)
	}
	return nil
}

// Delete removes keys. Missing keys are not an error.
func (b *Backend) Delete(ctx context.Context, keys ...string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	for _, k := range keys {
		s := b.shard(k)
		s.mu.Lock()
		if e := s.m[k]; e != nil {
			s.remove(e)
		}
		s.mu.Unlock()
	}
	return nil
}

// Len returns the number of entries held, counting expired entries not yet
// reclaimed (like Redis' DBSIZE).
func (b *Backend) Len() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Stats is a snapshot of a [Backend]'s counters.
type Stats struct {
	Entries     int   // entries held, including expired ones not yet reclaimed
	Bytes       int64 // bytes held, as counted against Options.MaxBytes
	Evictions   int64 // live entries evicted to make room
	Expirations int64 // expired entries reclaimed
}

// Stats returns current counters. It is cheap (one read lock per shard)
// and safe for concurrent use.
func (b *Backend) Stats() Stats {
	var st Stats
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		st.Entries += len(s.m)
		st.Bytes += s.bytes
		st.Evictions += s.evictions
		st.Expirations += s.expirations
		s.mu.RUnlock()
	}
	return st
}

// MaxValueBytes returns the largest value a write can store: the
// MaxValueBytes option, or less when a shard's slice of MaxBytes (minus
// [EntryOverhead]) is smaller. Layers above use it to check their own size
// limits (middleware's MaxBodySize). It is safe for concurrent use.
func (b *Backend) MaxValueBytes() int {
	room := b.shards[0].maxBytes - EntryOverhead
	for i := range b.shards {
		room = min(room, b.shards[i].maxBytes-EntryOverhead)
	}
	return int(max(min(int64(b.maxValue), room), 0))
}

// Close releases the stored data and closes every subscription. Later
// operations fail with [backend.ErrClosed]. Close is idempotent.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		s.m, s.ring, s.bytes = nil, nil, 0
		s.mu.Unlock()
	}
	b.hub.closeAll()
	return nil
}
