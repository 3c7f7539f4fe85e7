package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/glob"
	"github.com/cachekit/cachekit/memo"
)

func keysCmd(e *env, args []string) error {
	const synopsis = "keys NAMESPACE [PATTERN]"
	fs := newFlags(e, "keys", synopsis)
	var f connFlags
	f.register(fs)
	limit := fs.Int("limit", 1000, "list at most this many keys (0: no limit)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 2, "NAMESPACE [PATTERN]"); err != nil {
		return err
	}
	pattern := "*"
	if len(pos) == 2 {
		pattern = pos[1]
		if err := backend.CheckPattern(pattern); err != nil {
			return usageErrorf("PATTERN: %v", err)
		}
	}
	if *limit < 0 {
		return usageErrorf("--limit %d: want ≥ 0", *limit)
	}
	s, err := connect(e, &f)
	if err != nil {
		return err
	}
	defer s.close()
	ns, err := s.resolve(e, pos[0], f.nsVersion)
	if err != nil {
		return err
	}
	bar := e.progress(f.progress, -1, "scanning "+ns.name)
	seen := map[string]bool{}
	var keys []string
	hashed, more := 0, false
	err = s.b.Scan(e.ctx, memo.DataPattern(ns.name, ns.version, ns.gen), func(stored string) error {
		_ = bar.Add(1)
		sk, ok := memo.ParseStoredKey(stored)
		if !ok || sk.Role != memo.RoleData {
			return nil
		}
		if sk.Hashed {
			hashed++
			return nil
		}
		if seen[sk.Key] || !glob.Match(pattern, sk.Key) {
			return nil
		}
		if *limit > 0 && len(keys) >= *limit {
			more = true
			return errStop
		}
		seen[sk.Key] = true
		keys = append(keys, sk.Key)
		return nil
	})
	_ = bar.Finish()
	if err != nil && !errors.Is(err, errStop) {
		return s.fail(err)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintln(e.stdout, printable(k))
	}
	fmt.Fprintf(e.stderr, "%d key(s) matching %q in namespace %s", len(keys), pattern, ns)
	if more {
		fmt.Fprintf(e.stderr, "; stopped at --limit %d", *limit)
	}
	if hashed > 0 {
		fmt.Fprintf(e.stderr, "; %d more stored under a hash (user key over 200 bytes, not recoverable)", hashed)
	}
	fmt.Fprintln(e.stderr)
	return nil
}

// printable quotes a key that holds spaces or control characters, so
// each listed key is one unambiguous line.
func printable(k string) string {
	if k == "" || strings.ContainsFunc(k, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' || r == '"' }) {
		return strconv.Quote(k)
	}
	return k
}
