package memo

import (
	"context"
	"errors"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// The read side of the backend tier: one shared read per key, and what the
// bytes found there mean for the caller.

// lookupState classifies what the backend holds for a key.
type lookupState uint8

const (
	stateMiss     lookupState = iota // nothing usable; raw says what is there
	stateFresh                       // a fresh value
	stateStale                       // a stale value within the stale window
	stateNegative                    // a cached ErrNotFound
	stateUnknown                     // the backend failed: the state is unknown
)

// lookupResult is what a lookup found for one key.
type lookupResult[V any] struct {
	state lookupState
	val   V
	has   bool // val holds a decoded value (possibly expired)
	meta  entryMeta
	raw   []byte // the bytes found (nil for none); compared on store
}

// entryMeta is what the read path needs from an envelope.
type entryMeta struct {
	soft        time.Time
	created     time.Time
	load        time.Duration
	staleWindow time.Duration // the entry's own stale-while-revalidate window (0: Options.StaleTTL)
	errorWindow time.Duration // the entry's own stale-if-error window (0: Options.StaleIfError)
}

// entry returns the value found as an Entry for revalidation, or nil.
func (r *lookupResult[V]) entry() *Entry[V] {
	if !r.has {
		return nil
	}
	return &Entry[V]{Value: r.val, CreatedAt: r.meta.created, Expires: r.meta.soft}
}

// lookup reads dataKey from the backend. Concurrent lookups of one key in
// this process share one backend read (a hot key costs one GET per process
// at a time, not one per caller); the shared read is detached from the
// callers' contexts and bounded by BackendTimeout, so a caller whose
// context ends waits at most that long.
func (c *Cache[V]) lookup(ctx context.Context, key, dataKey string) lookupResult[V] {
	v, err, _ := c.lookups.Do(dataKey, func() (any, error) {
		var raw []byte
		err := c.call(context.WithoutCancel(ctx), func(ctx context.Context) (err error) {
			raw, err = c.backend.Get(ctx, dataKey)
			return err
		})
		return raw, err
	})
	raw, _ := v.([]byte)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return lookupResult[V]{state: stateMiss}
	case err != nil:
		return lookupResult[V]{state: stateUnknown}
	}
	return c.classify(key, raw)
}

// classify decodes the bytes stored for key and says what they mean now.
// Corrupt bytes are a miss (counted), to be overwritten by the next store.
func (c *Cache[V]) classify(key string, raw []byte) lookupResult[V] {
	var v V
	m, err := c.env.Decode(raw, &v)
	if err != nil {
		c.event(EventCorrupt, key, 0, err)
		return lookupResult[V]{state: stateMiss, raw: raw}
	}
	meta := entryMeta{soft: m.SoftExpiry, created: m.CreatedAt, load: m.LoadDuration,
		staleWindow: m.StaleWhileRevalidate, errorWindow: m.StaleIfError}
	found := lookupResult[V]{raw: raw, meta: meta}
	now := c.opts.Now()
	switch m.Kind {
	case codec.KindTombstone:
		found.state = stateMiss
	case codec.KindNotFound:
		found.state = stateNegative
		if !m.SoftExpiry.IsZero() && !now.Before(m.SoftExpiry) {
			found.state = stateMiss
		}
	default:
		found.val, found.has = v, true
		switch {
		case m.SoftExpiry.IsZero() || now.Before(m.SoftExpiry):
			found.state = stateFresh
		case now.Before(m.SoftExpiry.Add(c.staleWindow(meta.staleWindow))):
			found.state = stateStale
		default:
			found.state = stateMiss
		}
	}
	return found
}

// staleWindow is how long past its soft expiry an entry may be served
// while it is refreshed: its own window d, or Options.StaleTTL.
func (c *Cache[V]) staleWindow(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return c.opts.StaleTTL
}

// errorWindow is how long past its soft expiry an entry may be served when
// its reload fails: its own window d, or Options.StaleIfError.
func (c *Cache[V]) errorWindow(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return c.opts.StaleIfError
}
