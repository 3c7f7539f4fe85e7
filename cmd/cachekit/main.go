package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: it runs the command in args (without
// the program name) and returns the exit status. Tests call it.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, strings.NewReader(""), stdout, stderr, os.Getenv)
}

// env is what a command may use of the outside world.
type env struct {
	ctx    context.Context
	stdin  *bufio.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// commands maps a command path to its implementation.
var commands = map[string]func(*env, []string) error{
	"bench codecs": benchCodecs,
	"stats":        stats,
	"keys":         keysCmd,
	"get":          getCmd,
	"ttl":          ttlCmd,
	"expire":       expireCmd,
	"persist":      persistCmd,
	"purge":        purgeCmd,
}

const usage = `cachekit: benchmark codecs, inspect and purge a cachekit cache

Usage:
  cachekit bench codecs [--sample f.json|f.ndjson ...] [--svg out.svg] [--md out.md] [--json out.json] [--quick] [--time d]
  cachekit stats   [--sample n]
  cachekit keys    NAMESPACE [PATTERN] [--limit n]
  cachekit get     NAMESPACE KEY | --stored STOREDKEY
  cachekit ttl     NAMESPACE KEY
  cachekit expire  NAMESPACE KEY DURATION
  cachekit persist NAMESPACE KEY
  cachekit purge   --namespace N [--prefix P | --pattern G [--all]] | --tag T | --url U  [--dry-run] [--yes]

Every command but bench takes --redis URL (or $REDIS_URL): redis://[user:pass@]host:port[/db],
rediss:// for TLS, or a comma-separated list of Cluster seed URLs; a single URL
pointing at a Cluster node is detected. --timeout (default 5s) bounds each
round trip; --ns-version (default 1) is the memo.Options.Version of the namespace.
Run "cachekit COMMAND -h" for a command's flags.

Exit status: 0 ok, 1 failure (server unreachable, timed out, error),
2 usage (bad flag, URL or argument, unsafe pattern, not a cachekit key),
3 not found (namespace or key), 4 aborted at the confirmation prompt.
`

func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{ctx: ctx, stdin: bufio.NewReader(stdin), stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	name, rest := args[0], args[1:]
	if name == "bench" {
		if len(rest) == 0 || rest[0] != "codecs" {
			fmt.Fprintln(stderr, `cachekit: unknown bench target (want "bench codecs")`)
			return exitUsage
		}
		name, rest = "bench codecs", rest[1:]
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "cachekit: unknown command %q\n\n%s", name, usage)
		return exitUsage
	}
	err := cmd(e, rest)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "cachekit "+name+": "+err.Error())
	}
	return exitCode(err)
}
