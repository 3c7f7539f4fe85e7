package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// newFlags returns a flag set for a command that writes its usage to
// stderr and reports errors instead of exiting.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: cachekit %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with flags anywhere among the positional
// arguments ("keys app --redis URL 'user:*'") and returns the positional
// ones. A parse error is a usage error; -h is flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, &codedError{err: err, kind: errUsage}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// connFlags are the flags of every command that talks to Redis.
type connFlags struct {
	url       string
	timeout   time.Duration
	nsVersion int
	progress  bool
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "redis", "", "server `URL`: redis://host:port, rediss://…, or comma-separated Cluster seeds (default $REDIS_URL)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "bound on each round trip to the server")
	fs.IntVar(&c.nsVersion, "ns-version", 1, "memo.Options.Version of the namespace")
	fs.BoolVar(&c.progress, "progress", false, "show progress bars even when stderr is not a terminal")
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, min, max int, synopsis string) error {
	if len(pos) < min || len(pos) > max {
		return usageErrorf("want %s, got %d argument(s): %s", synopsis, len(pos), strings.Join(quoteAll(pos), " "))
	}
	return nil
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// discard is where progress goes when it is off.
var discard io.Writer = io.Discard
