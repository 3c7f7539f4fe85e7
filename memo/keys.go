package memo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cachekit/cachekit/backend"
)

// maxKeyLen is the longest escaped user key kept as is; longer keys are
// replaced by their SHA-256 (Redis keys can be 512 MiB, but long keys waste
// memory and bandwidth on every call).
const maxKeyLen = 200

// keyspace builds backend keys: "<ns>:v<version>:<gen>:<escaped key>".
type keyspace struct {
	prefix string                    // "<ns>:v<version>:"
	last   atomic.Pointer[genPrefix] // the prefix of the current generation
}

type genPrefix struct {
	gen uint64
	s   string // "<ns>:v<version>:<gen>:"
}

func newKeyspace(namespace string, version int) *keyspace {
	return &keyspace{prefix: backend.EscapeKeyPart(namespace) + ":v" + strconv.Itoa(version) + ":"}
}

// data returns the backend key of key under generation gen, built in one
// allocation.
func (k *keyspace) data(gen uint64, key string) string {
	p := k.genPrefix(gen)
	n := backend.EscapedKeyPartLen(key)
	if n > maxKeyLen {
		return hashedKey(p, key)
	}
	if n == len(key) {
		return p + key // nothing to escape
	}
	buf := make([]byte, len(p), len(p)+n)
	copy(buf, p)
	buf = backend.AppendEscapeKeyPart(buf, key)
	return unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is never written again
}

// dataAll sets dst[i] to data(gen, keys[i]) for every key, building the
// keys kept as is (all but the hashed long ones) in one allocation.
func (k *keyspace) dataAll(gen uint64, keys, dst []string) {
	p := k.genPrefix(gen)
	size := 0
	for _, key := range keys {
		if n := backend.EscapedKeyPartLen(key); n <= maxKeyLen {
			size += len(p) + n
		}
	}
	buf := make([]byte, 0, size) // never grown: the strings below stay put
	for i, key := range keys {
		if backend.EscapedKeyPartLen(key) > maxKeyLen {
			dst[i] = hashedKey(p, key)
			continue
		}
		start := len(buf)
		buf = append(buf, p...)
		buf = backend.AppendEscapeKeyPart(buf, key)
		dst[i] = unsafe.String(unsafe.SliceData(buf[start:]), len(buf)-start) // these bytes are never written again
	}
}

// genPrefix returns "<ns>:v<version>:<gen>:".
func (k *keyspace) genPrefix(gen uint64) string {
	p := k.last.Load()
	if p == nil || p.gen != gen {
		p = &genPrefix{gen: gen, s: k.prefix + strconv.FormatUint(gen, 36) + ":"}
		k.last.Store(p)
	}
	return p.s
}

// hashedKey is the data key of a key too long to keep, under prefix p: its
// SHA-256. "%#" cannot come out of EscapeKeyPart ('%' is always followed by
// two hex digits there), so a hashed key never equals a user key.
func hashedKey(p, key string) string {
	sum := sha256.Sum256([]byte(key))
	return p + "%#" + hex.EncodeToString(sum[:])
}

// gen is the key holding the namespace generation.
func (k *keyspace) gen() string { return k.prefix + "gen" }

// channel is the pub/sub channel of the namespace.
func (k *keyspace) channel() string { return k.prefix + "events" }

// counter is the key of a memo counter.
func (k *keyspace) counter(key string) string { return k.prefix + "n:" + backend.EscapeKeyPart(key) }

// lock is the lock name for a data key.
func lockName(dataKey string) string { return "memo-lock:" + dataKey }

// The namespace generation is part of every data key; Clear moves the
// namespace to a new one. Each node reads it from the backend at most
// every second (and learns of a Clear at once through pub/sub).

// generation returns the namespace generation, refreshing it in the
// background when it was last read from the backend over a second ago.
func (c *Cache[V]) generation() uint64 { return c.generationAt(c.nanotime()) }

// generationAt is generation with the hot-path clock already read.
func (c *Cache[V]) generationAt(now int64) uint64 {
	if now-c.genCheckedAt.Load() > int64(genRefreshEvery) {
		c.refreshGeneration()
	}
	return c.gen.Load()
}

// genRefreshEvery is how often a node re-reads the namespace generation.
const genRefreshEvery = time.Second

// refreshGeneration re-reads the namespace generation in the background,
// unless a re-read is running.
func (c *Cache[V]) refreshGeneration() {
	if !c.genRefresh.CompareAndSwap(false, true) {
		return
	}
	c.background(func() {
		defer c.genRefresh.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.BackendTimeout)
		defer cancel()
		c.loadGeneration(ctx)
	})
}

// loadGeneration reads the namespace generation from the backend; on a
// failure it keeps the last one known and retries later.
func (c *Cache[V]) loadGeneration(ctx context.Context) {
	var raw []byte
	err := c.call(ctx, func(ctx context.Context) (err error) {
		raw, err = c.backend.Get(ctx, c.keys.gen())
		return err
	})
	switch {
	case errors.Is(err, backend.ErrNotFound):
		// A fresh namespace, or its generation key was evicted or deleted:
		// never fall back to an older generation (generation 0 may hold
		// values from before a Clear). Move to a new one: a cold cache is
		// safe, a stale one is not.
		g, ok := c.mintGeneration(ctx)
		if !ok {
			return
		}
		c.renameGeneration(g)
	case err == nil:
		g, perr := strconv.ParseUint(string(raw), 10, 64)
		if perr != nil {
			c.opts.Logger.Warn("memo: corrupt namespace generation; ignoring", "key", c.keys.gen(), "err", perr)
			return
		}
		if g == c.minted.Load() {
			// This node's own mint, whose reply was lost: a rename.
			c.renameGeneration(g)
		} else {
			c.setGeneration(g)
		}
		c.touchGeneration(ctx, raw)
	default:
		return // keep the last known generation; retry later
	}
	c.genCheckedAt.Store(c.nanotime())
}

// mintGeneration creates the namespace generation, absent from the
// backend, as a new random one; when another node created it first
// (compare-and-swap on absence), it returns that one.
func (c *Cache[V]) mintGeneration(ctx context.Context) (uint64, bool) {
	g := rand.Uint64() | 1
	c.minted.Store(g) // recognised if the write lands but its reply is lost
	val := []byte(strconv.FormatUint(g, 10))
	var raw []byte
	err := c.call(ctx, func(ctx context.Context) error {
		if _, swaps := c.backend.(backend.Swapper); !swaps {
			return c.backend.Set(ctx, c.keys.gen(), val, c.generationTTL())
		}
		ok, err := backend.CompareAndSwap(ctx, c.backend, c.keys.gen(), nil, val, c.generationTTL())
		if err != nil || ok {
			return err
		}
		raw, err = c.backend.Get(ctx, c.keys.gen()) // another node minted it first
		return err
	})
	if err != nil {
		return 0, false
	}
	c.genTouchedAt.Store(c.nanotime())
	if raw != nil {
		theirs, perr := strconv.ParseUint(string(raw), 10, 64)
		if perr != nil {
			c.opts.Logger.Warn("memo: corrupt namespace generation; ignoring", "key", c.keys.gen(), "err", perr)
			return 0, false
		}
		return theirs, true
	}
	return g, true
}

// generationTTL is the expiry of the generation key: a cache never leaves
// a key without expiry, and a generation that expires is replaced by a new
// one (a cold cache, never an older generation). It is long — 30 days, or
// 10×TTL when longer — and nodes using the namespace push it back at most
// once an hour (touchGeneration), so it does not expire while in use.
func (c *Cache[V]) generationTTL() time.Duration {
	return max(30*24*time.Hour, 10*c.opts.TTL)
}

// generationTouchEvery is how often a node using the namespace pushes the
// generation key's expiry back.
const generationTouchEvery = time.Hour

// touchGeneration pushes the expiry of the generation key, just read as
// raw, back to generationTTL when this node last did so over an hour ago:
// with backend.Expirer, or else a compare-and-swap of raw onto itself. A
// backend with neither keeps the expiry of the write that created it.
func (c *Cache[V]) touchGeneration(ctx context.Context, raw []byte) {
	now := c.nanotime()
	if last := c.genTouchedAt.Load(); last != 0 && now-last < int64(generationTouchEvery) {
		return
	}
	key, ttl := c.keys.gen(), c.generationTTL()
	err := c.call(ctx, func(ctx context.Context) error {
		if _, ok := c.backend.(backend.Expirer); ok {
			return backend.Expire(ctx, c.backend, key, ttl)
		}
		if _, ok := c.backend.(backend.Swapper); ok {
			_, err := backend.CompareAndSwap(ctx, c.backend, key, raw, raw, ttl)
			return err // not swapped: it changed or vanished; the next read handles it
		}
		return nil
	})
	switch {
	case err == nil:
		c.genTouchedAt.Store(now)
	case errors.Is(err, backend.ErrNotFound):
		// Vanished since the read: the next read mints a new one.
	default:
		c.opts.Logger.Debug("memo: cannot refresh the namespace generation's expiry; retrying later", "key", key, "err", err)
	}
}

// renameGeneration moves this node to generation g, which replaces a
// generation that vanished from the backend (evicted, or lost in a
// restart): unlike a Clear, it keeps what this node holds, which is no
// older than the newest generation it knew. (A Clear this node never heard
// of and whose generation vanished before it was read is not honoured by
// its L1 until L1TTL, as for any missed message.)
//
// Loads and reads of this node that began under the old generation keep
// their values under the new one (renamedGen): a Redis restart loses the
// generation key, and every value loaded meanwhile would otherwise be
// stored and kept where no Get looks any more, and loaded again.
func (c *Cache[V]) renameGeneration(g uint64) {
	old := c.gen.Load()
	if old == g {
		return
	}
	c.renamed.Store(&renaming{from: old, to: g}) // before the switch: see renamedGen
	if !c.gen.CompareAndSwap(old, g) {
		return // a Clear or another read moved it meanwhile
	}
	if c.l1 != nil {
		c.l1.retag(old, g)
	}
	if c.held != nil {
		c.held.retag(old, g)
	}
}

// renaming is a renameGeneration: values of generation from are kept
// under to.
type renaming struct{ from, to uint64 }

// renamedGen returns the generation under which a value read or loaded
// under gen is kept: the current one when this node renamed gen into it,
// else gen. An L1 write of gen that misses the rename's retagging is moved
// by it; one that comes before the switch is retagged by the rename.
func (c *Cache[V]) renamedGen(gen uint64) uint64 {
	if r := c.renamed.Load(); r != nil && r.from == gen && c.gen.Load() == r.to {
		return r.to
	}
	return gen
}

// setGeneration moves this node to generation g, flushing its L1 when g
// is new.
func (c *Cache[V]) setGeneration(g uint64) {
	if old := c.gen.Swap(g); old != g && c.l1 != nil {
		c.flushL1()
	}
}

// DefaultKey turns a key of any comparable type into a string key: strings
// are used as they are, integers in decimal, fmt.Stringer through String,
// anything else with fmt's %v. Types whose %v is not unique (pointers,
// structs with unexported state) need their own key function.
func DefaultKey[K comparable](k K) string {
	// A string key is returned as is without boxing it (any(k) escapes
	// through the Stringer and fmt cases below, which costs an allocation
	// per call).
	if s, ok := any(&k).(*string); ok {
		return *s
	}
	switch v := any(k).(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprintf("%v", k)
}
