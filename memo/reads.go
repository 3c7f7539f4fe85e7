package memo

import (
	"sync"
	"sync/atomic"
)

// The backend reads of this process in progress, one per data key (see
// read): a caller that reads a key joins the read of it in progress, if
// there is one. It does what x/sync/singleflight does for read, without
// DoChan's goroutine, channel and result per call: a read runs on its
// first caller's goroutine when it can, and a channel is made only when a
// caller waits for another's read. (With DoChan a Redis-tier hit whose
// context can end cost 1.9-2.5x a raw GET + decode here; see
// benchmarks/README.md.)

// readCall is one backend read of a data key, shared by the callers of
// read that joined it.
type readCall struct {
	// raw, mark and err are the read's outcome: set before it ends (done
	// closed, or the caller that ran it returned).
	raw  []byte
	mark uint64 // landings.mark before the read started
	err  error
	// done is closed when the read ends; it is made when a caller that
	// waits for the read joins (under readGroup.mu), so a read that nobody
	// waited for makes none.
	done chan struct{}
	// ends is when the read ends at the latest (unix nanos; 0 until it
	// starts): a caller whose patience lasts longer needs no timer.
	ends atomic.Int64
	// ctx is the read's context when it needs one of its own (see
	// runRead): kept here, it costs no allocation.
	ctx valuesCtx
}

// readGroup maps data keys to their read in progress.
type readGroup struct {
	mu sync.Mutex
	m  map[string]*readCall
}

// join returns the read of dataKey in progress, or a new one that the
// caller must run and end (lead); wait says the caller waits for the read
// on call.done (a caller that runs it itself does not).
func (g *readGroup) join(dataKey string, wait bool) (call *readCall, lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if call = g.m[dataKey]; call != nil {
		if call.done == nil {
			call.done = make(chan struct{})
		}
		return call, false
	}
	if g.m == nil {
		g.m = map[string]*readCall{}
	}
	call = &readCall{}
	if wait {
		call.done = make(chan struct{})
	}
	g.m[dataKey] = call
	return call, true
}

// finish ends call, whose outcome is set: its waiters are woken, and a
// caller that comes afterwards starts a new read.
func (g *readGroup) finish(dataKey string, call *readCall) {
	g.mu.Lock()
	if g.m[dataKey] == call {
		delete(g.m, dataKey)
	}
	done := call.done
	g.mu.Unlock()
	if done != nil {
		close(done)
	}
}

// forget makes callers of dataKey that come from now on start a new read
// instead of joining the one in progress (which still ends for the
// callers it has).
func (g *readGroup) forget(dataKey string) {
	g.mu.Lock()
	delete(g.m, dataKey)
	g.mu.Unlock()
}
