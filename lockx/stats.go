package lockx

import (
	"sync/atomic"
	"time"
)

// Stats counts what a [Locker] did since it was created, for metrics
// (extra/prometheus and extra/otel export them). All counters only grow.
type Stats struct {
	Acquired  uint64        // locks granted by Lock, TryLock, TryAcquire and Do
	Contended uint64        // attempts that found the lock held elsewhere
	Waits     uint64        // Lock calls that had to retry at least once
	WaitTime  time.Duration // total time Lock calls spent waiting between attempts
	Failed    uint64        // Lock and TryLock calls that returned an error (held, ctx, quorum)
	Lost      uint64        // held locks that ended other than by Unlock (see ErrLost)
}

type lockStats struct {
	acquired, contended, waits, failed, lost atomic.Uint64
	waitNanos                                atomic.Int64
}

// Stats returns a snapshot of the Locker's counters. It is safe for
// concurrent use and cheap (a few atomic loads).
func (l *Locker) Stats() Stats {
	s := &l.stats
	return Stats{
		Acquired:  s.acquired.Load(),
		Contended: s.contended.Load(),
		Waits:     s.waits.Load(),
		WaitTime:  time.Duration(s.waitNanos.Load()),
		Failed:    s.failed.Load(),
		Lost:      s.lost.Load(),
	}
}
