package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cachekit/cachekit/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// result is what one run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command with args, stdin and $REDIS_URL set to redisURL
// (empty: unset).
func cli(t *testing.T, stdin, redisURL string, args ...string) result {
	t.Helper()
	var out, errw bytes.Buffer
	getenv := func(k string) string {
		if k == "REDIS_URL" {
			return redisURL
		}
		return ""
	}
	code := runContext(context.Background(), args, strings.NewReader(stdin), &out, &errw, getenv)
	r := result{code, out.String(), errw.String()}
	if os.Getenv("CLI_LOG") != "" {
		t.Logf("cachekit %v → %d\n%s%s", args, code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("cachekit %v printed a stack trace:\n%s", args, r.stderr)
	}
	return r
}

// want checks the exit status and that stdout+stderr contain each of
// subs.
func (r result) want(t *testing.T, code int, subs ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, s := range subs {
		if !strings.Contains(all, s) {
			t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	var out, errw bytes.Buffer
	if code := run(nil, &out, &errw); code != exitUsage || !strings.Contains(out.String(), "Usage:") {
		t.Errorf("run() = %d, %q; want usage and status 2", code, out.String())
	}
	cli(t, "", "", "help").want(t, exitOK, "Exit status")
	cli(t, "", "", "nope").want(t, exitUsage, `unknown command "nope"`)
	cli(t, "", "", "bench", "things").want(t, exitUsage, "bench codecs")
	cli(t, "", "", "keys", "-h").want(t, exitOK, "Usage: cachekit keys")
	cli(t, "", "", "keys", "--bogus").want(t, exitUsage, "flag provided but not defined")
	cli(t, "", "", "keys", "app").want(t, exitUsage, "no server")
	cli(t, "", "redis://127.0.0.1:1", "keys").want(t, exitUsage, "want NAMESPACE [PATTERN]")
}
