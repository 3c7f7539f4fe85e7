package lockx

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Lock is one acquisition of a named lock, returned by [Locker.Lock] and
// [Locker.TryLock]. It is safe for concurrent use by the goroutines that
// share it; every acquisition gets its own Lock (a Lock cannot be locked
// again after [Lock.Unlock]).
//
// Unless the watchdog is disabled, it extends the lease every TTL/3 until
// Unlock, the loss of the lock, or [Options.MaxHold]. An extension that
// fails without proving the lock gone (slow or unreachable nodes) is
// retried until the lease's validity has passed. [Lock.Done] closes as
// soon as the lock is no longer known to be held.
type Lock struct {
	l        *Locker
	name     string
	tok      int64
	acquired time.Time
	until    atomic.Int64 // UnixNano of the end of validity

	mu       sync.Mutex // serialises lease calls; guards unlocked
	ls       lease
	unlocked bool

	// ctx is the lock's own lifetime (not a caller's context): cancelled,
	// with the reason as cause, when the lock is lost or unlocked.
	ctx    context.Context
	cancel context.CancelCauseFunc
	ended  atomic.Bool // set by the first end

	// Watchdog state. wmu is held for the whole of a tick.
	wmu        sync.Mutex
	timer      *time.Timer
	nextExtend time.Time
	failures   int // consecutive failed extensions
	stopped    atomic.Bool
	watchCtx   context.Context // cancelled by Unlock: aborts an in-flight extension
	stopWatch  context.CancelFunc
}

func newLock(l *Locker, name string, ls lease) *Lock {
	now := time.Now()
	lk := &Lock{l: l, name: name, tok: ls.token(), ls: ls, acquired: now, nextExtend: now.Add(l.cfg.ttl / 3)}
	lk.until.Store(ls.until().UnixNano())
	lk.ctx, lk.cancel = context.WithCancelCause(context.Background())
	lk.watchCtx, lk.stopWatch = context.WithCancel(context.Background())
	lk.wmu.Lock()
	lk.timer = time.AfterFunc(lk.nextTick(now), lk.tick)
	lk.wmu.Unlock()
	return lk
}

// end closes Done with cause. The first end that is not an Unlock counts
// the lock as lost in the Locker's [Stats].
func (lk *Lock) end(cause error) {
	if lk.ended.CompareAndSwap(false, true) && !errors.Is(cause, ErrUnlocked) {
		lk.l.stats.lost.Add(1)
	}
	lk.cancel(cause)
}

// Name returns the lock's name as given to [Locker.Lock].
func (lk *Lock) Name() string { return lk.name }

// Token returns the fencing token minted with this acquisition: strictly
// greater than the token of every earlier acquisition of the same name
// (within the limits described in the package documentation). Pass it to
// the protected resource, which must reject writes carrying a token lower
// than the highest it has seen.
func (lk *Lock) Token() int64 { return lk.tok }

// Until returns the end of the lease as known to this process, after
// allowing for the time the last grant or extension took and for clock
// drift. It moves forward with every successful extension.
func (lk *Lock) Until() time.Time { return time.Unix(0, lk.until.Load()) }

// Done returns a channel that is closed when the lock is no longer known to
// be held: it was lost (see [ErrLost]), its lease ran out without
// extension, it reached [Options.MaxHold], or it was unlocked.
func (lk *Lock) Done() <-chan struct{} { return lk.ctx.Done() }

// Err returns nil while [Lock.Done] is open, and afterwards why it closed:
// an error wrapping [ErrLost], or [ErrUnlocked] after a clean Unlock.
func (lk *Lock) Err() error {
	if lk.ctx.Err() == nil {
		return nil
	}
	return context.Cause(lk.ctx)
}

// Extend resets the lease to a full TTL from now, if the lock is still
// held. It returns an error wrapping [ErrLost] if the lock is gone (and
// then closes [Lock.Done]), a [*QuorumError] if too few nodes answered,
// [ErrUnlocked] after Unlock, and an error satisfying errors.Is(err,
// ctx.Err()) when ctx ended first. Extending never re-creates a lock key
// that has disappeared.
func (lk *Lock) Extend(ctx context.Context) error {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.unlocked {
		return ErrUnlocked
	}
	if err := lk.Err(); err != nil {
		return err
	}
	return lk.extendLocked(ctx)
}

func (lk *Lock) extendLocked(ctx context.Context) error {
	until, err := lk.ls.extend(ctx)
	if err != nil {
		if cerr := ctxEnded(ctx); cerr != nil {
			return &ctxError{op: "extend", name: lk.name, ctx: cerr, last: err}
		}
		if errors.Is(err, ErrLost) {
			err = fmt.Errorf("lockx: extend %q: %w", lk.name, err)
			lk.end(err)
		}
		return err
	}
	lk.until.Store(until.UnixNano())
	return nil
}

// ctxEnded returns ctx.Err(), or context.DeadlineExceeded once ctx's
// deadline has passed although its timer has not fired yet. A client
// built with ContextTimeoutEnabled reads with ctx's deadline as its
// socket deadline (or on a context derived from ctx, in redsync), and
// its timeout can come back first: ctx.Err() alone then misses that the
// caller's context ended.
func ctxEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// Unlock stops the watchdog — no extension is sent after Unlock returns —
// and releases the lock if it is still ours. It runs detached from ctx's
// cancellation (with ctx's values and a short timeout of its own), so an
// already-cancelled request context still releases the lock.
//
// It returns an error wrapping [ErrLost] if the lock had already been lost
// (another holder's lock is left untouched), a [*QuorumError] if too few
// nodes answered (the lease then runs out by itself), and [ErrUnlocked] if
// called again.
func (lk *Lock) Unlock(ctx context.Context) error {
	_, err := lk.unlockWaited(ctx)
	return err
}

// waitReporter is a lease whose release can tell whether an attempt was
// refused while it was held (singleLease).
type waitReporter interface {
	releaseWaited(ctx context.Context) (waited bool, err error)
}

// unlockWaited is Unlock, also reporting whether the lock was waited on:
// an attempt of TryAcquire or TryAcquireGet was refused while it was held
// (see tryScript). It is true when the lease cannot tell (Redlock, the
// local driver, a grant that keeps no mark) and whenever err is not nil.
func (lk *Lock) unlockWaited(ctx context.Context) (waited bool, err error) {
	lk.stopped.Store(true)
	lk.stopWatch()
	lk.wmu.Lock() // wait for a tick in progress
	lk.timer.Stop()
	lk.wmu.Unlock()
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.unlocked {
		return true, ErrUnlocked
	}
	lk.unlocked = true
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	waited = true
	if wr, ok := lk.ls.(waitReporter); ok {
		waited, err = wr.releaseWaited(rctx)
	} else {
		err = lk.ls.release(rctx)
	}
	lk.end(ErrUnlocked)
	if err != nil {
		return true, fmt.Errorf("lockx: unlock %q: %w", lk.name, err)
	}
	return waited, nil
}

// tick is the watchdog, run by lk.timer (no goroutine lives between
// ticks). It closes Done when the lease runs out, extends the lease every
// TTL/3 unless disabled, and gives up at MaxHold. An extension that fails
// without proving the lock gone (a timeout, a node error, too few nodes)
// is retried with backoff until the lease's validity has passed: a lock
// is lost only when its key is gone, held by another owner, or its
// validity is over. Unlock sets stopped, aborts an in-flight extension
// through watchCtx, and waits on wmu, so no tick does anything after
// Unlock returns.
func (lk *Lock) tick() {
	lk.wmu.Lock()
	defer lk.wmu.Unlock()
	if lk.stopped.Load() {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			lk.l.cfg.logger.Error("lockx: panic in watchdog", "lock", lk.name, "panic", r, "stack", string(debug.Stack()))
			lk.end(fmt.Errorf("%w: watchdog of %q panicked: %v", ErrLost, lk.name, r))
		}
	}()
	cfg := &lk.l.cfg
	now := time.Now()
	if until := lk.Until(); !now.Before(until) {
		lk.end(fmt.Errorf("%w: lease of %q ran out at %v without extension", ErrLost, lk.name, until.Format(time.StampMilli)))
		return
	}
	if cfg.maxHold > 0 && !now.Before(lk.acquired.Add(cfg.maxHold)) {
		lk.end(fmt.Errorf("%w: %q held for MaxHold (%v)", ErrLost, lk.name, cfg.maxHold))
		return
	}
	if cfg.watchdog && !now.Before(lk.nextExtend) {
		if hook := lk.l.testHookExtend; hook != nil {
			hook(lk)
		}
		// An extension may take as long as the lease has left: a slow
		// answer that still comes in time keeps the lock.
		err := lk.watchdogExtend(lk.Until().Sub(now))
		if lk.stopped.Load() {
			return // Unlock interrupted the extension
		}
		if lk.ctx.Err() != nil {
			return // the extension found the lock gone (extendLocked ended it)
		}
		now = time.Now()
		if err != nil {
			if until := lk.Until(); !now.Before(until) {
				lk.end(fmt.Errorf("%w: watchdog could not extend %q before its lease ran out at %v: %w", ErrLost, lk.name, until.Format(time.StampMilli), err))
				return
			}
			if lk.failures++; lk.failures == 1 {
				cfg.logger.Warn("lockx: watchdog extension failed; retrying until the lease runs out", "lock", lk.name, "until", lk.Until(), "err", err)
			}
			lk.nextExtend = now.Add(min(lk.l.backoff(lk.failures), cfg.ttl/3))
		} else {
			lk.failures = 0
			lk.nextExtend = now.Add(cfg.ttl / 3)
		}
	}
	lk.timer.Reset(lk.nextTick(now))
}

// nextTick returns the wait until the next watchdog event: the next
// extension, the end of the lease, or MaxHold, whichever comes first.
// Called with wmu held.
func (lk *Lock) nextTick(now time.Time) time.Duration {
	cfg := &lk.l.cfg
	next := lk.Until()
	if cfg.watchdog && lk.nextExtend.Before(next) {
		next = lk.nextExtend
	}
	if cfg.maxHold > 0 {
		if at := lk.acquired.Add(cfg.maxHold); !at.After(next) {
			next = at
		}
	}
	return next.Sub(now)
}

func (lk *Lock) watchdogExtend(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(lk.watchCtx, timeout)
	defer cancel()
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.unlocked {
		return ErrUnlocked
	}
	return lk.extendLocked(ctx)
}
