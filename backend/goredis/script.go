package goredis

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// noRetry wraps a command so go-redis never re-sends it. go-redis retries a
// command (up to MaxRetries, default 3) after a read timeout or a broken
// connection, when the command may already have run: one INCR whose reply
// was late left the counter at 4. Every go-redis client type (Client,
// ClusterClient, Ring, failover) consults the exported Cmder.NoRetry
// method before a retry, and still redirects on MOVED/ASK and replays a
// command that provably never reached the wire. Overriding NoRetry per
// command keeps one connection pool and works for every client type, where
// a second client with MaxRetries: -1 would double the connections and
// cannot be rebuilt faithfully from a Sentinel or Ring client.
type noRetry struct{ *redis.Cmd }

// NoRetry reports true: a sent command must not be sent again.
func (noRetry) NoRetry() bool { return true }

// script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not know it yet (NOSCRIPT: the script did not run, so the
// fallback is safe even for a non-idempotent script).
type script struct {
	src, sha string
	retry    bool // the script is idempotent: go-redis may re-send it
}

func newScript(src string, idempotent bool) *script {
	s := redis.NewScript(src)
	return &script{src: src, sha: s.Hash(), retry: idempotent}
}

// run runs the script on key with args and returns its reply.
func (s *script) run(ctx context.Context, c redis.UniversalClient, key string, args ...any) (any, error) {
	v, err := s.do(ctx, c, "evalsha", s.sha, key, args)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		v, err = s.do(ctx, c, "eval", s.src, key, args)
	}
	return v, err
}

func (s *script) do(ctx context.Context, c redis.UniversalClient, name, body, key string, args []any) (any, error) {
	a := make([]any, 0, 4+len(args))
	a = append(a, name, body, 1, key)
	a = append(a, args...)
	cmd := redis.NewCmd(ctx, a...)
	var err error
	if s.retry {
		err = c.Process(ctx, cmd)
	} else {
		err = c.Process(ctx, noRetry{cmd})
	}
	if err != nil {
		return nil, err
	}
	return cmd.Val(), nil
}
