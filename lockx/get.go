package lockx

import (
	"context"
	"errors"

	rsredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
)

// A read folded into a grant: memo takes a lock on a cold key and then
// reads the key again (another process may have stored its value between
// memo's first read and the grant). When the lock and the key live on the
// same Redis server, reached through the same client, the read can travel
// in the grant's round trip: one pipeline on one connection, the grant's
// script and then the backend's own bounded read. The server runs them in
// that order, so the read sees everything stored before the grant, which
// is all the re-check needs (it need not be atomic with the grant: a value
// stored between the two is seen, as a separate read would see it). A
// grant answered READONLY (a demoted primary, before a failover client
// has moved on) is sent again with the read behind it by backend/goredis's
// READONLY guard, so the two still meet on one server.
//
// Why a pipeline and not one script that reads the key when it grants:
// the pipeline's read is the very command backend/goredis sends for
// GetNonEmpty, interpreted by backend/goredis (size bound, oversized
// count, error translation), so the folded read cannot drift from the
// separate one; a value read inside Lua is copied into a Lua string and
// back (ten to forty times the server cost of GETRANGE, see
// backend/goredis's boundedGet). The grant keeps its own command, with the
// attempt timeout, the abandon of a failed or late attempt and the
// NOSCRIPT fallback of every other grant. The cost: the read is sent
// even when the lock is not granted, and its reply then thrown away (on a
// contended cold key it is usually a miss: a few bytes).

// GetsFrom reports whether [Locker.TryAcquireGet] reads keys of b in the
// round trip that grants the lock. It does when the Locker runs over one
// Redis server ([New] with a standalone or Sentinel failover
// *redis.Client, not a ClusterClient or Ring, where the lock and the key
// may live on different nodes) and b is a *goredis.Backend over that very
// client (the same pointer: the same server, database and connection
// pool). memo asks it once, in memo.New.
func (l *Locker) GetsFrom(b backend.Backend) bool {
	_, ok := l.folds(b)
	return ok
}

// TryAcquireGet is [Locker.TryAcquire] followed, when the lock is granted,
// by a read of key from b: value and getErr are then what
// backend.GetNonEmpty(ctx, b, key) returns for a read that starts after
// the grant (a miss is an error wrapping backend.ErrNotFound). When the
// lock is not granted (ok is false, or err is not nil), value and getErr
// are nil.
//
// When [Locker.GetsFrom](b) holds, the read travels in the grant's round
// trip (see GetsFrom); otherwise it is a separate call after the grant.
// It is memo's optional GetLocker interface: memo re-checks its key after
// taking the lock, and with the read folded in, a locked miss waits for
// three round trips instead of four.
//
// release is [Lock.Unlock], which also reports whether the lock was waited
// on: with [New] (the lock is one key), whether an attempt of TryAcquire
// or TryAcquireGet for name was refused while this lock was held (the
// waited mark, see TryAcquire; the release reads and deletes it in the
// script that deletes the lock). waited is true when that cannot be told:
// over Redlock or [NewLocal], and whenever release returns an error (the
// lock was lost, or the server did not answer). memo publishes its "value
// landed" message only when the release says waited.
func (l *Locker) TryAcquireGet(ctx context.Context, name string, b backend.Backend, key string) (release func(context.Context) (waited bool, err error), ok bool, value []byte, getErr error, err error) {
	g, folds := l.folds(b)
	var gp *foldedGet
	if folds {
		g.key = key
		gp = &g
	}
	lk, err := l.lock(ctx, name, 1, false, true, gp)
	if errors.Is(err, ErrNotObtained) {
		return nil, false, nil, nil, nil
	}
	if err != nil {
		return nil, false, nil, nil, err
	}
	if !folds {
		value, getErr = backend.GetNonEmpty(ctx, b, key)
		return lk.unlockWaited, true, value, getErr, nil
	}
	return lk.unlockWaited, true, g.value, g.err, nil
}

// folds returns the fold of a read of b into l's grants (its key to be
// set), if there is one (see GetsFrom).
func (l *Locker) folds(b backend.Backend) (foldedGet, bool) {
	d, ok := l.drv.(*singleDriver)
	if !ok {
		return foldedGet{}, false
	}
	gb, ok := b.(*goredis.Backend)
	if !ok {
		return foldedGet{}, false
	}
	c, ok := d.client.(*redis.Client)
	if !ok || gb.Client() != redis.UniversalClient(c) {
		return foldedGet{}, false
	}
	return foldedGet{d: d, b: gb}, true
}

// foldedGet is a backend read folded into the round trip of a grant by
// d, and then its outcome.
type foldedGet struct {
	d   *singleDriver
	b   *goredis.Backend // over d's client
	key string

	read  goredis.PipedGet // the read sent with the last grant
	value []byte           // its outcome, when the lock was granted
	err   error
}

// runThenGet is run (one script call, by SHA and on NOSCRIPT by source)
// with g's read queued behind it in one pipeline. g.read is the read sent
// with the script call whose reply is returned: after a NOSCRIPT, the
// read that followed the refused call is dropped unread (it came before
// any grant) and both are sent again.
func (d *singleDriver) runThenGet(ctx context.Context, s *rsredis.Script, g *foldedGet, keys []string, args ...any) (int64, error) {
	pipe, ok := d.pipes.Get().(redis.Pipeliner)
	if !ok {
		pipe = d.client.Pipeline()
	}
	defer d.pipes.Put(pipe) // Exec leaves it empty
	cmd := pipe.EvalSha(ctx, s.Hash, keys, args...)
	g.read = g.b.PipeGetNonEmpty(ctx, pipe, g.key)
	_, _ = pipe.Exec(ctx) // errors are per command
	v, err := cmd.Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = pipe.Eval(ctx, s.Src, keys, args...)
		g.read = g.b.PipeGetNonEmpty(ctx, pipe, g.key)
		_, _ = pipe.Exec(ctx)
		v, err = cmd.Result()
	}
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	n, _ := v.(int64)
	return n, err
}
