package memo

import "time"

// Kept goroutines for the work a miss hands off: a flight whose caller can
// leave (it runs while the caller waits on its own context) and a flight's
// unlock (not waited for: the value has landed, or the load failed, when
// the flight returns; a lock that is not released expires by itself). A
// new goroutine per hand-off grows its stack through the Redis client on
// every miss (copystack was about 6% of a locked miss's CPU); a kept one
// has grown it already. A job never waits behind another: it goes to an
// idle goroutine, or starts one.

// workerIdle is how long a kept goroutine waits for its next job.
const workerIdle = time.Second

// workers hands jobs to its idle goroutines.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only if a worker is idle
}

func newWorkers() workers { return workers{jobs: make(chan func())} }

// give hands job to an idle worker; false if none is idle.
func (w workers) give(job func()) bool {
	select {
	case w.jobs <- job:
		return true
	default:
		return false
	}
}

// work runs job, then the jobs given to it while idle, until it has been
// idle for workerIdle or done is closed. It is the body of a worker.
func (w workers) work(job func(), done <-chan struct{}) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(workerIdle)
		select {
		case job = <-w.jobs:
		case <-idle.C:
			return
		case <-done:
			return
		}
	}
}

// releaseLater runs a flight's unlock on a releaser, which Close waits
// for; when the Cache is closed (no background work) it runs it at once.
func (c *Cache[V]) releaseLater(unlock func()) {
	if c.releasers.give(unlock) {
		return
	}
	if !c.background(func() { c.releasers.work(unlock, c.closed) }) {
		unlock()
	}
}

// goFlight runs a flight on a kept goroutine. Close does not wait for
// flights (their callers do, each on its own context).
func (c *Cache[V]) goFlight(fly func()) {
	if !c.flyers.give(fly) {
		go c.flyers.work(fly, c.closed)
	}
}

// goRead runs a shared backend read on a kept goroutine. Close does not
// wait for reads (their callers do, each on its own context).
func (c *Cache[V]) goRead(read func()) {
	if !c.readers.give(read) {
		go c.readers.work(read, c.closed)
	}
}
