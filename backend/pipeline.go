package backend

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OpKind names the operation of an [Op].
type OpKind uint8

// The operations a pipeline can queue.
const (
	OpGet     OpKind = iota + 1 // read a value ([Backend.Get])
	OpSet                       // write a value ([Backend.Set])
	OpDelete                    // delete a key ([Backend.Delete])
	OpIncr                      // add to a counter ([Counter.Incr]); not idempotent
	OpExpire                    // set a key's expiry ([Expirer.Expire])
	OpTTL                       // read a key's expiry ([Expirer.TTL])
	OpPersist                   // remove a key's expiry ([Expirer.Persist])
)

var opNames = [...]string{OpGet: "Get", OpSet: "Set", OpDelete: "Delete", OpIncr: "Incr", OpExpire: "Expire", OpTTL: "TTL", OpPersist: "Persist"}

// String returns the operation's name, such as "Incr".
func (k OpKind) String() string {
	if int(k) < len(opNames) && opNames[k] != "" {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Idempotent reports whether running the operation twice has the effect of
// running it once. Only [OpIncr] is not: a pipeline holding one is never
// re-sent, and a lost reply makes its outcome unknown.
func (k OpKind) Idempotent() bool { return k != OpIncr }

// Op is one operation of a pipeline. Build it with [GetOp], [SetOp],
// [DeleteOp], [IncrOp], [ExpireOp], [TTLOp] or [PersistOp].
type Op struct {
	Kind  OpKind
	Key   string        // the key (non-empty)
	Value []byte        // OpSet: the value; the backend copies it
	TTL   time.Duration // OpSet, OpExpire: > 0 or NoExpiry; OpIncr: the TTL of a counter it creates
	Delta int64         // OpIncr: the amount to add
}

// GetOp reads key: the [Result] holds its value, or an Err wrapping
// [ErrNotFound].
func GetOp(key string) Op { return Op{Kind: OpGet, Key: key} }

// SetOp stores value under key for ttl (> 0 or [NoExpiry]).
func SetOp(key string, value []byte, ttl time.Duration) Op {
	return Op{Kind: OpSet, Key: key, Value: value, TTL: ttl}
}

// DeleteOp deletes key; a missing key is not an error.
func DeleteOp(key string) Op { return Op{Kind: OpDelete, Key: key} }

// IncrOp adds delta to the counter under key, creating it with ttl (> 0
// or [NoExpiry]): the [Result] holds the new value in N.
func IncrOp(key string, delta int64, ttl time.Duration) Op {
	return Op{Kind: OpIncr, Key: key, Delta: delta, TTL: ttl}
}

// ExpireOp sets the expiry of an existing key to ttl (> 0 or [NoExpiry]);
// a missing key is an Err wrapping [ErrNotFound].
func ExpireOp(key string, ttl time.Duration) Op { return Op{Kind: OpExpire, Key: key, TTL: ttl} }

// TTLOp reads key's remaining time to live into the [Result]'s TTL
// ([NoExpiry] for none); a missing key is an Err wrapping [ErrNotFound].
func TTLOp(key string) Op { return Op{Kind: OpTTL, Key: key} }

// PersistOp removes the expiry of an existing key; a missing key is an Err
// wrapping [ErrNotFound].
func PersistOp(key string) Op { return Op{Kind: OpPersist, Key: key} }

// Result is the outcome of one [Op] of a pipeline.
type Result struct {
	Value []byte        // OpGet: the value (non-nil, possibly empty, when Err is nil)
	N     int64         // OpIncr: the counter's new value
	TTL   time.Duration // OpTTL: the remaining time to live, or NoExpiry
	// Err is nil when the operation succeeded. Otherwise it says why, with
	// the errors of the matching single-key method: ErrNotFound for a
	// missing key, ErrNotInteger, ErrOverflow, the context's error, or a
	// connection error. When it wraps [ErrOutcomeUnknown] the operation
	// was sent but its reply was lost: it may or may not have been applied.
	Err error
}

// Status is what a [Result] says about its operation.
type Status uint8

const (
	// Succeeded: the operation was applied (a read returned its answer).
	Succeeded Status = iota
	// Failed: the operation had no effect: it was refused before being
	// sent, not sent at all, or answered with an error such as a miss
	// (ErrNotFound) or ErrNotInteger.
	Failed
	// Unknown: the operation was sent and its reply lost; it may or may not
	// have been applied. An idempotent operation can safely be re-run; an
	// Incr cannot.
	Unknown
)

// String returns "succeeded", "failed" or "unknown".
func (s Status) String() string {
	switch s {
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Status classifies r: Succeeded when Err is nil, Unknown when Err wraps
// [ErrOutcomeUnknown], Failed otherwise.
func (r Result) Status() Status {
	switch {
	case r.Err == nil:
		return Succeeded
	case errors.Is(r.Err, ErrOutcomeUnknown):
		return Unknown
	}
	return Failed
}

// Pipeliner is implemented by backends that run a batch of mixed
// operations in one round trip per node. Use [Pipeline].
type Pipeliner interface {
	// Pipeline runs ops and returns one Result per op, in the order of
	// ops. It first validates every op (see [CheckOp], plus the backend's
	// own bounds such as its MaxValueBytes); an invalid op, a closed
	// backend or a finished context yields an error, and then nothing was
	// sent or changed. Otherwise the error is nil and each Result reports
	// its own op.
	//
	// Ops on the same key apply in their order; the pipeline is not
	// atomic, and ops on different keys (on different nodes) have no
	// order among them. A pipeline holding a non-idempotent op (Incr) is
	// never re-sent: when its reply is lost the Incr's Result wraps
	// ErrOutcomeUnknown. A pipeline of idempotent ops may be retried.
	Pipeline(ctx context.Context, ops []Op) ([]Result, error)
}

// CheckOp validates op as every backend does before sending anything: a
// known kind, a non-empty key, and a TTL > 0 or [NoExpiry] for OpSet and
// OpExpire and OpIncr ([CheckTTL]). Value sizes are the backend's to check.
func CheckOp(op Op) error {
	if op.Kind == 0 || int(op.Kind) >= len(opNames) {
		return fmt.Errorf("backend: pipeline: unknown operation %v on key %q", op.Kind, op.Key)
	}
	if op.Key == "" {
		return fmt.Errorf("backend: pipeline %v: %w", op.Kind, ErrInvalidKey)
	}
	switch op.Kind {
	case OpSet, OpExpire, OpIncr:
		if err := CheckTTL(op.TTL); err != nil {
			return fmt.Errorf("backend: pipeline %v %q: %w", op.Kind, op.Key, err)
		}
	}
	return nil
}

// Pipeline runs ops through b's [Pipeliner] capability, in one round trip
// per node. A backend without it gets the fallback: every op is checked
// with [CheckOp] first (an invalid op runs nothing), then the ops run one
// at a time, in order, through the single-key methods and the capability
// helpers ([Incr], [Expire], [TTL], [Persist]; an op whose capability is
// missing fails with errors.ErrUnsupported). A context that ends fails the
// remaining ops without running them.
//
// The error is non-nil only when nothing ran; each op's outcome is in its
// [Result].
func Pipeline(ctx context.Context, b Backend, ops []Op) ([]Result, error) {
	for _, op := range ops {
		if err := CheckOp(op); err != nil {
			return nil, err
		}
	}
	if p, ok := b.(Pipeliner); ok {
		return p.Pipeline(ctx, ops)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Result, len(ops))
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			out[i].Err = err
			continue
		}
		out[i] = runOp(ctx, b, op)
	}
	return out, nil
}

// runOp runs one op through the single-key API.
func runOp(ctx context.Context, b Backend, op Op) Result {
	var r Result
	switch op.Kind {
	case OpGet:
		r.Value, r.Err = b.Get(ctx, op.Key)
		if r.Err == nil && r.Value == nil {
			r.Value = []byte{}
		}
	case OpSet:
		r.Err = b.Set(ctx, op.Key, op.Value, op.TTL)
	case OpDelete:
		r.Err = b.Delete(ctx, op.Key)
	case OpIncr:
		r.N, r.Err = Incr(ctx, b, op.Key, op.Delta, op.TTL)
	case OpExpire:
		r.Err = Expire(ctx, b, op.Key, op.TTL)
	case OpTTL:
		r.TTL, r.Err = TTL(ctx, b, op.Key)
	case OpPersist:
		r.Err = Persist(ctx, b, op.Key)
	}
	return r
}
