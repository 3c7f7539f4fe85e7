package goredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
)

// ErrReadOnly is wrapped (with the server's reply) by the error of a
// command that a server answered READONLY twice: the server is a replica,
// typically a primary demoted by a failover, and the client's view of the
// topology did not lead anywhere else. Every write of the Backend on every
// client kind reports a READONLY reply with an error wrapping it. See
// [New].
var ErrReadOnly = errors.New("goredis: server is a read-only replica (a demoted primary?)")

// readOnlyGuard is the process hook [New] installs on a standalone or
// Sentinel failover *redis.Client and on a *redis.Ring. go-redis retries a
// READONLY reply like a timeout, up to MaxRetries times (4 sends by
// default) on connections to the same demoted server. The guard sends each
// write with go-redis' retries turned off and applies the same retry
// policy itself, except that READONLY is retried once — after go-redis
// has dropped the connection that answered it, so the retry dials afresh
// (a failover client asks Sentinel for the current primary when it
// dials) — and then surfaced as [ErrReadOnly].
//
// Pipelines get the same treatment: the commands answered READONLY (they
// did not run) are sent again once, in one pipeline, and then fail with
// [ErrReadOnly]; so are the reads queued after the first of them, whose
// replies came from the server that refused it (a read behind a write in
// a pipeline is one made after the write, on the server that ran it:
// lockx folds memo's re-check into a lock grant this way); the others
// keep their replies. go-redis drops a
// pipeline's connection only when its first reply is READONLY, so a
// pipeline that starts with a read may retry on the same demoted server
// and report ErrReadOnly where a fresh connection would have reached the
// new primary.
//
// Reads that a replica serves (GET, GETRANGE, EXISTS, …: readCommand; the
// Backend's read-only scripts) and blocking commands pass straight
// through, as do pipelines of reads only and transactions: the guard costs
// them a switch on the command name.
type readOnlyGuard struct {
	maxRetries             int
	minBackoff, maxBackoff time.Duration
}

// guarded holds the clients that already have a readOnlyGuard, so two
// Backends over one client do not stack two guards. Its keys are weak
// pointers (to a redis.Client or a redis.Ring), removed when their client
// is garbage collected.
var guarded sync.Map // weak.Pointer[C] → struct{}

// guardReadOnly installs a readOnlyGuard on c with addHook (c's AddHook),
// once per client, with c's retry settings.
func guardReadOnly[C any](c *C, addHook func(redis.Hook), maxRetries int, minBackoff, maxBackoff time.Duration) {
	key := weak.Make(c)
	if _, dup := guarded.LoadOrStore(key, struct{}{}); dup {
		return
	}
	runtime.AddCleanup(c, func(k weak.Pointer[C]) { guarded.Delete(k) }, key)
	addHook(&readOnlyGuard{maxRetries: maxRetries, minBackoff: minBackoff, maxBackoff: maxBackoff})
}

// sendOnce hides a command's retries from go-redis: the guard decides.
type sendOnce struct{ redis.Cmder }

func (sendOnce) NoRetry() bool { return true }

func (*readOnlyGuard) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *readOnlyGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !guards(cmd) {
			return next(ctx, cmd)
		}
		readOnly := false
		for attempt := 0; ; attempt++ {
			err := next(ctx, sendOnce{cmd})
			switch {
			case err == nil || err == redis.Nil:
				return err
			case redis.IsReadOnlyError(err):
				// The server refused the command before running it, so
				// one retry is safe even for a non-idempotent command.
				if readOnly {
					return fmt.Errorf("%w: %w", ErrReadOnly, err)
				}
				readOnly = true
			case cmd.NoRetry() || attempt >= g.maxRetries || !retryable(err):
				return err
			}
			if err := sleep(ctx, backoff(attempt+1, g.minBackoff, g.maxBackoff)); err != nil {
				return err
			}
		}
	}
}

func (g *readOnlyGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !pipelineGuards(cmds) {
			return next(ctx, cmds)
		}
		return g.pipeline(ctx, next, cmds)
	}
}

// pipeline runs cmds through next with go-redis' retries turned off: a
// batch whose error is retryable is sent again whole (go-redis' rule:
// only if no command is NoRetry, at most maxRetries times), and the
// commands answered READONLY are sent again once, with the reads queued
// after the first of them, then fail with ErrReadOnly.
func (g *readOnlyGuard) pipeline(ctx context.Context, next redis.ProcessPipelineHook, cmds []redis.Cmder) error {
	noRetry := false
	batch := make([]redis.Cmder, len(cmds))
	for i, cmd := range cmds {
		noRetry = noRetry || cmd.NoRetry()
		batch[i] = sendOnce{cmd}
	}
	readOnly := false
	for attempt := 0; ; attempt++ {
		err := next(ctx, batch)
		var refused, again []redis.Cmder
		for _, cmd := range batch {
			if e := cmd.Err(); e != nil && e != redis.Nil && redis.IsReadOnlyError(e) {
				refused = append(refused, cmd)
				again = append(again, cmd)
			} else if len(refused) > 0 && reads(cmd, cmd.Name()) {
				again = append(again, cmd) // read before what it follows ran
			}
		}
		switch {
		case len(refused) > 0 && readOnly:
			for _, cmd := range refused {
				cmd.SetErr(fmt.Errorf("%w: %w", ErrReadOnly, cmd.Err()))
			}
			return firstErr(cmds)
		case len(refused) > 0:
			readOnly = true
			batch = again
		case err == nil || noRetry || attempt >= g.maxRetries || !retryable(err):
			if e := firstErr(cmds); e != nil {
				return e
			}
			return err
		}
		if err := sleep(ctx, backoff(attempt+1, g.minBackoff, g.maxBackoff)); err != nil {
			for _, cmd := range batch {
				cmd.SetErr(err)
			}
			return err
		}
	}
}

// firstErr returns the first error of cmds other than redis.Nil, as
// go-redis' Exec does.
func firstErr(cmds []redis.Cmder) error {
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && err != redis.Nil {
			return err
		}
	}
	return nil
}

// guards reports whether the guard handles cmd: not a read a replica
// serves (it never answers READONLY), not a blocking command (whose
// timeouts follow go-redis' own rules), not an HIMPORT command (whose
// concrete type go-redis inspects, which the guard's wrapper would hide).
func guards(cmd redis.Cmder) bool {
	name := cmd.Name()
	return !reads(cmd, name) && !blocking(name) && !strings.HasPrefix(name, "himport")
}

// reads reports whether cmd, named name, only reads: a read command, or
// an EVALSHA of the Backend's read-only script (checkedGetScript).
func reads(cmd redis.Cmder, name string) bool {
	if name != "evalsha" {
		return readCommand(name)
	}
	args := cmd.Args()
	if len(args) < 2 {
		return false
	}
	sha, _ := args[1].(string)
	return sha == checkedGetScript.sha
}

// pipelineGuards reports whether the guard handles a pipeline: one with a
// command it guards, and not a transaction (MULTI … EXEC: a part of it
// cannot be sent again alone).
func pipelineGuards(cmds []redis.Cmder) bool {
	if len(cmds) == 0 || cmds[0].Name() == "multi" {
		return false
	}
	guarded := false
	for _, cmd := range cmds {
		name := cmd.Name()
		if strings.HasPrefix(name, "himport") {
			return false
		}
		guarded = guarded || !reads(cmd, name)
	}
	return guarded
}

// readCommand reports the common commands that only read: a replica
// serves them, so they never get READONLY. The list covers what the
// Backend reads with and the usual reads of a cache client; any other
// command goes through the guard, which is correct for a read too, only
// an allocation dearer.
func readCommand(name string) bool {
	switch name {
	case "get", "getrange", "mget", "exists", "strlen", "ttl", "pttl", "expiretime", "pexpiretime", "type",
		"scan", "hget", "hmget", "hgetall", "hexists", "hlen", "hscan", "smembers", "sismember", "scard",
		"sscan", "zscore", "zrange", "zcard", "zscan", "lrange", "llen", "lindex",
		"ping", "echo", "info", "time", "dbsize", "evalsha_ro", "eval_ro", "fcall_ro":
		return true
	}
	return false
}

// retryable is go-redis' rule for re-sending a command (shouldRetry),
// without READONLY, which the guard handles itself.
func retryable(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, redis.ErrPoolTimeout) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if redis.IsLoadingError(err) || redis.IsMasterDownError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMaxClientsError(err) || redis.IsNoReplicasError(err) {
		return true
	}
	return false
}

// blocking reports commands that block on the server; their timeouts
// follow go-redis' own rules, so the guard leaves them alone.
func blocking(name string) bool {
	switch strings.ToLower(name) {
	case "blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
		"xread", "xreadgroup", "wait", "waitaof":
		return true
	}
	return false
}

// backoff is go-redis' retry backoff: min << attempt with jitter, at most
// max.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	if lo <= 0 {
		return 0
	}
	d := lo << uint(attempt)
	if d < lo {
		return hi
	}
	d = lo + time.Duration(rand.Int64N(int64(d)))
	if d > hi || d < lo {
		d = hi
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
