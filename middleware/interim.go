package middleware

import "net/http"

// interim forwards a 1xx interim response (103 Early Hints, RFC 8297) the
// handler sends while its response is being recorded to the caller's
// client, when that client is still waiting for this fetch: never to a
// coalesced caller, after the caller has answered (a background refresh)
// or left. Interim responses are never stored. The handler's header at
// the time of the 1xx goes with it, as net/http does, and the client
// writer's header is then restored, so the final response carries only
// what the recorded (or cached) response says.
func (rec *recorder) interim(code int) {
	cl := rec.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state != writerOpen && cl.state != writerClaimed {
		return
	}
	h := cl.w.Header()
	saved := h.Clone()
	for k, v := range rec.header {
		h[k] = v
	}
	cl.w.WriteHeader(code)
	clear(h)
	for k, v := range saved {
		h[k] = v
	}
}

// isInterim reports a 1xx status the middleware forwards: all but 101,
// which only a hijacking handler (never recorded) may send.
func isInterim(code int) bool {
	return code >= 100 && code < 200 && code != http.StatusSwitchingProtocols
}
