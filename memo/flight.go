package memo

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// The per-key flights of this process: at most one load of a data key runs
// at a time, whoever started it. A Get (miss.join) leads a flight of one
// key; a GetMany (batch.go) leads one flight per key it loads, all
// finished by its one batch load. Either kind joins the other's flights, so
// a Get and a GetMany of the same cold key load it once.

// flightCall is one key's flight: done is closed once f and err are set.
type flightCall[V any] struct {
	done chan struct{}
	f    flight[V]
	err  error
}

// flights maps data keys to their flight in progress.
type flights[V any] struct {
	mu sync.Mutex
	m  map[string]*flightCall[V]
	// ended counts the flights that ended: a GetMany that saw it unchanged
	// across its backend read and its claims knows that no flight of this
	// process stored a key meanwhile, and loads without re-reading.
	ended atomic.Uint64
}

// join returns the flight of dataKey, starting one if there is none; lead
// says the caller started it and must finish it.
func (g *flights[V]) join(dataKey string) (call *flightCall[V], lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if call, ok := g.m[dataKey]; ok {
		return call, false
	}
	if g.m == nil {
		g.m = map[string]*flightCall[V]{}
	}
	call = &flightCall[V]{done: make(chan struct{})}
	g.m[dataKey] = call
	return call, true
}

// finish hands f and err to the callers of call and ends it: a caller that
// comes afterwards starts a new flight.
func (g *flights[V]) finish(dataKey string, call *flightCall[V], f flight[V], err error) {
	g.mu.Lock()
	if g.m[dataKey] == call {
		delete(g.m, dataKey)
	}
	g.mu.Unlock()
	call.f, call.err = f, err
	g.ended.Add(1)
	close(call.done)
}

// do runs fill as the flight call of dataKey and finishes the flight with
// its outcome. A panic (a loader's is already recovered by safely; this
// one would be memo's) becomes the flight's error: the waiters get a
// *PanicError instead of waiting forever, and the process does not crash.
func (g *flights[V]) do(dataKey string, call *flightCall[V], fill func() (flight[V], error)) {
	var f flight[V]
	var err error
	defer func() {
		if p := recover(); p != nil {
			f, err = flight[V]{}, &PanicError{Value: p, Stack: debug.Stack()}
		}
		g.finish(dataKey, call, f, err)
	}()
	f, err = fill()
}

// forget makes callers of dataKey that come from now on start a new flight
// instead of joining the one in progress (which still finishes for the
// callers it has).
func (g *flights[V]) forget(dataKey string) {
	g.mu.Lock()
	delete(g.m, dataKey)
	g.mu.Unlock()
}
