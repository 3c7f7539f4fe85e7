package memo

import "context"

// Waking the waiters of other processes. A caller refused the lock on a
// cold key waits for the holder's value to land (lockOrWait): woken by a
// "landed" message on the namespace channel, or by its own poll every
// PollInterval. A flight whose lock came from a plain Locker sends the
// message in its store's round trip, on every store: it cannot tell
// whether anyone waits, and the message wakes the subscriber of every
// process, this one included (O(processes) work per store). A GetLocker
// can tell: over one Redis server lockx marks the lock as waited on in the
// very script that refuses an attempt, and the holder's release reads and
// clears the mark in the script that deletes the lock. So a flight holding
// a GetLocker's lock stores without the message and, after its release
// (on a releaser, after the flight returned), publishes it only if the
// release says the lock was waited on — or cannot say (it failed, the
// lock was lost). An uncontended locked miss then sends no message.
//
// No waiter is missed: a caller refused at any time while the lock is
// held marks it before the release runs (both are scripts on one server,
// and the refusal came while the lock was still there), so the release
// sees the mark; a caller that tries after the release gets the lock, or
// reads the value (in the grant's round trip, or in its next poll). The
// message follows the store by the release's round trip, and the value is
// in the backend before either. A message that reaches the refused
// caller's process before the caller registers as a waiter is not lost
// either: the caller compares the process's count of wake-ups (Cache.wakes)
// from before its attempt with the count after it registered, and looks
// at once if they differ (TestWakeBeforeListening; that window was there
// before too, when the store sent the message). The mark lives as long
// as the lock (the holder's watchdog extends both), and a grant keeps a
// mark an earlier holder left (it died or lost the lock: its waiters now
// wait for the new holder). A caller whose mark was lost all the same (a
// GetLocker other than lockx's, a mark evicted) still polls: the worst
// case is latency, never a wrong value.

// lockHeld is the distributed lock a flight holds: exactly one of release
// (a Locker's) and releaseWaited (a GetLocker's, whose release reports
// whether the lock was waited on) is set.
type lockHeld struct {
	release       func(context.Context) error
	releaseWaited func(context.Context) (waited bool, err error)
}

// held reports whether h holds a lock.
func (h lockHeld) held() bool { return h.release != nil || h.releaseWaited != nil }

// quiet reports whether the store under h sends no "landed" message: the
// release says whether one is needed (see unlock).
func (h lockHeld) quiet() bool { return h.releaseWaited != nil }

// unlock releases h on ctx. A GetLocker's lock that was waited on (or may
// have been: the release failed) is followed by the "landed" message for
// the value the flight stored, or found in its re-check, under the lock
// (m.landed): the store did not send it.
func (m *miss[V]) unlock(ctx context.Context, h lockHeld) {
	if h.releaseWaited == nil {
		_ = h.release(ctx)
		return
	}
	waited, err := h.releaseWaited(ctx)
	if !m.landed || !(waited || err != nil) {
		return
	}
	// Not on ctx itself: the release may have used up its time (a
	// GetLocker may bound its release by a timeout of its own, as lockx
	// does: longer than BackendTimeout), and a release that got no answer
	// is just when the waiters need the message. publish bounds it by
	// BackendTimeout, as every backend call.
	m.c.publish(context.WithoutCancel(ctx), msgLanded, m.dataKey)
}
