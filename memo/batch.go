package memo

import (
	"context"
	"errors"

	"github.com/cachekit/cachekit/backend"
)

// BatchLoadFunc loads many keys at once. Keys it leaves out of the result
// are "not found". It gets a context detached from the callers', bounded by
// Options.LoadTimeout.
type BatchLoadFunc[V any] func(ctx context.Context, keys []string) (map[string]V, error)

// batchCall is one key's share of a batch load, joined by overlapping
// batches in this process.
type batchCall[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// batch is one GetMany past the L1: the keys it still needs, their backend
// keys and what the backend held for each.
type batch[V any] struct {
	gen      uint64
	epoch    uint64            // the invalidation epoch before the read
	seqs     []uint64          // each key's invalidation sequence before the read
	keys     []string          // user keys missing from L1
	dataKeys []string          // their backend keys
	found    []lookupResult[V] // what the backend held for each
}

// GetMany returns the values of keys: L1 first, then one batched backend
// read, then a single call of load for the keys still missing. Keys that
// are not found are absent from the result. Overlapping GetMany calls in
// this process share the loads of the keys they have in common.
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
	if err := c.awaitBatch(ctx, bt, lead, out, false); err != nil {
		return out, err
	}
	return out, c.awaitBatch(ctx, bt, joined, out, true)
}

// readBatch reads the keys of bt from the backend in one call, puts the
// fresh values in out and returns the indexes of the keys to load.
func (c *Cache[V]) readBatch(ctx context.Context, bt *batch[V], out map[string]V) (missing []int, err error) {
	bt.epoch = c.epoch.Load()
	bt.dataKeys = make([]string, len(bt.keys))
	bt.seqs = make([]uint64, len(bt.keys))
	for i, k := range bt.keys {
		bt.seqs[i] = c.invals.of(k)
		bt.dataKeys[i] = c.keys.data(bt.gen, k)
	}
	var raws [][]byte
	rctx, cancel := fairShare(ctx) // the rest of the budget is for the load
	err = c.call(rctx, func(ctx context.Context) (err error) {
		raws, err = backend.GetMany(ctx, c.backend, bt.dataKeys)
		return err
	})
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err() // the caller left during the read: load nothing
	case err != nil && c.opts.FailClosed:
		return nil, unavailable(err)
	}
	bt.found = make([]lookupResult[V], len(bt.keys))
	for i, k := range bt.keys {
		switch {
		case err != nil:
			bt.found[i] = lookupResult[V]{state: stateUnknown}
		case raws[i] == nil:
			bt.found[i] = lookupResult[V]{state: stateMiss}
		default:
			bt.found[i] = c.classify(k, raws[i], true)
		}
		switch bt.found[i].state {
		case stateFresh:
			c.event(EventHitBackend, k, 0, nil)
			out[k] = bt.found[i].val
			c.putL1(k, bt.gen, bt.epoch, bt.found[i].val, bt.found[i].meta)
		case stateNegative:
			c.event(EventHitNegative, k, 0, nil)
		case stateUnknown:
			if e, ok := c.heldValue(k, bt.gen); ok { // see miss.get
				c.event(EventHitL1, k, 0, nil)
				out[k] = e.val
				break
			}
			c.event(EventMiss, k, 0, nil)
			missing = append(missing, i)
		default:
			c.event(EventMiss, k, 0, nil)
			missing = append(missing, i)
		}
	}
	return missing, nil
}

// claimBatch claims the missing keys nobody in this process is loading
// (lead) and joins the loads of the others (joined).
func (c *Cache[V]) claimBatch(bt *batch[V], missing []int) (lead, joined map[int]*batchCall[V]) {
	lead = map[int]*batchCall[V]{}
	joined = map[int]*batchCall[V]{}
	c.batchMu.Lock()
	defer c.batchMu.Unlock()
	for _, i := range missing {
		if call, ok := c.batches[bt.dataKeys[i]]; ok {
			joined[i] = call
			continue
		}
		call := &batchCall[V]{done: make(chan struct{})}
		c.batches[bt.dataKeys[i]] = call
		lead[i] = call
	}
	return lead, joined
}

// awaitBatch waits on ctx for the calls and puts their values in out.
func (c *Cache[V]) awaitBatch(ctx context.Context, bt *batch[V], calls map[int]*batchCall[V], out map[string]V, coalesced bool) error {
	for i, call := range calls {
		if coalesced {
			c.event(EventCoalesced, bt.keys[i], 0, nil)
		}
		select {
		case <-call.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if call.err == nil {
			out[bt.keys[i]] = call.val
		} else if !errors.Is(call.err, ErrNotFound) {
			return call.err
		}
	}
	return nil
}

// runBatch loads the claimed keys with one call of load and stores them.
func (c *Cache[V]) runBatch(ctx context.Context, bt *batch[V], lead map[int]*batchCall[V], load BatchLoadFunc[V]) {
	keys := make([]string, 0, len(lead))
	for i := range lead {
		keys = append(keys, bt.keys[i])
	}
	started := c.opts.Now()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
	defer cancel()

	var vals map[string]V
	err := c.takeLoadSlot(lctx)
	if err == nil {
		vals, err = safely(func() (map[string]V, error) { return load(lctx, keys) })
		<-c.loadSlots
	}
	d := c.opts.Now().Sub(started)
	if err != nil {
		c.event(EventLoadError, "", d, err)
	} else {
		c.event(EventLoad, "", d, nil)
	}

	epoch := c.epoch.Load()
	now := c.opts.Now()
	for i, call := range lead {
		m := miss[V]{c: c, key: bt.keys[i], gen: bt.gen, dataKey: bt.dataKeys[i], found: bt.found[i], started: started, seq: bt.seqs[i]}
		switch v, ok := vals[m.key]; {
		case err != nil:
			call.err = err
		case !ok:
			call.err = ErrNotFound
			m.storeNotFound(lctx, now, d)
		default:
			call.val = v
			data, ttl, hard, eerr := c.encodeResult(Result[V]{Value: v}, now, d, bt.gen)
			if eerr != nil {
				break
			}
			meta := entryMeta{soft: now.Add(ttl), created: now, load: d}
			switch m.store(lctx, data, hard) {
			case stored:
				c.putL1(m.key, bt.gen, epoch, v, meta)
			case storeFailed:
				c.hold(m.key, bt.gen, bt.epoch, v, meta)
			}
		}
	}
	c.batchMu.Lock()
	for i, call := range lead {
		delete(c.batches, bt.dataKeys[i])
		close(call.done)
	}
	c.batchMu.Unlock()
}
