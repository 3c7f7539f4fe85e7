package goredis

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
)

// queued is one op of a pipeline with the command(s) that carry it.
type queued struct {
	op     backend.Op
	read   boundedRead // OpGet
	cmd    redis.Cmder // every other op
	script *script     // the script cmd runs, if any
}

// Pipeline runs ops in one go-redis pipeline: one round trip per node
// (go-redis groups the commands by node on a Cluster or Ring, following
// MOVED and ASK), and returns one [backend.Result] per op, in order. Every
// op is validated first ([backend.CheckOp], and [Options.MaxValueBytes]
// for a Set), so an invalid pipeline sends nothing.
//
// The commands: a Get is a bounded read (GETRANGE and EXISTS, as
// [Backend.Get]), a Set is SET PX, a Delete UNLINK, an Incr the counter
// script of [Backend.Incr], an Expire PEXPIRE (or the persist script for
// [backend.NoExpiry]), a TTL PTTL, a Persist the persist script.
//
// A node's batch that holds an Incr is never re-sent by go-redis (NoRetry),
// whatever the client's MaxRetries: when its reply is lost the Incr's
// Result wraps [backend.ErrOutcomeUnknown] (as does a write's whose reply
// was lost: Set, Delete, Expire and Persist may have been applied, but can
// safely be re-run). A batch of idempotent ops keeps the client's retries.
// Replies the server sent are reported even when later ones were lost.
func (b *Backend) Pipeline(ctx context.Context, ops []backend.Op) ([]backend.Result, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, op := range ops {
		if err := backend.CheckOp(op); err != nil {
			return nil, err
		}
		if op.Kind == backend.OpSet {
			if err := backend.CheckValueSize(op.Key, len(op.Value), b.opt.MaxValueBytes); err != nil {
				return nil, fmt.Errorf("goredis: pipeline Set: %w", err)
			}
		}
	}
	out := make([]backend.Result, len(ops))
	if len(ops) == 0 {
		return out, nil
	}
	pipe := b.c.Pipeline()
	qs := make([]queued, len(ops))
	for i, op := range ops {
		qs[i] = b.queue(ctx, pipe, op)
	}
	_, _ = pipe.Exec(ctx) // errors are per command
	for i := range qs {
		out[i] = b.pipeResult(ctx, &qs[i])
	}
	return out, nil
}

// queue adds the command(s) of op to pipe.
func (b *Backend) queue(ctx context.Context, pipe redis.Pipeliner, op backend.Op) queued {
	q := queued{op: op}
	switch op.Kind {
	case backend.OpGet:
		q.read = b.queueBoundedRead(ctx, pipe, op.Key)
		return q
	case backend.OpSet:
		q.cmd = pipe.Set(ctx, op.Key, op.Value, expiration(op.TTL))
	case backend.OpDelete:
		q.cmd = pipe.Unlink(ctx, op.Key)
	case backend.OpTTL:
		q.cmd = redis.NewIntCmd(ctx, "pttl", op.Key)
		_ = pipe.Process(ctx, q.cmd)
	case backend.OpExpire:
		if op.TTL != backend.NoExpiry {
			q.cmd = pipe.PExpire(ctx, op.Key, expiration(op.TTL))
			return q
		}
		q.script = persistScript
	case backend.OpPersist:
		q.script = persistScript
	case backend.OpIncr:
		q.script = incrScript
	}
	if q.script != nil {
		// EVAL, not EVALSHA: a NOSCRIPT reply would need a second round
		// trip, which would reorder the op after the ops queued behind it.
		a := []any{"eval", q.script.src, 1, op.Key}
		if op.Kind == backend.OpIncr {
			a = append(a, op.Delta, millis(op.TTL))
		}
		cmd := redis.NewCmd(ctx, a...)
		if q.script.retry {
			q.cmd = cmd
		} else {
			q.cmd = noRetry{cmd} // the node's whole batch is then never re-sent
		}
		_ = pipe.Process(ctx, q.cmd)
	}
	return q
}

// pipeResult reads the outcome of q after the pipeline ran.
func (b *Backend) pipeResult(ctx context.Context, q *queued) backend.Result {
	var r backend.Result
	op := q.op
	if op.Kind == backend.OpGet {
		r.Value, r.Err = b.result(ctx, q.read)
		return r
	}
	err := q.cmd.Err()
	var reply any
	if q.script != nil {
		reply = q.cmd.(interface{ Val() any }).Val()
	}
	switch op.Kind {
	case backend.OpSet:
		r.Err = b.writeErr(ctx, "SET", op.Key, err)
	case backend.OpDelete:
		r.Err = b.writeErr(ctx, "UNLINK", op.Key, err)
	case backend.OpTTL:
		if err != nil {
			r.Err = b.fail(ctx, "PTTL", op.Key, err)
			break
		}
		r.TTL, r.Err = ttlOf(q.cmd.(*redis.IntCmd).Val())
	case backend.OpExpire:
		if q.script != nil {
			r.Err = persistResult(reply, b.writeErr(ctx, "PERSIST", op.Key, err))
			break
		}
		if err != nil {
			r.Err = b.writeErr(ctx, "PEXPIRE", op.Key, err)
		} else if !q.cmd.(*redis.BoolCmd).Val() {
			r.Err = backend.ErrNotFound
		}
	case backend.OpPersist:
		r.Err = persistResult(reply, b.writeErr(ctx, "PERSIST", op.Key, err))
	case backend.OpIncr:
		r.N, r.Err = b.incrResult(ctx, op.Key, reply, err)
	}
	return r
}

// writeErr translates the error of an idempotent write: like a
// non-idempotent one, a write whose reply was lost may have been applied,
// so its error wraps backend.ErrOutcomeUnknown (it is safe to re-run).
func (b *Backend) writeErr(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	return b.failUnsure(ctx, op, key, err)
}
