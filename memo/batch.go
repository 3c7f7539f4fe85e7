package memo

import (
	"context"
	"errors"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/codec"
)

// BatchLoadFunc loads many keys at once. Keys it leaves out of the result
// are "not found". It gets a context detached from the callers', bounded by
// Options.LoadTimeout.
type BatchLoadFunc[V any] func(ctx context.Context, keys []string) (map[string]V, error)

// batchClaim is one key of a batch (its index in batch.keys) and the
// flight it leads or joined.
type batchClaim[V any] struct {
	i    int
	call *flightCall[V]
	res  int // runBatch: the index of its outcome
}

// batch is one GetMany past the L1: the keys it still needs, their backend
// keys and what the backend held for each.
type batch[V any] struct {
	gen      uint64
	ended    uint64            // flights.ended before the read
	mark     uint64            // landed.mark() before the read
	epoch    uint64            // the invalidation epoch before the read
	seqs     []uint64          // each key's invalidation sequence before the read
	keys     []string          // user keys missing from L1
	dataKeys []string          // their backend keys
	found    []lookupResult[V] // what the backend held for each key to load (nil if none)
}

// GetMany returns the values of keys: L1 first, then one batched backend
// read, then a single call of load for the keys still missing. Keys that
// are not found are absent from the result. A key being loaded in this
// process (by a [Cache.Get], [Cache.Fetch] or another GetMany) is not
// loaded again: GetMany waits for that load, on its own context, and a Get
// of a key this GetMany loads waits for it likewise.
//
// GetMany coalesces per process; the distributed Locker applies to [Get].
// Stale values are reloaded, not served.
func (c *Cache[V]) GetMany(ctx context.Context, keys []string, load BatchLoadFunc[V]) (map[string]V, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gen := c.generation()
	now := c.nanotime()
	out := make(map[string]V, len(keys))
	bt := &batch[V]{gen: gen}
	for _, k := range keys {
		if _, dup := out[k]; dup {
			continue
		}
		if c.l1 != nil {
			if e, ok := c.l1.get(k, gen, now); ok {
				c.event(EventHitL1, k, 0, nil)
				out[k] = e.val
				continue
			}
		}
		if bt.keys == nil {
			bt.keys = make([]string, 0, len(keys)) // grown once, not by doubling
		}
		bt.keys = append(bt.keys, k)
	}
	if len(bt.keys) == 0 {
		return out, nil
	}
	missing, err := c.readBatch(ctx, bt, out)
	if err != nil || len(missing) == 0 {
		return out, err
	}
	lead, joined := c.claimBatch(bt, missing)
	if len(lead) > 0 {
		// The batch load runs detached, like a single load: this caller
		// waits for it on its own context and may leave; those that joined
		// still get the values.
		run := func() { c.runBatch(context.WithoutCancel(ctx), bt, lead, load) }
		if !c.background(run) {
			run()
		}
	}
	if _, err := c.awaitBatch(ctx, bt, lead, out); err != nil {
		return out, err
	}
	private, err := c.awaitBatch(ctx, bt, joined, out)
	if err != nil || len(private) == 0 {
		return out, err
	}
	return out, c.loadAlone(ctx, private, load, out)
}

// readMany reads dataKeys from the backend in one call, bounded by the
// caller's fair share of its deadline (the rest is for the load) and by
// BackendTimeout; the caller leaves when its context ends (see leaving).
func (c *Cache[V]) readMany(ctx context.Context, dataKeys []string) ([][]byte, error) {
	rctx, cancel := fairShare(ctx)
	defer cancel()
	return leaving(c, ctx, func() (raws [][]byte, err error) {
		err = c.call(rctx, func(ctx context.Context) (err error) {
			raws, err = backend.GetMany(ctx, c.backend, dataKeys)
			return err
		})
		return raws, err
	})
}

// readBatch reads the keys of bt from the backend in one call, puts the
// fresh values in out and returns the indexes of the keys to load.
func (c *Cache[V]) readBatch(ctx context.Context, bt *batch[V], out map[string]V) (missing []int, err error) {
	bt.epoch = c.epoch.Load()
	bt.ended = c.flights.ended.Load()
	bt.mark = c.landed.mark()
	bt.dataKeys = make([]string, len(bt.keys))
	bt.seqs = make([]uint64, len(bt.keys))
	for i, k := range bt.keys {
		bt.seqs[i] = c.invals.of(k)
	}
	c.keys.dataAll(bt.gen, bt.keys, bt.dataKeys)
	raws, err := c.readMany(ctx, bt.dataKeys)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err() // the caller left during the read: load nothing
	case err != nil && c.opts.FailClosed:
		return nil, unavailable(err)
	}
	var vals []V      // what the values decode into: one allocation for the batch
	var now time.Time // the clock, read once for the batch
	// The entries are decoded decodeChunk at a time by one DecodeBatch
	// (its stages keep their code in the CPU's caches, as a decode per
	// key does not), then classified key by key.
	var (
		data    [decodeChunk][]byte
		targets [decodeChunk]any
		dsts    [decodeChunk]*V
		metas   [decodeChunk]codec.Meta
		errs    [decodeChunk]error
	)
	for start := 0; start < len(bt.keys); start += decodeChunk {
		end := min(start+decodeChunk, len(bt.keys))
		n := 0
		if err == nil {
			for i := start; i < end; i++ {
				if raws[i] == nil {
					continue
				}
				if len(vals) == 0 {
					vals = make([]V, len(bt.keys)-i)
					now = c.opts.Now()
				}
				data[n], targets[n], dsts[n] = raws[i], &vals[0], &vals[0]
				vals = vals[1:]
				n++
			}
			c.env.DecodeBatch(data[:n], targets[:n], metas[:n], errs[:n])
		}
		j := 0 // the index in data of the next entry found
		for i := start; i < end; i++ {
			k := bt.keys[i]
			var f lookupResult[V]
			switch {
			case err != nil:
				f = lookupResult[V]{state: stateUnknown}
			case raws[i] == nil:
				f = lookupResult[V]{state: stateMiss}
			default:
				c.classifyDecoded(&f, k, raws[i], true, dsts[j], &metas[j], errs[j], now)
				j++
			}
			if c.classifyFound(bt, i, &f, out) {
				missing = append(missing, i)
			}
		}
	}
	return missing, nil
}

// decodeChunk is how many keys of a batch readBatch decodes at a time.
const decodeChunk = 16

// classifyFound handles what the batch read found for key i of bt, f: a
// fresh value goes to out (and L1); it reports whether the key is to be
// loaded, keeping f for it.
func (c *Cache[V]) classifyFound(bt *batch[V], i int, f *lookupResult[V], out map[string]V) (load bool) {
	k := bt.keys[i]
	switch f.state {
	case stateFresh:
		c.event(EventHitBackend, k, 0, nil)
		out[k] = f.val
		c.putL1(k, bt.gen, bt.epoch, f.val, f.meta)
		return false // a hit keeps nothing in bt.found
	case stateNegative:
		c.event(EventHitNegative, k, 0, nil)
		return false
	case stateUnknown:
		if e, ok := c.heldValue(k, bt.gen); ok { // see miss.get
			c.event(EventHitL1, k, 0, nil)
			out[k] = e.val
			return false
		}
	}
	c.event(EventMiss, k, 0, nil)
	if bt.found == nil {
		bt.found = make([]lookupResult[V], len(bt.keys))
	}
	bt.found[i] = *f
	// A miss keeps its data key past the batch (its flight, the
	// landing, an in-process backend's stored key): a copy of its
	// own, not a substring of dataAll's one allocation for the
	// batch, which it would keep alive whole.
	bt.dataKeys[i] = strings.Clone(bt.dataKeys[i])
	return true
}

// claimBatch leads the flights of the missing keys that nobody in this
// process is loading (lead) and joins the others (joined): those of a Get,
// a Fetch or another GetMany.
func (c *Cache[V]) claimBatch(bt *batch[V], missing []int) (lead, joined []batchClaim[V]) {
	for _, i := range missing {
		call, led := c.flights.join(bt.dataKeys[i])
		if led {
			lead = append(lead, batchClaim[V]{i: i, call: call})
		} else {
			c.event(EventCoalesced, bt.keys[i], 0, nil)
			joined = append(joined, batchClaim[V]{i: i, call: call})
		}
	}
	return lead, joined
}

// awaitBatch waits on ctx for the flights of claims and puts their values
// in out. A flight whose value may not be shared (a Fetch's Private
// result) leaves its key in private, for this caller to load.
func (c *Cache[V]) awaitBatch(ctx context.Context, bt *batch[V], claims []batchClaim[V], out map[string]V) (private []string, err error) {
	for _, cl := range claims {
		k := bt.keys[cl.i]
		select {
		case <-cl.call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		switch err := cl.call.err; {
		case err == nil && cl.call.f.private:
			private = append(private, k)
		case err == nil:
			out[k] = cl.call.f.val
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	return private, nil
}

// loadAlone loads keys with this caller's load and stores nothing: they
// were loaded by a Fetch whose result may not be shared (see
// miss.fetchAlone). The load runs detached, bounded by LoadTimeout; the
// caller waits for it on its own context.
func (c *Cache[V]) loadAlone(ctx context.Context, keys []string, load BatchLoadFunc[V], out map[string]V) error {
	if err := c.takeLoadSlot(ctx); err != nil {
		return err
	}
	type loaded struct {
		vals map[string]V
		err  error
	}
	done := make(chan loaded, 1)
	go func() {
		defer func() { <-c.loadSlots }()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
		defer cancel()
		started := c.opts.Now()
		vals, err := safely(func() (map[string]V, error) { return load(lctx, keys) })
		c.batchLoaded(started, err)
		done <- loaded{vals, err}
	}()
	var l loaded
	select {
	case l = <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.err != nil {
		return l.err
	}
	for _, k := range keys {
		if v, ok := l.vals[k]; ok {
			out[k] = v
		}
	}
	return nil
}

// batchLoaded counts and reports a batch load that began at started.
func (c *Cache[V]) batchLoaded(started time.Time, err error) time.Duration {
	d := c.opts.Now().Sub(started)
	var pe *PanicError
	if errors.As(err, &pe) {
		c.stats.loadPanics.Add(1)
		c.opts.Logger.Error("memo: batch loader panicked", "panic", pe.Value)
	}
	if err != nil {
		c.event(EventLoadError, "", d, err)
	} else {
		c.event(EventLoad, "", d, nil)
	}
	return d
}

// runBatch loads the keys of lead with one call of load, stores them and
// finishes their flights, whatever happens (a panic in here is handed to
// the waiters as a *PanicError, never left hanging).
func (c *Cache[V]) runBatch(ctx context.Context, bt *batch[V], lead []batchClaim[V], load BatchLoadFunc[V]) {
	res := make([]outcome[V], len(lead))
	all := make([]batchClaim[V], len(lead)) // lead is the caller's too
	for j, cl := range lead {
		cl.res = j
		all[j] = cl
	}
	lead = all
	defer func() {
		if p := recover(); p != nil {
			perr := &PanicError{Value: p, Stack: debug.Stack()}
			for j := range res {
				res[j] = outcome[V]{err: perr}
			}
		}
		for j, cl := range all {
			c.flights.finish(bt.dataKeys[cl.i], cl.call, res[j].f, res[j].err)
		}
	}()
	started := c.opts.Now()
	switch {
	case c.opts.Locker == nil:
		// Only the keys this node stored since the read began may have
		// been missed by it (see landings): read those again, as a Get's
		// flight does. Under steady misses of other keys, the batch still
		// loads after two round trips.
		var again, keep []batchClaim[V]
		for _, cl := range lead {
			if c.landed.since(bt.dataKeys[cl.i], bt.mark) {
				again = append(again, cl)
			} else {
				keep = append(keep, cl)
			}
		}
		if len(again) > 0 {
			lead = append(keep, c.recheckBatch(ctx, bt, again, res)...)
		}
	case c.flights.ended.Load() != bt.ended:
		// A flight ended since the read and may have stored some of
		// these keys (as miss.fill re-checks): read them again.
		lead = c.recheckBatch(ctx, bt, lead, res)
	}
	if len(lead) == 0 {
		return
	}
	keys := make([]string, len(lead))
	for j, cl := range lead {
		keys[j] = bt.keys[cl.i]
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
	defer cancel()

	var vals map[string]V
	err := c.takeLoadSlot(lctx)
	if err == nil {
		vals, err = safely(func() (map[string]V, error) { return load(lctx, keys) })
		<-c.loadSlots
	}
	d := c.batchLoaded(started, err)

	epoch := c.epoch.Load()
	now := c.opts.Now()
	for _, cl := range lead {
		i, j := cl.i, cl.res
		m := miss[V]{c: c, key: bt.keys[i], gen: bt.gen, dataKey: bt.dataKeys[i], found: bt.found[i], started: started, seq: bt.seqs[i]}
		switch v, ok := vals[m.key]; {
		case err != nil:
			res[j].err = err
		case !ok:
			res[j].err = ErrNotFound
			m.storeNotFound(lctx, now, d)
		default:
			info := Info{Source: SourceLoad, CreatedAt: now}
			data, ttl, hard, eerr := c.encodeResult(Result[V]{Value: v}, now, d, bt.gen)
			if eerr == nil {
				info.Expires = now.Add(ttl)
				meta := entryMeta{soft: info.Expires, created: now, load: d}
				switch m.store(lctx, data, hard) {
				case stored:
					info.Stored = true
					c.putL1(m.key, bt.gen, epoch, v, meta)
				case storeFailed:
					c.hold(m.key, bt.gen, bt.epoch, v, meta)
				}
			}
			res[j].f = flight[V]{val: v, info: info}
		}
	}
}

// recheckBatch reads the keys of lead again, sets the outcome in res of
// those now found fresh (or cached as not found) and returns the others,
// with what the backend now holds for them as the base of their
// compare-and-swap. If the read fails, it returns lead unchanged.
func (c *Cache[V]) recheckBatch(ctx context.Context, bt *batch[V], lead []batchClaim[V], res []outcome[V]) []batchClaim[V] {
	dataKeys := make([]string, len(lead))
	for j, cl := range lead {
		dataKeys[j] = bt.dataKeys[cl.i]
	}
	var raws [][]byte
	err := c.call(ctx, func(ctx context.Context) (err error) {
		raws, err = backend.GetMany(ctx, c.backend, dataKeys)
		return err
	})
	if err != nil {
		return lead
	}
	rest := lead[:0:0]
	for j, cl := range lead {
		k := bt.keys[cl.i]
		again := lookupResult[V]{state: stateMiss}
		if raws[j] != nil {
			again = c.classify(k, raws[j], false)
		}
		switch again.state {
		case stateFresh:
			res[cl.res].f = flight[V]{val: again.val, info: again.meta.info(SourceBackend)}
			c.putL1(k, bt.gen, bt.epoch, again.val, again.meta)
		case stateNegative:
			res[cl.res].err = ErrNotFound
		default:
			bt.found[cl.i] = again
			rest = append(rest, cl)
		}
	}
	return rest
}
