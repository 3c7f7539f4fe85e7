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
// topology did not lead anywhere else. See [New].
var ErrReadOnly = errors.New("goredis: server is a read-only replica (a demoted primary?)")

// readOnlyGuard is the process hook [New] installs on a standalone or
// Sentinel failover *redis.Client. go-redis retries a READONLY reply like
// a timeout, up to MaxRetries times (4 sends by default) on connections
// to the same demoted server. The guard sends each command with go-redis'
// retries turned off and applies the same retry policy itself, except
// that READONLY is retried once — after go-redis has dropped the
// connection that answered it, so the retry dials afresh (a failover
// client asks Sentinel for the current primary when it dials) — and then
// surfaced as [ErrReadOnly].
type readOnlyGuard struct {
	maxRetries             int
	minBackoff, maxBackoff time.Duration
}

// guarded holds the clients that already have a readOnlyGuard, so two
// Backends over one client do not stack two guards. Its keys are weak
// pointers, removed when their client is garbage collected.
var guarded sync.Map // weak.Pointer[redis.Client] → struct{}

// guardReadOnly installs a readOnlyGuard on c, once per client.
func guardReadOnly(c *redis.Client) {
	key := weak.Make(c)
	if _, dup := guarded.LoadOrStore(key, struct{}{}); dup {
		return
	}
	runtime.AddCleanup(c, func(k weak.Pointer[redis.Client]) { guarded.Delete(k) }, key)
	o := c.Options()
	c.AddHook(&readOnlyGuard{maxRetries: o.MaxRetries, minBackoff: o.MinRetryBackoff, maxBackoff: o.MaxRetryBackoff})
}

// sendOnce hides a command's retries from go-redis: the guard decides.
type sendOnce struct{ redis.Cmder }

func (sendOnce) NoRetry() bool { return true }

func (*readOnlyGuard) DialHook(next redis.DialHook) redis.DialHook { return next }

func (*readOnlyGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (g *readOnlyGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if blocking(cmd.Name()) {
			return next(ctx, cmd) // go-redis' timeout rules for blocking commands
		}
		readOnly := false
		for attempt := 0; ; attempt++ {
			err := next(ctx, sendOnce{cmd})
			switch {
			case err == nil:
				return nil
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
