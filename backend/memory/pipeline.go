package memory

import (
	"context"
	"fmt"

	"github.com/cachekit/cachekit/backend"
)

// Pipeline runs ops in order and returns one [backend.Result] per op. It
// first validates every op ([backend.CheckOp], and [Options.MaxValueBytes]
// and the shard bound for a Set), so an invalid pipeline changes nothing
// and returns an error. Each op is atomic on its own, exactly as the
// single-key method of the same name; the pipeline as a whole is not (a
// concurrent reader may see part of it). In process nothing is ever lost in
// transit, so no Result is ever Unknown.
func (b *Backend) Pipeline(ctx context.Context, ops []backend.Op) ([]backend.Result, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	for _, op := range ops {
		if err := backend.CheckOp(op); err != nil {
			return nil, err
		}
		if op.Kind == backend.OpSet {
			if err := b.checkWrite(ctx, op.Key, len(op.Value), op.TTL); err != nil {
				return nil, fmt.Errorf("memory: pipeline Set %q: %w", op.Key, err)
			}
		}
	}
	out := make([]backend.Result, len(ops))
	for i, op := range ops {
		r := &out[i]
		switch op.Kind {
		case backend.OpGet:
			r.Value, r.Err = b.Get(ctx, op.Key)
		case backend.OpSet:
			r.Err = b.Set(ctx, op.Key, op.Value, op.TTL)
		case backend.OpDelete:
			r.Err = b.Delete(ctx, op.Key)
		case backend.OpIncr:
			r.N, r.Err = b.Incr(ctx, op.Key, op.Delta, op.TTL)
		case backend.OpExpire:
			r.Err = b.Expire(ctx, op.Key, op.TTL)
		case backend.OpTTL:
			r.TTL, r.Err = b.TTL(ctx, op.Key)
		case backend.OpPersist:
			r.Err = b.Persist(ctx, op.Key)
		}
	}
	return out, nil
}
