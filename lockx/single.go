package lockx

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"time"

	rsredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/redis/go-redis/v9"
)

// touchScript extends a lock held with value ARGV[1] to ARGV[2] ms: 1 if
// it did, 0 if the lock is not (or no longer) ours. It is redsync's
// extension script, which redisDriver runs on every Redlock node.
var touchScript = newScript(1, `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// touchWaitedScript is touchScript for a lock granted by tryScript: it
// also extends the lock's waited mark KEYS[2], if there is one, to the
// lock's new expiry, so that a caller refused while the lock was held
// still counts at the release after a hold longer than one lease (the
// mark had a lease from its refusal). A mark is never left without an
// expiry, nor made by the extension.
var touchWaitedScript = newScript(2, `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('PEXPIRE', KEYS[2], ARGV[2])
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// deleteScript deletes a lock held with value ARGV[1]: 1 if it did, 0 if
// another owner holds it, -1 if it is gone. It is redsync's release script.
var deleteScript = newScript(1, `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	return redis.call('DEL', KEYS[1])
elseif v == false then
	return -1
end
return 0
`)

// singleDriver is the Redis driver of a Locker over one node ([New], or
// [NewRedlock] with one client): a quorum of one. It sends each grant,
// extension and release as one script call on the caller's goroutine;
// redisDriver, through redsync, starts a goroutine per node for every
// command, which for one node is pure overhead (a fifth of the CPU of a
// memo miss with a Locker). The semantics are redisDriver's with one node:
// the same scripts, attempt timeout, validity after drift, abandon of a
// failed attempt, and verdicts (a node error is a *QuorumError, a refusal
// ErrNotObtained or ErrLost).
type singleDriver struct {
	client redis.UniversalClient
	addr   string
	ttl    time.Duration
	ttlArg any // ttl in ms, boxed once for the scripts

	pipes sync.Pool // of redis.Pipeliner, reused by grants with a folded read (runThenGet)
}

func newSingleDriver(client redis.UniversalClient, addr string, ttl time.Duration) *singleDriver {
	return &singleDriver{client: client, addr: addr, ttl: ttl, ttlArg: ttl.Milliseconds()}
}

// run sends script s by its SHA (EVALSHA), and by its source when the
// server does not have it cached (NOSCRIPT: a restart, SCRIPT FLUSH, a new
// Cluster node). A nil reply is not an error.
func (d *singleDriver) run(ctx context.Context, s *rsredis.Script, keys []string, args ...any) (int64, error) {
	v, err := d.client.EvalSha(ctx, s.Hash, keys, args...).Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = d.client.Eval(ctx, s.Src, keys, args...).Result()
	}
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	n, _ := v.(int64)
	return n, err
}

// failed is the verdict on an operation the node did not answer: with a
// quorum of one, the node that failed is the difference.
func (d *singleDriver) failed(op, name string, err error) error {
	return &QuorumError{Op: op, Name: name, Quorum: 1, Addrs: []string{d.addr}, Errs: []error{err}}
}

// validity returns the end of a lease of ttl granted or extended by a
// command sent at start and answered at now: what is left of ttl, less
// redsync's allowance for clock drift (1% of ttl).
func validity(ttl time.Duration, start, now time.Time) time.Time {
	return now.Add(ttl - now.Sub(start) - ttl/100)
}

func (d *singleDriver) acquire(ctx context.Context, name, key string, ttl time.Duration, fenced bool) (lease, error) {
	return d.acquireThen(ctx, name, key, ttl, fenced, false, nil)
}

// acquireThen is acquire, with two options of the one-node path. With
// marked (never with fenced: TryAcquire and TryAcquireGet), the attempt is
// tryScript's: a refusal marks the lock as waited on, and the lease's
// release reports and clears the mark (see singleLease.releaseWaited).
// With g (not nil), the read g is folded into the grant's round trip: g
// holds its outcome when the lock is granted (see runThenGet).
func (d *singleDriver) acquireThen(ctx context.Context, name, key string, ttl time.Duration, fenced, marked bool, g *foldedGet) (lease, error) {
	value := rand.Text()
	ttlArg := d.ttlArg
	if ttl != d.ttl {
		ttlArg = ttl.Milliseconds()
	}
	var (
		script         = acquireScript
		keys           []string
		args           []any
		waited, marker string
	)
	if marked {
		waited, marker = markedKeys(key, value)
		script, keys, args = tryScript, []string{key, marker, waited}, []any{value, ttlArg}
	} else {
		var fence string
		fence, marker = derivedKeys(key, value)
		fencedArg := argUnfenced
		if fenced {
			fencedArg = argFenced
		}
		keys, args = []string{key, fence, marker}, []any{value, ttlArg, argFenceTTL, fencedArg}
	}
	start := time.Now()
	actx, cancel := attemptContext(ctx, start, attemptTimeout(ttl))
	var (
		tok int64
		err error
	)
	if g == nil {
		tok, err = d.run(actx, script, keys, args...)
	} else {
		tok, err = d.runThenGet(actx, script, g, keys, args...)
	}
	now := time.Now()
	until := validity(ttl, start, now)
	granted := err == nil && tok > 0 && now.Before(until)
	if granted && g != nil {
		// Only the read that followed a grant is of use (and counted).
		g.value, g.err = g.read.Result(actx)
	}
	cancel()
	if granted {
		if !fenced {
			tok = 0
		}
		return &singleLease{d: d, name: name, key: key, waited: waited, value: value, ttl: ttl, ttlArg: ttlArg, tok: tok, exp: until}, nil
	}
	if err != nil || tok > 0 {
		// No answer (the grant may still land), or a grant that came too
		// late to be worth having.
		d.abandon(ctx, key, marker, value, ttl)
	}
	if err != nil {
		return nil, d.failed("acquire", name, err)
	}
	return nil, ErrNotObtained
}

// attemptContext bounds one attempt by timeout, unless ctx already ends
// sooner (a timer less per attempt; memo's default BackendTimeout is
// shorter than the attempt timeout).
func attemptContext(ctx context.Context, now time.Time, timeout time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && dl.Sub(now) <= timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// abandon releases an attempt that failed or that the caller gave up on,
// as redisDriver.abandon does for each node that did not refuse it: on a
// context detached from ctx's cancellation, bounded by unlockTimeout, and
// waited for no longer than ctx.
func (d *singleDriver) abandon(ctx context.Context, key, marker, value string, ttl time.Duration) {
	detached(ctx, func(rctx context.Context) {
		_, _ = d.run(rctx, abandonScript, []string{key, marker}, value, ttl.Milliseconds())
	})
}

// singleLease is a lock granted by a singleDriver. Calls are serialised by
// the owning Lock.
type singleLease struct {
	d      *singleDriver
	name   string
	key    string
	waited string // the waited mark's key, if the grant was tryScript's
	value  string
	ttl    time.Duration
	ttlArg any
	tok    int64
	exp    time.Time
}

func (l *singleLease) token() int64     { return l.tok }
func (l *singleLease) until() time.Time { return l.exp }

func (l *singleLease) extend(ctx context.Context) (time.Time, error) {
	start := time.Now()
	var (
		n   int64
		err error
	)
	if l.waited == "" {
		n, err = l.d.run(ctx, touchScript, []string{l.key}, l.value, l.ttlArg)
	} else {
		n, err = l.d.run(ctx, touchWaitedScript, []string{l.key, l.waited}, l.value, l.ttlArg)
	}
	if err != nil {
		return time.Time{}, l.d.failed("extend", l.name, err)
	}
	now := time.Now()
	until := validity(l.ttl, start, now)
	if n <= 0 || !now.Before(until) {
		// Gone or someone else's; or extended too late to count.
		return time.Time{}, ErrLost
	}
	l.exp = until
	return until, nil
}

func (l *singleLease) release(ctx context.Context) error {
	_, err := l.releaseWaited(ctx)
	return err
}

// releaseWaited is release, also reporting whether an attempt was refused
// while the lock was held (its waited mark was set, see tryScript), which
// it clears in the same step. A lease that keeps no mark (its grant was
// acquireScript's) reports true, as does a failed release: unknown means
// waited.
func (l *singleLease) releaseWaited(ctx context.Context) (waited bool, err error) {
	var n int64
	if l.waited == "" {
		n, err = l.d.run(ctx, deleteScript, []string{l.key}, l.value)
	} else {
		n, err = l.d.run(ctx, releaseWaitedScript, []string{l.key, l.waited}, l.value)
	}
	if err != nil {
		return true, l.d.failed("release", l.name, err)
	}
	if n <= 0 {
		return true, ErrLost
	}
	return l.waited == "" || n > 1, nil
}
