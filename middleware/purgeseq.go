package middleware

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/memo"
)

// The purge sequence is a counter in the backend: each tag purge takes its
// next value as the purged tags' generation, and a render snapshots it
// first (see storeTags). Generations are compared for equality (a hit is
// current while its tags' generations are those it recorded) and for
// order (a generation above a render's snapshot was set by a purge during
// the render), so the sequence must never issue a value it issued
// before, even after the counter key is gone.
//
// It always expires: it lives seqTTL, renewed by every purge. A counter
// that is absent when read (first use, or expired or evicted) starts at 0,
// and a value below seqFloor is never used: the counter is first moved
// (compare-and-swap) to the wall clock in nanoseconds, above every value
// an earlier counter issued, since that one advanced by one per purge from
// the clock reading that started it. (That holds while node clocks agree
// to better than the time between the last purge and the counter's loss:
// seqTTL after an expiry, and at least one backend round trip after an
// eviction.) A backend without compare-and-swap gets random generations
// for purges, which still invalidate, and no render is treated as
// overtaken.
const (
	// purgeSeq is the counter's name in the tags cache.
	purgeSeq = "purge-seq"
	// seqTTL is the counter's life after the last purge: longer than any
	// stored response or tag generation lives.
	seqTTL = memo.MaxTTL + tagTTL
	// seqFloor: values below it come from a counter that was not started
	// from the clock (2^60 ns after 1970 is in 2006).
	seqFloor = 1 << 60
)

// errSeqUnstarted reports a purge sequence that could not be moved to the
// clock (no compare-and-swap, or other nodes kept changing it).
var errSeqUnstarted = errors.New("middleware: purge sequence not started")

// seq adds delta (0 reads) to the purge sequence and returns its value,
// starting the counter from the clock when it is new.
func (c *Cache) seq(ctx context.Context, delta int64) (uint64, error) {
	for range 3 {
		n, err := c.tags.Incr(ctx, purgeSeq, delta, seqTTL)
		if err != nil {
			return 0, err
		}
		if n >= seqFloor {
			return uint64(n), nil
		}
		if err := c.startSeq(ctx, n); err != nil {
			return 0, err
		}
	}
	return 0, errSeqUnstarted
}

// startSeq moves a new purge sequence, seen at n, to the clock. Losing the
// race to another node's change is not an error: the caller reads again.
func (c *Cache) startSeq(ctx context.Context, n int64) error {
	if c.seqKey == "" {
		return errSeqUnstarted
	}
	seed := max(c.o.Now().UnixNano(), seqFloor) + n // keeps the purges already counted
	_, err := backend.CompareAndSwap(ctx, c.b, c.seqKey,
		strconv.AppendInt(nil, n, 10), strconv.AppendInt(nil, seed, 10), seqTTL)
	return err
}

// renewSeq gives the purge sequence its full life again after a purge.
// A failure leaves it the life it has (at least one purge shorter).
func (c *Cache) renewSeq(ctx context.Context) {
	if c.seqKey != "" {
		_ = backend.Expire(ctx, c.b, c.seqKey, seqTTL)
	}
}

// seqKeyOf returns the purge sequence's backend key in tags, or "" when
// the backend has no counters.
func seqKeyOf(tags *memo.Cache[uint64]) string {
	n, err := tags.Counter(purgeSeq, &memo.CounterOptions{TTL: seqTTL, BackendTimeout: time.Second})
	if err != nil {
		return ""
	}
	return n.Key()
}
