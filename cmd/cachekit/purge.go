package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/glob"
	"github.com/cachekit/cachekit/memo"
	"github.com/cachekit/cachekit/middleware"
)

// purgeFlags are the selections and safety switches of purge.
type purgeFlags struct {
	conn    connFlags
	ns      string
	prefix  string
	pattern string
	tags    multiFlag
	url     string
	all     bool
	dryRun  bool
	yes     bool
	set     map[string]bool // flags given on the command line
}

const purgeSynopsis = "purge --namespace N [--prefix P | --pattern G [--all]] | [--namespace http] (--tag T ... | --url U | --prefix https://host/path) [--dry-run] [--yes]"

// invalidateBatch is how many keys one Invalidate call writes tombstones
// for.
const invalidateBatch = 256

func purgeCmd(e *env, args []string) error {
	fs := newFlags(e, "purge", purgeSynopsis)
	var p purgeFlags
	p.conn.register(fs)
	fs.StringVar(&p.ns, "namespace", "", "memo namespace; alone: clear it in O(1) (one write); with --tag/--url: the middleware's namespace (default http)")
	fs.StringVar(&p.prefix, "prefix", "", "purge the keys of --namespace starting with this user-key prefix; an http(s):// URL prefix purges middleware responses")
	fs.StringVar(&p.pattern, "pattern", "", "purge the keys of --namespace whose user key matches this Redis glob")
	fs.Var(&p.tags, "tag", "purge middleware responses carrying this tag, in O(1) (repeatable)")
	fs.StringVar(&p.url, "url", "", "purge the middleware responses of this absolute URL (all variants)")
	fs.BoolVar(&p.all, "all", false, "allow a --pattern or --prefix that matches every key of the namespace")
	fs.BoolVar(&p.dryRun, "dry-run", false, "count what would be purged; change nothing")
	fs.BoolVar(&p.yes, "yes", false, "do not ask for confirmation")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("unexpected argument %q", pos[0])
	}
	p.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { p.set[fl.Name] = true })
	mode, err := p.mode()
	if err != nil {
		return err
	}
	s, err := connect(e, &p.conn)
	if err != nil {
		return err
	}
	defer s.close()
	switch mode {
	case "tag":
		return purgeTags(e, s, &p)
	case "url":
		return purgeURL(e, s, &p)
	case "url-prefix":
		return purgeURLPrefix(e, s, &p)
	case "namespace":
		return purgeNamespace(e, s, &p)
	}
	return purgeMatching(e, s, &p, mode)
}

// mode checks the combination of flags and names the purge to run.
func (p *purgeFlags) mode() (string, error) {
	var sel []string
	for _, name := range []string{"prefix", "pattern", "tag", "url"} {
		if p.set[name] {
			sel = append(sel, "--"+name)
		}
	}
	switch {
	case len(sel) > 1:
		return "", usageErrorf("choose one of %s", strings.Join(sel, ", "))
	case p.set["tag"]:
		for _, t := range p.tags {
			if t == "" {
				return "", usageErrorf("--tag: empty tag")
			}
		}
		return "tag", nil
	case p.set["url"]:
		if !strings.HasPrefix(p.url, "http://") && !strings.HasPrefix(p.url, "https://") {
			return "", usageErrorf("--url %q: want an absolute http:// or https:// URL", p.url)
		}
		return "url", nil
	case p.set["prefix"] && (strings.HasPrefix(p.prefix, "http://") || strings.HasPrefix(p.prefix, "https://")):
		return "url-prefix", nil
	case !p.set["namespace"] || p.ns == "":
		if len(sel) == 0 {
			return "", usageErrorf("nothing to purge: want %s", purgeSynopsis)
		}
		return "", usageErrorf("%s needs --namespace", sel[0])
	case p.set["prefix"]:
		if p.prefix == "" && !p.all {
			return "", usageErrorf("--prefix \"\" matches every key of namespace %q: pass --all, or clear the namespace in O(1) with purge --namespace %s", p.ns, p.ns)
		}
		return "prefix", nil
	case p.set["pattern"]:
		if err := backend.CheckPattern(p.pattern); err != nil {
			return "", usageErrorf("--pattern: %v", err)
		}
		if strings.Trim(p.pattern, "*") == "" && !p.all {
			return "", usageErrorf("--pattern %q matches every key of namespace %q: pass --all, or clear the namespace in O(1) with purge --namespace %s", p.pattern, p.ns, p.ns)
		}
		return "pattern", nil
	}
	return "namespace", nil
}

// confirm asks before a purge unless --yes; a closed stdin declines.
func confirm(e *env, p *purgeFlags, question string) error {
	if p.yes {
		return nil
	}
	fmt.Fprintf(e.stderr, "%s [y/N] ", question)
	line, err := e.stdin.ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	if answer == "y" || answer == "yes" {
		return nil
	}
	if errors.Is(err, io.EOF) && answer == "" {
		return &codedError{err: errors.New("no answer (stdin closed): nothing purged; pass --yes to skip the prompt"), kind: errAborted}
	}
	return &codedError{err: errors.New("nothing purged"), kind: errAborted}
}

// memoCache opens a memo cache on the server for namespace ns, to reuse
// its Clear and Invalidate (tombstones, L1 eviction on every node).
func memoCache(e *env, s *server, ns namespace) (*memo.Cache[[]byte], error) {
	return memo.New[[]byte](s.b, &memo.Options{Namespace: ns.name, Version: ns.version, Logger: e.logger(), BackendTimeout: s.timeout})
}

func purgeNamespace(e *env, s *server, p *purgeFlags) error {
	ns, err := s.resolve(e, p.ns, p.conn.nsVersion)
	if err != nil {
		return err
	}
	n, err := countKeys(e, s, ns, p.conn.progress, func(memo.StoredKey) bool { return true })
	if err != nil {
		return err
	}
	what := fmt.Sprintf("clear namespace %s: one write (a new generation); its %d key(s) become unreachable at once and expire by their TTL", ns, n)
	if p.dryRun {
		fmt.Fprintln(e.stdout, "dry run: would "+what)
		return nil
	}
	if err := confirm(e, p, "Clear namespace "+ns.String()+fmt.Sprintf(" (%d keys)?", n)); err != nil {
		return err
	}
	c, err := memoCache(e, s, ns)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Clear(e.ctx); err != nil {
		return s.fail(err)
	}
	fmt.Fprintln(e.stdout, "cleared namespace "+fmt.Sprintf("%q: %d key(s) unreachable (one write)", ns.name, n))
	return nil
}

// purgeMatching purges the keys of a namespace selected by --prefix or
// --pattern: a counting scan, the prompt, then a second scan that
// invalidates what matches in batches (tombstones, so a load already
// running does not store its value after the purge; L1 copies on every
// node are evicted).
func purgeMatching(e *env, s *server, p *purgeFlags, mode string) error {
	ns, err := s.resolve(e, p.ns, p.conn.nsVersion)
	if err != nil {
		return err
	}
	match := func(sk memo.StoredKey) bool { return !sk.Hashed && strings.HasPrefix(sk.Key, p.prefix) }
	desc := fmt.Sprintf("prefix %q", p.prefix)
	if mode == "pattern" {
		match = func(sk memo.StoredKey) bool { return !sk.Hashed && glob.Match(p.pattern, sk.Key) }
		desc = fmt.Sprintf("pattern %q", p.pattern)
	}
	n, err := countKeys(e, s, ns, p.conn.progress, match)
	if err != nil {
		return err
	}
	if p.dryRun {
		fmt.Fprintf(e.stdout, "dry run: would purge %d key(s) matching %s in namespace %s\n", n, desc, ns)
		return nil
	}
	if n == 0 {
		fmt.Fprintf(e.stdout, "no key matches %s in namespace %s\n", desc, ns)
		return nil
	}
	if err := confirm(e, p, fmt.Sprintf("Purge %d key(s) matching %s in namespace %s?", n, desc, ns)); err != nil {
		return err
	}
	c, err := memoCache(e, s, ns)
	if err != nil {
		return err
	}
	defer c.Close()
	bar := e.progress(p.conn.progress, int64(n), "purging")
	var batch []string
	done := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := c.Invalidate(e.ctx, batch...); err != nil {
			return err
		}
		done += len(batch)
		_ = bar.Add(len(batch))
		batch = batch[:0]
		return nil
	}
	seen := map[string]bool{}
	err = s.b.Scan(e.ctx, memo.DataPattern(ns.name, ns.version, ns.gen), func(stored string) error {
		sk, ok := memo.ParseStoredKey(stored)
		if !ok || sk.Role != memo.RoleData || !match(sk) || seen[sk.Key] {
			return nil
		}
		seen[sk.Key] = true
		batch = append(batch, sk.Key)
		if len(batch) >= invalidateBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	_ = bar.Finish()
	if err != nil {
		return s.fail(fmt.Errorf("after %d key(s): %w", done, err))
	}
	fmt.Fprintf(e.stdout, "purged %d key(s) matching %s in namespace %q\n", done, desc, ns.name)
	return nil
}

// countKeys counts the data keys of the current generation of ns that
// match, with a spinner.
func countKeys(e *env, s *server, ns namespace, force bool, match func(memo.StoredKey) bool) (int, error) {
	bar := e.progress(force, -1, "counting keys of "+ns.name)
	defer func() { _ = bar.Finish() }()
	seen := map[string]bool{}
	n := 0
	err := s.b.Scan(e.ctx, memo.DataPattern(ns.name, ns.version, ns.gen), func(stored string) error {
		_ = bar.Add(1)
		sk, ok := memo.ParseStoredKey(stored)
		if !ok || sk.Role != memo.RoleData || !match(sk) || seen[stored] {
			return nil
		}
		seen[stored] = true
		n++
		return nil
	})
	if err != nil {
		return 0, s.fail(err)
	}
	return n, nil
}

// httpNamespace is the middleware namespace purges by tag and URL use.
func (p *purgeFlags) httpNamespace() string {
	if p.ns == "" {
		return "http"
	}
	return p.ns
}

// middlewareCache opens the HTTP cache of namespace ns on the server, to
// reuse its purge methods.
func middlewareCache(e *env, s *server, ns namespace) (*middleware.Cache, error) {
	return middleware.New(s.b, &middleware.Options{Namespace: ns.name, Logger: e.logger(),
		Memo: &memo.Options{Version: ns.version, BackendTimeout: s.timeout}})
}

func purgeTags(e *env, s *server, p *purgeFlags) error {
	ns, err := s.resolve(e, p.httpNamespace(), p.conn.nsVersion)
	if err != nil {
		return err
	}
	tags := strings.Join(p.tags, ", ")
	if p.dryRun {
		fmt.Fprintf(e.stdout, "dry run: would purge tag(s) %s in namespace %s: one write per tag; every response carrying one becomes a miss (found lazily on read, not counted)\n", tags, ns)
		return nil
	}
	if err := confirm(e, p, fmt.Sprintf("Purge every response tagged %s in namespace %s?", tags, ns)); err != nil {
		return err
	}
	c, err := middlewareCache(e, s, ns)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.PurgeTags(e.ctx, p.tags...); err != nil {
		return s.fail(err)
	}
	fmt.Fprintf(e.stdout, "purged tag(s) %s in namespace %q (%d write(s))\n", tags, ns.name, len(p.tags))
	return nil
}

func purgeURL(e *env, s *server, p *purgeFlags) error {
	ns, err := s.resolve(e, p.httpNamespace(), p.conn.nsVersion)
	if err != nil {
		return err
	}
	if p.dryRun {
		fmt.Fprintf(e.stdout, "dry run: would purge the responses of %s (all variants) in namespace %s\n", p.url, ns)
		return nil
	}
	if err := confirm(e, p, fmt.Sprintf("Purge the responses of %s in namespace %s?", p.url, ns)); err != nil {
		return err
	}
	c, err := middlewareCache(e, s, ns)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.PurgeURL(e.ctx, p.url); err != nil {
		return fmt.Errorf("purge %s: %w", p.url, err)
	}
	fmt.Fprintf(e.stdout, "purged the responses of %s in namespace %q\n", p.url, ns.name)
	return nil
}

func purgeURLPrefix(e *env, s *server, p *purgeFlags) error {
	ns, err := s.resolve(e, p.httpNamespace(), p.conn.nsVersion)
	if err != nil {
		return err
	}
	n, err := countKeys(e, s, ns, p.conn.progress, func(sk memo.StoredKey) bool {
		return !sk.Hashed && strings.HasPrefix(sk.Key, p.prefix)
	})
	if err != nil {
		return err
	}
	if p.dryRun {
		fmt.Fprintf(e.stdout, "dry run: would purge about %d stored response(s) under %s in namespace %s\n", n, p.prefix, ns)
		return nil
	}
	if err := confirm(e, p, fmt.Sprintf("Purge about %d stored response(s) under %s in namespace %s?", n, p.prefix, ns)); err != nil {
		return err
	}
	c, err := middlewareCache(e, s, ns)
	if err != nil {
		return err
	}
	defer c.Close()
	bar := e.progress(p.conn.progress, -1, "purging")
	deleted, err := c.PurgePrefix(e.ctx, p.prefix)
	_ = bar.Finish()
	if err != nil {
		return fmt.Errorf("purge prefix %s: %w", p.prefix, err)
	}
	fmt.Fprintf(e.stdout, "purged %d stored response(s) under %s in namespace %q\n", deleted, p.prefix, ns.name)
	return nil
}
