package middleware

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachekit/cachekit/memo"
)

var (
	errClientGone = errors.New("middleware: client went away")
	errTooLarge   = errors.New("middleware: response larger than MaxBodySize")
	// errIncomplete is a response the handler did not finish: cut off at
	// the load timeout, or with a body shorter or longer than its declared
	// Content-Length. It is never stored, and its clients get what they
	// would have got without the cache: a timeout, or an aborted response.
	errIncomplete = errors.New("middleware: incomplete response")
)

// States of a call's client writer.
const (
	writerOpen     = iota // nobody has written to the client yet
	writerClaimed         // a fetch is streaming to it
	writerServed          // the caller is writing a recorded response
	writerDetached        // the caller left; writes fail
)

// call is one request's state, shared between its ServeHTTP and the fetch
// functions it hands to memo (which may run on another goroutine: memo
// runs fetches detached, and a stale-while-revalidate refresh runs after
// the caller has answered).
type call struct {
	c    *Cache
	next http.Handler
	w    http.ResponseWriter
	r    *http.Request
	key  string      // primary key
	rd   *directives // the request's Cache-Control (shared noDirectives when absent)

	// Where the response was looked up: the primary key, or (index set)
	// a variant key in the variants cache.
	fkey  string
	index *entry

	pass    *entry // the hit-for-miss marker found at key, if any
	started int64  // when serve began (unix ns): the backend budget starts
	fetched bool   // a foreground fetch has taken the rest of the budget

	mu     sync.Mutex
	state  int
	done   chan struct{} // closed when the claiming fetch returns
	cancel context.CancelFunc

	// Set by this caller's own fetch in the foreground.
	own        *entry // the response behind an index this caller built
	fwd        string // "uri-miss", "vary-miss", "stale"
	fwdStatus  int
	staleIndex bool // a variant's Vary no longer matches its index
}

// cache is the memo cache of fkey.
func (cl *call) cache() *memo.Cache[*entry] {
	if cl.index != nil {
		return cl.c.vars
	}
	return cl.c.resp
}

// sinceStart is the time since serve began.
func (cl *call) sinceStart() time.Duration { return time.Duration(time.Now().UnixNano() - cl.started) }

func (cl *call) fwdOr(def string) string {
	if cl.fwd == "" {
		return def
	}
	return cl.fwd
}

// claim hands the client writer to a fetch that must stream (a body past
// MaxBodySize, a Flush, a Hijack). It fails when the caller is already
// answering (the fetch is a background refresh) or left.
func (cl *call) claim(cancel context.CancelFunc) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state != writerOpen {
		return false
	}
	cl.state = writerClaimed
	cl.done = make(chan struct{})
	cl.cancel = cancel
	return true
}

// recorder is the ResponseWriter a handler writes to inside a fetch: it
// records the response, up to MaxBodySize, and switches to streaming to
// the caller's client past it.
type recorder struct {
	cl       *call
	cancel   context.CancelFunc
	head     bool // the client asked for HEAD: send no body
	header   http.Header
	status   int
	wrote    bool
	body     []byte
	max      int
	stream   bool // the client writer is ours: pass everything through
	sentHead bool // status line and header sent to the client
	discard  bool // over the cap and cannot stream: fail writes
	flushed  bool
	hijacked bool
	failed   bool // a write to the client failed
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if rec.wrote || rec.hijacked {
		return
	}
	if code >= 100 && code < 200 {
		if isInterim(code) {
			rec.interim(code)
		}
		return
	}
	rec.status, rec.wrote = code, true
	if rec.stream {
		rec.sendHead()
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.hijacked {
		return 0, http.ErrHijacked
	}
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	switch {
	case rec.stream:
		return rec.clientWrite(p)
	case rec.discard:
		return 0, errTooLarge
	case len(rec.body)+len(p) > rec.max:
		if !rec.startStream() {
			rec.discard, rec.body = true, nil
			return 0, errTooLarge
		}
		return rec.clientWrite(p)
	}
	rec.body = append(rec.body, p...)
	return len(p), nil
}

// unrecorded reports a response that was not recorded whole: it streamed
// to the client, was hijacked, or was cut at MaxBodySize, or flushed.
func (rec *recorder) unrecorded() bool {
	return rec.stream || rec.hijacked || rec.discard || rec.flushed
}

// complete returns an errIncomplete error unless the recorded response is
// whole: the handler's context (ctx) was not cancelled while it ran, and
// the body matches a declared Content-Length.
func (rec *recorder) complete(ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: handler cut off: %w", errIncomplete, context.DeadlineExceeded)
	}
	if !bodyAllowed(rec.status) {
		return nil
	}
	if cl := rec.header.Values("Content-Length"); len(cl) > 0 {
		n, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64)
		if err != nil || n != int64(len(rec.body)) {
			return fmt.Errorf("%w: declared Content-Length %q, body of %d bytes", errIncomplete, cl[0], len(rec.body))
		}
	}
	return nil
}

// startStream claims the client writer and sends what was recorded.
func (rec *recorder) startStream() bool {
	if rec.stream {
		return true
	}
	if !rec.cl.claim(rec.cancel) {
		return false
	}
	rec.stream = true
	if rec.wrote {
		rec.sendHead()
	}
	if len(rec.body) > 0 {
		_, _ = rec.clientWrite(rec.body)
	}
	rec.body = nil
	return true
}

// sendHead sends the status and header to the client (once).
func (rec *recorder) sendHead() {
	if rec.sentHead {
		return
	}
	rec.sentHead = true
	rec.clientHeader(rec.status)
}

func (rec *recorder) clientHeader(code int) {
	cl := rec.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state != writerClaimed {
		return
	}
	h := cl.w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	if code >= 200 {
		cl.c.clientFields(h)
		h.Add("Cache-Status", cl.c.o.Name+"; fwd="+cl.fwdOr("uri-miss")+"; fwd-status="+strconv.Itoa(code))
	}
	cl.w.WriteHeader(code)
}

func (rec *recorder) clientWrite(p []byte) (int, error) {
	cl := rec.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state != writerClaimed {
		rec.failed = true
		return 0, errClientGone
	}
	if rec.head {
		return len(p), nil
	}
	n, err := cl.w.Write(p)
	if err != nil {
		rec.failed = true
	}
	return n, err
}

// Flush sends everything to the client: a flushed response is a stream,
// never stored. It implements http.Flusher.
func (rec *recorder) Flush() { _ = rec.FlushError() }

// FlushError is Flush reporting errors, for http.ResponseController.
func (rec *recorder) FlushError() error {
	rec.flushed = true
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	if !rec.startStream() {
		return nil // background refresh: nobody to flush to
	}
	cl := rec.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state != writerClaimed {
		return errClientGone
	}
	return http.NewResponseController(cl.w).Flush()
}

// Hijack hands the client's connection to the handler (http.Hijacker).
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if rec.stream || !rec.cl.claim(rec.cancel) {
		return nil, nil, http.ErrNotSupported
	}
	rec.stream = true
	conn, brw, err := http.NewResponseController(rec.cl.w).Hijack()
	if err == nil {
		rec.hijacked = true
	}
	return conn, brw, err
}

// Unwrap returns the client's ResponseWriter for http.ResponseController
// (deadlines, full duplex). The response then streams and is not stored.
func (rec *recorder) Unwrap() http.ResponseWriter {
	if !rec.startStream() {
		return nil
	}
	return rec.cl.w
}
