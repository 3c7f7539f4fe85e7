package lockx

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotObtained reports that the lock is held by someone else: a single
	// attempt ([Locker.TryLock]) found it taken, or [Locker.Lock] ran out of
	// [Options.Tries].
	ErrNotObtained = errors.New("lockx: lock not obtained")

	// ErrLost reports that a lock this process acquired is no longer held:
	// its lease expired, another holder took it over, its key was deleted
	// or evicted, a Redlock node restarted empty so that fewer than a quorum
	// of nodes still hold it, the watchdog could not extend it, or it
	// reached [Options.MaxHold]. Work protected by the lock must stop.
	ErrLost = errors.New("lockx: lock lost")

	// ErrQuorum reports that too few Redis nodes answered for an operation
	// to reach its quorum (one node for [New], a majority for [NewRedlock]).
	// It is returned wrapped in a [*QuorumError] that names the nodes.
	ErrQuorum = errors.New("lockx: quorum not reached")

	// ErrInvalidName reports an empty lock name.
	ErrInvalidName = errors.New("lockx: empty lock name")

	// ErrUnlocked is returned by [Lock.Unlock] and [Lock.Extend] after the
	// lock was already unlocked, and is [Lock.Err] after a clean Unlock.
	ErrUnlocked = errors.New("lockx: lock already unlocked")

	// ErrInvalidOptions is wrapped by every error that [New], [NewRedlock]
	// and [NewLocal] return for an invalid [Options] field.
	ErrInvalidOptions = errors.New("lockx: invalid options")

	// ErrEvictionPolicy is wrapped by the error [New] and [NewRedlock]
	// return, with [Options.StrictEviction], when a Redis server can evict
	// keys; the error names the servers and their policies.
	ErrEvictionPolicy = errors.New("lockx: lock store can evict keys")
)

// QuorumError reports that an operation on a lock failed because some
// Redis nodes did not answer (network errors, timeouts, a frozen or dead
// server) and the nodes that did were too few for the quorum. It unwraps to
// [ErrQuorum]; the per-node errors are in Errs.
type QuorumError struct {
	// Op is "acquire", "extend" or "release".
	Op string
	// Name is the lock name as given by the caller.
	Name string
	// Quorum is the number of nodes that must agree.
	Quorum int
	// Addrs are the addresses of the nodes that failed, in the order the
	// clients were given to [NewRedlock].
	Addrs []string
	// Errs holds the error of each node in Addrs, index for index.
	Errs []error
}

// Error implements error.
func (e *QuorumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lockx: %s %q: quorum of %d not reached; failed nodes:", e.Op, e.Name, e.Quorum)
	for i, a := range e.Addrs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s (%v)", a, e.Errs[i])
	}
	return b.String()
}

// Unwrap returns [ErrQuorum]. The node errors are deliberately not
// unwrapped: a node that timed out must not make the result look as if the
// caller's context had ended.
func (e *QuorumError) Unwrap() error { return ErrQuorum }

// ctxError is returned when the caller's context ended while waiting: it
// satisfies errors.Is for both the context error and the last attempt's
// error (usually ErrNotObtained or a *QuorumError).
type ctxError struct {
	op, name string
	ctx      error // context.Canceled or context.DeadlineExceeded
	last     error // may be nil
}

func (e *ctxError) Error() string {
	if e.last == nil {
		return fmt.Sprintf("lockx: %s %q: %v", e.op, e.name, e.ctx)
	}
	return fmt.Sprintf("lockx: %s %q: %v (last attempt: %v)", e.op, e.name, e.ctx, e.last)
}

func (e *ctxError) Unwrap() []error {
	if e.last == nil {
		return []error{e.ctx}
	}
	return []error{e.ctx, e.last}
}
