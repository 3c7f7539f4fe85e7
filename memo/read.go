package memo

import (
	"bytes"
	"context"
	"errors"
	"runtime/debug"
	"time"
	"unsafe"

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
	err   error  // why the state is unknown
	// mark orders the read that found this before or after the values
	// this node's flights stored (see landings).
	mark uint64
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

// fairShare bounds ctx by half of what remains of its deadline, if it has
// one: a backend read's share of a caller's budget (see read).
func fairShare(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
	}
	return ctx, func() {}
}

// lookup reads dataKey from the backend (see read) and classifies what it
// holds into r (filled in place: a lookupResult holds a V and is copied
// nowhere on the hit path).
func (c *Cache[V]) lookup(ctx context.Context, key, dataKey string, r *lookupResult[V]) {
	raw, mark, err := c.read(ctx, dataKey)
	c.foundInto(r, key, raw, err, true)
	r.mark = mark
}

// lookupFresh is lookup with a read of its own, which starts now: for the
// re-checks of a flight (already one per key), which must not join a read
// that started before what they look for (a value landing, a lock taken).
// Corrupt bytes equal to seen (already counted by this caller) are not
// counted again.
func (c *Cache[V]) lookupFresh(ctx context.Context, key, dataKey string, seen []byte) (r lookupResult[V]) {
	var raw []byte
	err := c.call(ctx, func(ctx context.Context) (err error) {
		raw, err = backend.GetNonEmpty(ctx, c.backend, dataKey) // entries are never empty
		return err
	})
	c.foundFresh(&r, key, raw, err, seen)
	return r
}

// foundFresh classifies into r the outcome of a re-check's read (raw, err)
// as lookupFresh does: corrupt bytes equal to seen are not counted again.
func (c *Cache[V]) foundFresh(r *lookupResult[V], key string, raw []byte, err error, seen []byte) {
	c.foundInto(r, key, raw, err, seen == nil || !bytes.Equal(raw, seen))
}

// found classifies the outcome of a read; count says whether corrupt bytes
// are counted (see firstSight).
func (c *Cache[V]) found(key string, raw []byte, err error, count bool) (r lookupResult[V]) {
	c.foundInto(&r, key, raw, err, count)
	return r
}

// foundInto is found into r.
func (c *Cache[V]) foundInto(r *lookupResult[V], key string, raw []byte, err error, count bool) {
	switch {
	case errors.Is(err, backend.ErrNotFound):
		*r = lookupResult[V]{state: stateMiss}
	case err != nil:
		*r = lookupResult[V]{state: stateUnknown, err: err}
	default:
		c.classifyInto(r, key, raw, count)
	}
}

// read returns the bytes stored under dataKey. Concurrent reads of one key
// in this process share one backend read (a hot key costs one GET per
// process at a time, not one per caller); the shared read is detached from
// the callers' contexts and bounded by BackendTimeout. Each caller waits on
// its own context, and a caller with a deadline waits at most half of
// what remains of it (its fair share: the other half is for the load), so
// a slow or frozen backend leaves it the time to load: the read then ends
// with errBackendSlow. Callers that shared a read get the same slice, and
// the mark the read took before it started (see landings); a caller that
// did not wait for the read gets the mark of its own start.
//
// Who runs the shared read: its first caller, on its own goroutine, only
// when its context cannot end (nothing to leave early for). Any other
// caller, with a deadline or one that can only be cancelled (every
// net/http request's), hands the read to a kept goroutine (readers) and
// waits for it on its own context, so it leaves the moment its context
// ends: go-redis bounds a read by a deadline but does not stop it on a
// cancellation, and a cache must never keep a caller past its context.
// A hand-off costs two wakeups, 12-30 µs on this 2-vCPU machine (most of a
// loopback Redis round trip); x/sync/singleflight's DoChan, a new
// goroutine, a channel and a result per read and a timer per caller, cost
// more than the round trip.
func (c *Cache[V]) read(ctx context.Context, dataKey string) (raw []byte, mark uint64, err error) {
	if ctx.Done() == nil {
		// Nothing to detach from, and no budget to keep.
		call, lead := c.reads.join(dataKey, false)
		if lead {
			c.runRead(call, ctx, dataKey)
		} else {
			<-call.done
		}
		return call.raw, call.mark, call.err
	}
	mark = c.landed.mark()
	var patience int64 // when the caller's fair share ends (unix nanos); 0: never
	if deadline, ok := ctx.Deadline(); ok {
		now := time.Now()
		patience = now.Add(deadline.Sub(now) / 2).UnixNano()
	}
	call, lead := c.reads.join(dataKey, true)
	if lead {
		c.goRead(func() { c.runReadAway(call, ctx, dataKey) })
	}
	return c.await(ctx, call, patience, mark)
}

// await waits for call on the caller's context ctx and up to patience
// (unix nanos; 0: none): then it gives up with errBackendSlow. mark is the
// caller's, returned when it did not wait for the read to end.
func (c *Cache[V]) await(ctx context.Context, call *readCall, patience int64, mark uint64) ([]byte, uint64, error) {
	var expired <-chan time.Time
	if patience != 0 {
		// No timer when the read ends before the caller's patience does.
		if ends := call.ends.Load(); ends == 0 || patience < ends {
			t := time.NewTimer(time.Until(time.Unix(0, patience)))
			defer t.Stop()
			expired = t.C
		}
	}
	select {
	case <-call.done:
		return call.raw, call.mark, call.err
	case <-expired:
		return nil, mark, errBackendSlow
	case <-ctx.Done():
		return nil, mark, ctx.Err()
	}
}

// leaving runs read, a backend read the caller waits for, so that the
// caller leaves the moment ctx ends: go-redis bounds a command by a
// deadline but does not stop it on a cancellation, so when ctx can end the
// read runs on a kept goroutine (readers) and the caller waits for it on
// ctx; when it cannot, the caller runs it. read shares nothing with the
// caller but its results (it may run on after the caller left). A panic of
// the backend's on a reader is logged there and the caller gets
// errReadPanicked. Writes do not leave: what follows a write (L1 evictions,
// the invalidation published) must happen after it lands.
func leaving[V, T any](c *Cache[V], ctx context.Context, read func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return read()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	c.goRead(func() {
		defer func() {
			if p := recover(); p != nil {
				c.readPanicked(p)
				done <- result{err: errReadPanicked}
			}
		}()
		v, err := read()
		done <- result{v, err}
	})
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// runReadAway is runRead on a goroutine of the readers: a panic of the
// backend's is logged there instead of ending the process (its callers
// get errReadPanicked).
func (c *Cache[V]) runReadAway(call *readCall, ctx context.Context, dataKey string) {
	defer func() {
		if p := recover(); p != nil {
			c.readPanicked(p)
		}
	}()
	c.runRead(call, ctx, dataKey)
}

// readPanicked logs p, the panic of a backend read recovered on a
// goroutine of the readers (which has no caller to hand it to).
func (c *Cache[V]) readPanicked(p any) {
	c.opts.Logger.Error("memo: backend read panicked", "panic", p, "stack", string(debug.Stack()))
}

// runRead runs call, the backend read of dataKey that the callers of read
// share, and ends it. The read takes the values of ctx, not its deadline
// or cancellation: it is bounded by BackendTimeout alone.
func (c *Cache[V]) runRead(call *readCall, ctx context.Context, dataKey string) {
	ended := false
	defer func() {
		if !ended { // a panic of the backend's: the waiters get an error, the panic goes on
			call.err = errReadPanicked
			c.reads.finish(dataKey, call)
		}
	}()
	call.mark = c.landed.mark()
	call.ends.Store(time.Now().Add(c.opts.BackendTimeout).UnixNano()) // the read's bound (see callThrough)
	if !c.breaker.allow() {
		call.err = errBreakerOpen
	} else if bound, ok := c.sharedTimeoutOf(&c.timeouts); ok {
		// callThrough's shared timeout, with ctx's values kept in call: no
		// allocation for a detached context.
		rctx := bound
		if ctx != context.Background() {
			call.ctx = valuesCtx{Context: bound, values: ctx}
			rctx = &call.ctx
		}
		call.err = c.settleRun(nil, func() (err error) {
			call.raw, err = backend.GetNonEmpty(rctx, c.backend, dataKey) // entries are never empty
			return err
		})
	} else {
		call.err = c.callThrough(context.WithoutCancel(ctx), func(ctx context.Context) (err error) {
			call.raw, err = backend.GetNonEmpty(ctx, c.backend, dataKey)
			return err
		})
	}
	ended = true
	c.reads.finish(dataKey, call)
}

// classify decodes the bytes stored for key and says what they mean now.
// Corrupt bytes are a miss (counted if count is set), to be overwritten by
// the next store.
func (c *Cache[V]) classify(key string, raw []byte, count bool) (r lookupResult[V]) {
	c.classifyInto(&r, key, raw, count)
	return r
}

// classifyInto is classify into r.
func (c *Cache[V]) classifyInto(r *lookupResult[V], key string, raw []byte, count bool) {
	var v V
	c.classifyTo(r, key, raw, count, &v, time.Time{})
}

// classifyTo is classifyInto decoding into *dst, memory of the caller's (a
// batch decodes into one slice of V instead of allocating a V per key),
// and judging expiry at now (zero: Options.Now(), read if needed; a batch
// reads the clock once for all its keys).
func (c *Cache[V]) classifyTo(r *lookupResult[V], key string, raw []byte, count bool, dst *V, now time.Time) {
	m, err := c.env.Decode(raw, dst)
	c.classifyDecoded(r, key, raw, count, dst, &m, err, now)
}

// classifyDecoded is classifyTo once raw has been decoded into *dst, with
// the metadata m and error err the decode returned.
func (c *Cache[V]) classifyDecoded(r *lookupResult[V], key string, raw []byte, count bool, dst *V, m *codec.Meta, err error, now time.Time) {
	if err != nil {
		if count && c.firstSight(raw) {
			c.event(EventCorrupt, key, 0, err)
		}
		*r = lookupResult[V]{state: stateMiss, raw: raw}
		return
	}
	*r = lookupResult[V]{raw: raw, meta: entryMeta{soft: m.SoftExpiry, created: m.CreatedAt, load: m.LoadDuration,
		staleWindow: m.StaleWhileRevalidate, errorWindow: m.StaleIfError}}
	switch m.Kind {
	case codec.KindTombstone:
		r.state = stateMiss
	case codec.KindNotFound:
		r.state = stateNegative
		if !m.SoftExpiry.IsZero() && !c.orNow(now).Before(m.SoftExpiry) {
			r.state = stateMiss
		}
	default:
		r.val, r.has = *dst, true
		r.state = c.valueState(m.SoftExpiry, r.meta.staleWindow, now)
	}
}

// orNow returns now, or Options.Now() if now is zero.
func (c *Cache[V]) orNow(now time.Time) time.Time {
	if now.IsZero() {
		return c.opts.Now()
	}
	return now
}

// valueState is the state at now (zero: Options.Now()) of a value that
// becomes stale at soft (zero: never), with its own stale window
// staleWindow.
func (c *Cache[V]) valueState(soft time.Time, staleWindow time.Duration, now time.Time) lookupState {
	if soft.IsZero() {
		return stateFresh
	}
	now = c.orNow(now)
	switch {
	case now.Before(soft):
		return stateFresh
	case now.Before(soft.Add(c.staleWindow(staleWindow))):
		return stateStale
	}
	return stateMiss
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

// firstSight reports whether corrupt bytes raw are seen for the first time:
// the callers that shared one backend read hold the same slice, and count
// it once between them.
func (c *Cache[V]) firstSight(raw []byte) bool {
	if len(raw) == 0 {
		return true
	}
	p := unsafe.SliceData(raw)
	return c.lastCorrupt.Swap(p) != p
}
