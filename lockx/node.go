package lockx

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	rsredis "github.com/go-redsync/redsync/v4/redis"
)

// Key suffixes. The lock key ends in the "{name}" hash tag, so every key
// derived from it shares its Cluster slot and one script can touch them
// all.
const (
	// fenceSuffix turns a lock key into its fencing counter's key.
	fenceSuffix = ":fence"
	// abandonSuffix, followed by an attempt's value, names the marker that
	// the release of an abandoned attempt leaves when it finds nothing to
	// delete (see abandonScript).
	abandonSuffix = ":abandoned:"
	// waitedSuffix turns a lock key into its waited mark's key: set by a
	// refused attempt of TryAcquire or TryAcquireGet over one node (see
	// tryScript).
	waitedSuffix = ":waited"
)

// fenceTTL is how long a fence counter outlives the last grant that used
// it. After it expires, the next grant mints a token from the server clock
// again; see the package documentation for the guarantee.
const fenceTTL = 24 * time.Hour

// acquireScript is the grant: SET NX PX, unless the release of this very
// attempt (ARGV[1] is the attempt's value) has already run and left its
// marker KEYS[3] (see abandonScript). When ARGV[4] is "1" (a lock whose
// token the caller can see), the same atomic step mints the fencing
// token: the server clock in microseconds, or one more than the counter
// KEYS[2] when the clock has not moved past it. The counter keeps its
// value for ARGV[3] ms after the grant. A retried send of the same attempt
// finds its own grant and returns its token. The reply is 0 when the lock
// was not granted, the token (or 1 without fencing) when it was.
var acquireScript = newScript(3, `
if redis.call('EXISTS', KEYS[3]) == 1 then
	return 0
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	if ARGV[4] ~= '1' then
		return 1
	end
	local t = redis.call('TIME')
	local tok = tonumber(t[1]) * 1000000 + tonumber(t[2])
	local last = tonumber(redis.call('GET', KEYS[2]) or '0')
	if tok <= last then
		tok = last + 1
	end
	redis.call('SET', KEYS[2], string.format('%d', tok), 'PX', ARGV[3])
	return tok
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
	if ARGV[4] ~= '1' then
		return 1
	end
	return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return 0
`)

// tryScript is the grant of [Locker.TryAcquire] and
// [Locker.TryAcquireGet] over one node: acquireScript without a fencing
// token (KEYS[1] the lock, KEYS[2] the attempt's abandon marker, ARGV[1]
// the attempt's value, ARGV[2] the lease in ms), which also keeps the
// lock's waited mark KEYS[3]. A refusal because another holder has the
// lock sets the mark, for as long as a lease (ARGV[2] ms: the mark never
// outlives a lock granted now). A grant keeps a mark left from an
// earlier holder (one whose release did not run: it died, or lost the
// lock): the attempts that earlier holder refused are still waiting for
// the key's value, which the new holder now brings, so its release must
// see them (a mark that is not this holder's costs one message at most).
// The reply is 1 when the lock was granted (or this
// attempt's grant was already there), 0 when it was not.
var tryScript = newScript(3, `
if redis.call('EXISTS', KEYS[2]) == 1 then
	return 0
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return 1
end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
return 0
`)

// releaseWaitedScript is deleteScript for a lock granted by tryScript: it
// deletes the lock KEYS[1] held with value ARGV[1] and, in the same step,
// its waited mark KEYS[2]. It returns 2 if it deleted the lock and the
// mark was there (an attempt was refused while the lock was held), 1 if it
// deleted the lock and there was no mark, 0 if another owner holds the
// lock, -1 if it is gone (the mark is then left to its expiry: it may be
// the next holder's).
var releaseWaitedScript = newScript(2, `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1 + redis.call('DEL', KEYS[2])
elseif v == false then
	return -1
end
return 0
`)

// raiseScript lifts a node's fence counter to ARGV[2] while the lock is
// still held with value ARGV[1] (Redlock token propagation), keeping it
// for ARGV[3] ms.
var raiseScript = newScript(2, `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if last < tonumber(ARGV[2]) then
	redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return 1
`)

// abandonScript releases an attempt that lockx gave up on (it failed, or
// the caller's context ended while it was in flight): it deletes the lock
// if it holds the attempt's value ARGV[1]. Otherwise the grant may still
// be on its way (a frozen server answers commands in an order lockx does
// not control), so it leaves the marker KEYS[2] for ARGV[2] ms, and
// acquireScript refuses an attempt whose marker exists.
var abandonScript = newScript(2, `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 0
`)

func newScript(keys int, src string) *rsredis.Script {
	sum := sha1.Sum([]byte(src))
	return rsredis.NewScript(keys, src, hex.EncodeToString(sum[:]))
}

// redsyncPool is redsync's connection pool interface.
type redsyncPool = rsredis.Pool

// nodePool is one Redis node as redsync sees it. It wraps redsync's
// go-redis pool; when the context carries a recorder, connections record
// each node's reply so that lockx can mint tokens and tell "taken" from
// "unreachable" per node.
type nodePool struct {
	idx   int
	addr  string
	inner rsredis.Pool
}

func (p *nodePool) Get(ctx context.Context) (rsredis.Conn, error) {
	rec, _ := ctx.Value(recorderKey{}).(*recorder)
	if rec == nil {
		return p.inner.Get(ctx)
	}
	// In fail-fast mode redsync cancels its per-attempt context as soon as
	// the quorum is decided, cutting off the slower nodes mid-command: a
	// grant or the release of a partial grant would then be left behind
	// until its TTL, blocking every contender (Redlock split votes turn
	// into stalls). So each node's command runs on lockx's own context
	// (the caller's cancellation, redsync's deadline) and only ends on
	// completion or that deadline.
	var (
		cctx   context.Context
		cancel context.CancelFunc
	)
	if dl, ok := ctx.Deadline(); ok {
		cctx, cancel = context.WithDeadline(rec.ctx, dl)
	} else {
		cctx, cancel = context.WithCancel(rec.ctx)
	}
	c, err := p.inner.Get(cctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &nodeConn{Conn: c, idx: p.idx, rec: rec, cancel: cancel}, nil
}

type nodeConn struct {
	rsredis.Conn
	idx    int
	rec    *recorder
	cancel context.CancelFunc
}

// Close is called by redsync when the node's command is done.
func (c *nodeConn) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	return c.Conn.Close()
}

// SetNX is how redsync grants a lock on one node. lockx runs acquireScript
// instead, which also mints the fencing token when the lock has one.
func (c *nodeConn) SetNX(name, value string, expiry time.Duration) (bool, error) {
	if c.rec.kind != recAcquire {
		return c.Conn.SetNX(name, value, expiry)
	}
	c.rec.setValue(value)
	var ttl any
	if c.rec.ttlArg != nil && expiry == c.rec.ttl {
		ttl = c.rec.ttlArg
	} else {
		ttl = expiry.Milliseconds()
	}
	fenced := argUnfenced
	if c.rec.fenced {
		fenced = argFenced
	}
	fence, abandoned := derivedKeys(name, value)
	v, err := c.Conn.Eval(acquireScript, name, fence, abandoned, value, ttl, argFenceTTL, fenced)
	c.rec.set(c.idx, v, err)
	tok, _ := v.(int64)
	return err == nil && tok > 0, err
}

// Arguments of acquireScript that never change, boxed once (each boxing
// of a non-constant is an allocation per grant).
var (
	argFenceTTL any = fenceTTL.Milliseconds()
	argFenced   any = "1"
	argUnfenced any = "0"
)

// derivedKeys returns the fence counter key of the lock key name and the
// abandon marker of its attempt value, built in one allocation.
func derivedKeys(name, value string) (fence, abandoned string) {
	s := name + fenceSuffix + name + abandonSuffix + value
	n := len(name) + len(fenceSuffix)
	return s[:n], s[n:]
}

// markedKeys returns the waited mark key of the lock key name and the
// abandon marker of its attempt value, built in one allocation.
func markedKeys(name, value string) (waited, abandoned string) {
	s := name + waitedSuffix + name + abandonSuffix + value
	n := len(name) + len(waitedSuffix)
	return s[:n], s[n:]
}

// Eval runs redsync's extend and release scripts. During an acquisition
// the only script redsync sends is its cleanup of a failed attempt, which
// runs on the caller's context (so it is never sent once that context has
// ended) and does not know which nodes may still grant: lockx skips it and
// releases failed attempts itself (redisDriver.abandon).
func (c *nodeConn) Eval(script *rsredis.Script, keysAndArgs ...any) (any, error) {
	if c.rec.kind == recAcquire {
		return int64(0), nil
	}
	v, err := c.Conn.Eval(script, keysAndArgs...)
	c.rec.set(c.idx, v, err)
	return v, err
}

type recorderKey struct{}

// withRecorder attaches rec to ctx; node commands run on the returned
// context (see nodePool.Get).
func withRecorder(ctx context.Context, rec *recorder) context.Context {
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	rec.ctx = ctx
	return ctx
}

const (
	recAcquire = iota // record the grant replies (SetNX)
	recEval           // record script replies (extend, release, raise)
)

// recorder collects one reply per node. redsync's fail-fast mode may
// return before every node answered, so stragglers write under the mutex
// and readers take a snapshot.
type recorder struct {
	kind   int
	fenced bool            // recAcquire: mint a fencing token with the grant
	ttl    time.Duration   // recAcquire: the lease ...
	ttlArg any             // ... in ms, boxed once by the driver (nil: box it per grant)
	ctx    context.Context // lockx's context for the operation, set by withRecorder
	mu     sync.Mutex
	res    []nodeResult
	value  string // recAcquire: the attempt's value, as sent
}

// nodeResult is one node's reply: val > 0 means granted / extended /
// released (for a grant, val is the node's token); val ≤ 0 means the lock
// was not (or no longer) ours there.
type nodeResult struct {
	done bool
	val  int64
	err  error
}

func (r nodeResult) ok() bool { return r.done && r.err == nil && r.val > 0 }

func newRecorder(kind, nodes int) *recorder {
	return &recorder{kind: kind, res: make([]nodeResult, nodes)}
}

// setValue records the value an acquisition attempt sends (the same on
// every node).
func (r *recorder) setValue(v string) {
	r.mu.Lock()
	r.value = v
	r.mu.Unlock()
}

// attemptValue returns the value the attempt sent, or "" if no node was
// sent one.
func (r *recorder) attemptValue() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.value
}

// maxGranted returns the highest token among the nodes that granted.
func (r *recorder) maxGranted() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var tok int64
	for _, res := range r.res {
		if res.ok() {
			tok = max(tok, res.val)
		}
	}
	return tok
}

func (r *recorder) set(i int, v any, err error) {
	n, _ := v.(int64)
	r.mu.Lock()
	r.res[i] = nodeResult{done: true, val: n, err: err}
	r.mu.Unlock()
}

func (r *recorder) snapshot() []nodeResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.res)
}
