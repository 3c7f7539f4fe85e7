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

// fenceSuffix turns a lock key into its fencing counter's key. The lock key
// ends in the "{name}" hash tag, so both keys share a Cluster slot and one
// script can touch both.
const fenceSuffix = ":fence"

// acquireScript is the grant: SET NX PX and, only if it succeeded, mint the
// fencing token in the same atomic step: INCR of the name's counter. A
// counter that did not exist (a new name, or a server that lost its data
// in a restart without persistence, or an evicted counter) is seeded from
// the server clock in microseconds, which is above every token minted
// before unless the clock went backwards (tokens advance by one per grant,
// far slower than the clock). A retried send of the same attempt (same
// value) finds its own grant and returns its token.
var acquireScript = newScript(2, `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	local tok = redis.call('INCR', KEYS[2])
	if tok == 1 then
		local t = redis.call('TIME')
		tok = tonumber(t[1]) * 1000000 + tonumber(t[2])
		redis.call('SET', KEYS[2], string.format('%d', tok))
	end
	return tok
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return 0
`)

// raiseScript lifts a node's fence counter to ARGV[2] while the lock is
// still held with value ARGV[1] (Redlock token propagation).
var raiseScript = newScript(2, `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if last < tonumber(ARGV[2]) then
	redis.call('SET', KEYS[2], ARGV[2])
end
return 1
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
	idx    int
	addr   string
	inner  rsredis.Pool
	single bool // the only node: no stragglers to detach
}

func (p *nodePool) Get(ctx context.Context) (rsredis.Conn, error) {
	rec, _ := ctx.Value(recorderKey{}).(*recorder)
	if rec == nil {
		return p.inner.Get(ctx)
	}
	if p.single {
		c, err := p.inner.Get(ctx)
		if err != nil {
			return nil, err
		}
		return &nodeConn{Conn: c, idx: p.idx, rec: rec}, nil
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
// instead, which also mints the fencing token.
func (c *nodeConn) SetNX(name, value string, expiry time.Duration) (bool, error) {
	if c.rec.kind != recAcquire {
		return c.Conn.SetNX(name, value, expiry)
	}
	v, err := c.Conn.Eval(acquireScript, name, name+fenceSuffix, value, expiry.Milliseconds())
	c.rec.set(c.idx, v, err)
	tok, _ := v.(int64)
	return err == nil && tok > 0, err
}

// Eval runs redsync's extend and release scripts (and, during an
// acquisition, its cleanup of partial grants, which is not recorded).
func (c *nodeConn) Eval(script *rsredis.Script, keysAndArgs ...any) (any, error) {
	v, err := c.Conn.Eval(script, keysAndArgs...)
	if c.rec.kind == recEval {
		c.rec.set(c.idx, v, err)
	}
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
	kind int
	ctx  context.Context // lockx's context for the operation, set by withRecorder
	mu   sync.Mutex
	res  []nodeResult
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
