package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cachekit/cachekit/memo"
)

// originError carries a 5xx response turned into an error so that memo
// serves the stale entry (stale-if-error); when it does not, the response
// itself is sent.
type originError struct{ e *entry }

func (o *originError) Error() string {
	return fmt.Sprintf("middleware: origin answered %d", o.e.Status)
}

var errNotCached = errors.New("middleware: only-if-cached and not cached")

// conditionalFields are stripped from the request a fetch sends to the
// handler: its response is shared, so it must be complete; the cache
// answers the client's conditions itself.
var conditionalFields = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}

// fetch is the memo fetch of one key (the primary, or a variant of index):
// it runs the handler on a recorder and turns what it recorded into a
// memo result: stored and shared, served but not stored, or streamed.
func (cl *call) fetch(ctx context.Context, stale *memo.Entry[*entry], index *entry) (memo.Result[*entry], error) {
	c := cl.c
	prev := staleResponse(stale)
	req, cancel, stop := cl.request(ctx, prev)
	defer stop()
	cl.setFwd(stale, index)
	rec := &recorder{cl: cl, cancel: cancel, head: cl.r.Method == http.MethodHead, header: http.Header{}, max: c.o.MaxBodySize}
	b := cl.fetchBudget()
	bctx, bcancel := b.ctx(ctx)
	purge := c.purgeSnapshot(bctx) // see storeTags
	bcancel()
	reqTime := c.o.Now()
	defer cl.release(rec)
	t0 := time.Now()
	cl.render(rec, req)
	b.exclude(time.Since(t0))
	ctx, bcancel = b.ctx(ctx)
	defer bcancel()
	respTime := c.o.Now()
	if rec.unrecorded() {
		if (rec.stream || rec.hijacked) && index == nil {
			cl.markPass(ctx) // a streamed (over-cap, flushed) or hijacked response
		}
		return memo.Result[*entry]{Private: true}, nil
	}
	if err := rec.complete(req.Context()); err != nil {
		return memo.Result[*entry]{}, err
	}
	e, p := cl.entryOf(rec, prev, reqTime, respTime)
	if e.Status >= 500 && prev != nil && stale.Expires.Add(time.Duration(prev.StaleIfError)).After(c.o.Now()) {
		return memo.Result[*entry]{}, &originError{e}
	}
	return cl.resultOf(ctx, e, p, index, purge), nil
}

// fetchBudget is the backend budget of a fetch: what this caller's lookup
// left when the fetch runs in its foreground, a full one when it runs for
// others (a background refresh).
func (cl *call) fetchBudget() *budget {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state == writerOpen && !cl.fetched {
		cl.fetched = true
		return newBudget(cl.c.budget, cl.sinceStart())
	}
	return newBudget(cl.c.budget, 0)
}

// staleResponse is the stored response a fetch may revalidate, or nil.
func staleResponse(stale *memo.Entry[*entry]) *entry {
	if stale != nil && stale.Value != nil && !stale.Value.Index && !stale.Value.Pass {
		return stale.Value
	}
	return nil
}

// request builds the request the handler sees: a GET without the client's
// conditions and unkeyed fields, made conditional on prev's validators.
//
// The handler is bounded by memo's load timeout (ctx) while its response
// is being recorded; once it streams to its own client (past MaxBodySize,
// a Flush), it lives as long as that client does (the claim cancels it
// when the client leaves), so a long download is not cut at the load
// timeout. stop releases the request's context.
func (cl *call) request(ctx context.Context, prev *entry) (req *http.Request, cancel context.CancelFunc, stop func()) {
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopTimeout := context.AfterFunc(ctx, func() {
		cl.mu.Lock()
		streaming := cl.state == writerClaimed
		cl.mu.Unlock()
		if !streaming {
			cancel()
		}
	})
	req = cl.r.Clone(hctx)
	req.Method = http.MethodGet
	for _, f := range conditionalFields {
		req.Header.Del(f)
	}
	cl.c.stripUnkeyed(req.Header)
	if prev != nil {
		if et := prev.Header.Get("Etag"); et != "" {
			req.Header.Set("If-None-Match", et)
		}
		if lm := prev.Header.Get("Last-Modified"); lm != "" {
			req.Header.Set("If-Modified-Since", lm)
		}
	}
	return req, cancel, func() { stopTimeout(); cancel() }
}

// setFwd records, for Cache-Status, why this caller's fetch ran.
func (cl *call) setFwd(stale *memo.Entry[*entry], index *entry) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.state != writerOpen {
		return
	}
	switch {
	case stale != nil && stale.Value != nil && !stale.Value.Index:
		cl.fwd = "stale"
	case index != nil:
		cl.fwd = "vary-miss"
	default:
		cl.fwd = "uri-miss"
	}
	if cl.pass != nil {
		cl.fwd += "; detail=uncacheable"
	}
}

// release hands the client writer back once a fetch that streamed to it
// is done.
func (cl *call) release(rec *recorder) {
	if rec.stream {
		cl.mu.Lock()
		close(cl.done)
		cl.mu.Unlock()
	}
}

// render runs the handler on rec.
func (cl *call) render(rec *recorder, req *http.Request) {
	cl.next.ServeHTTP(rec, req)
	if !rec.wrote && !rec.hijacked {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.stream && !rec.sentHead && !rec.hijacked {
		rec.sendHead()
	}
}

// entryOf builds the entry for a recorded response (merged into prev for
// a 304) and the storage policy for it.
func (cl *call) entryOf(rec *recorder, prev *entry, reqTime, respTime time.Time) (*entry, policy) {
	cl.setFwdStatus(rec.status)
	e := &entry{Status: rec.status, Header: storedHeader(rec.header), Body: slices.Clip(rec.body)}
	if rec.status == http.StatusNotModified && prev != nil && prev.validators() {
		if rec.header.Get("Date") == "" {
			// An in-process handler does not set Date (net/http adds it on
			// the wire): the 304 was generated now, and the merged entry
			// must not keep the old Date (RFC 9111 §4.3.4 freshening).
			rec.header.Set("Date", respTime.UTC().Format(http.TimeFormat))
		}
		e = merge304(prev, rec.header)
		cl.setFwdStatus(http.StatusNotModified)
	}
	if e.Header.Get("Date") == "" {
		e.Header["Date"] = []string{respTime.UTC().Format(http.TimeFormat)}
	}
	p := cl.c.decide(cl.r, e.Status, e.Header, reqTime, respTime)
	e.ResponseTime = respTime.UnixNano()
	e.InitialAge = int64(p.initialAge)
	e.Lifetime = int64(p.lifetime)
	e.StaleIfError = int64(p.sie)
	e.AuthOK = p.authOK
	return e, p
}

// resultOf turns a response and its policy into the memo result: private
// when it may not be stored, else stored with its freshness, tags and
// (at the primary key of a Vary response) as a new vary index.
func (cl *call) resultOf(ctx context.Context, e *entry, p policy, index *entry, purge purgeMark) memo.Result[*entry] {
	c := cl.c
	private := memo.Result[*entry]{Value: e, Private: true}
	if !p.store {
		if index == nil && passWorthy(p.why) {
			cl.markPass(ctx)
		}
		return private
	}
	vary, _ := parseVary(e.Header.Values("Vary"))
	if index != nil && !slices.Equal(vary, index.Vary) {
		cl.mu.Lock()
		cl.staleIndex = true
		cl.mu.Unlock()
		return private
	}
	res := memo.Result[*entry]{Value: e, TTL: p.lifetime - p.initialAge, StaleWhileRevalidate: p.swr, StaleIfError: p.sie}
	if e.validators() {
		res.Retain = c.o.KeepForRevalidation
	}
	if res.TTL <= 0 {
		res.TTL = time.Nanosecond // stale on arrival: kept only to revalidate
	}
	if !c.storeTags(ctx, cl.key, e, &res, purge) {
		return private
	}
	if index == nil && len(vary) > 0 {
		return cl.newIndex(ctx, e, res, vary)
	}
	if index != nil && !cl.codingFits(ctx, e, index) {
		return private
	}
	if index != nil && !c.variantAllowed(ctx, cl.key, index.Gen, cl.fkey) {
		return private
	}
	return res
}

// codingsOfKey returns the codings the request's variant key of index was
// normalised to (nil: the raw Accept-Encoding, or no Accept-Encoding).
func (cl *call) codingsOfKey(index *entry) []string {
	vals, present := cl.r.Header["Accept-Encoding"]
	if !present || !slices.Contains(index.Vary, "Accept-Encoding") {
		return nil
	}
	acc, _ := acceptedCodings(vals, index.Codings)
	return acc
}

// codingFits reports whether e may be stored under this request's variant
// key of index: when the key stands for a set of accepted codings, e's own
// coding must be one of them. A coding the index does not know yet makes a
// new index that knows it (and e is not stored under the old one).
func (cl *call) codingFits(ctx context.Context, e *entry, index *entry) bool {
	if !slices.Contains(index.Vary, "Accept-Encoding") {
		return true
	}
	coding := contentCoding(e.Header.Get("Content-Encoding"))
	if codings, added := withCoding(index.Codings, coding); added {
		// A new index generation: the old one's variants were keyed
		// without this coding. It orphans them (once per new coding), and
		// an index written back after an invalidation brings no variant
		// back with it.
		idx := &entry{Index: true, Vary: index.Vary, Gen: rand.Uint64(), Codings: codings}
		_ = cl.c.resp.Put(ctx, cl.key, memo.Result[*entry]{Value: idx, TTL: indexTTL})
		return false
	}
	acc := cl.codingsOfKey(index)
	return acc == nil || slices.Contains(acc, coding)
}

// newIndex makes the primary key a vary index; the response goes to its
// variant, stored before the index is published so that callers coalesced
// on the index find it.
func (cl *call) newIndex(ctx context.Context, e *entry, res memo.Result[*entry], vary []string) memo.Result[*entry] {
	c := cl.c
	idx := &entry{Index: true, Vary: vary, Gen: rand.Uint64()}
	if slices.Contains(vary, "Accept-Encoding") {
		idx.Codings = []string{contentCoding(e.Header.Get("Content-Encoding"))}
	}
	vk := variantKey(cl.key, idx.Gen, vary, idx.Codings, cl.r.Header)
	if _, present := cl.r.Header["Accept-Encoding"]; present && idx.Codings != nil &&
		!slices.Contains(cl.codingsOfKey(idx), idx.Codings[0]) {
		// The response's coding is not one the request accepts (the
		// handler ignored Accept-Encoding): remember no codings.
		idx.Codings = nil
		vk = variantKey(cl.key, idx.Gen, vary, nil, cl.r.Header)
	}
	if c.variantAllowed(ctx, cl.key, idx.Gen, vk) {
		_, _, _ = c.vars.Fetch(ctx, vk, func(context.Context, *memo.Entry[*entry]) (memo.Result[*entry], error) { return res, nil })
	}
	cl.mu.Lock()
	cl.own = e
	cl.mu.Unlock()
	return memo.Result[*entry]{Value: idx, TTL: max(indexTTL, res.TTL+res.Retain+res.StaleWhileRevalidate+res.StaleIfError)}
}

// indexTTL is the least lifetime of a vary index.
const indexTTL = 24 * time.Hour

func (cl *call) setFwdStatus(s int) {
	cl.mu.Lock()
	if cl.state == writerOpen {
		cl.fwdStatus = s
	}
	cl.mu.Unlock()
}

// variantAllowed counts a new variant of primary and reports whether it is
// within MaxVariants. Backends without counters are not limited.
func (c *Cache) variantAllowed(ctx context.Context, primary string, gen uint64, variant string) bool {
	// Count each distinct variant once (a refresh of a variant is not a new
	// one): a per-variant marker counts the first store, and remembers a
	// variant refused at the cap so that it stays refused.
	const refused = 1 << 40
	sum := sha256.Sum256([]byte(primary))
	vsum := sha256.Sum256([]byte(variant))
	seen, err := c.resp.Incr(ctx, fmt.Sprintf("variant:%x", vsum[:12]), 1, indexTTL)
	if err != nil {
		return true // fail open: the cap is a safety net, not a correctness rule
	}
	if seen > 1 {
		return seen < refused
	}
	n, err := c.resp.Incr(ctx, fmt.Sprintf("variants:%s:%x", hex.EncodeToString(sum[:12]), gen), 1, indexTTL)
	if err != nil || n <= int64(c.o.MaxVariants) {
		return true
	}
	_, _ = c.resp.Incr(ctx, fmt.Sprintf("variant:%x", vsum[:12]), refused, indexTTL)
	return false
}

// parseTags splits a tag header on commas and whitespace.
func parseTags(lines []string) []string {
	var tags []string
	for _, l := range lines {
		for t := range strings.FieldsFuncSeq(l, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if len(t) <= 256 && len(tags) < 64 && !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
