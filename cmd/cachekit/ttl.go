package main

import (
	"fmt"
	"strconv"
	"time"
)

// keyCommand parses NAMESPACE KEY (plus extra arguments), connects and
// fetches the entry: shared by ttl, expire and persist.
func keyCommand(e *env, name string, extra []string, args []string) (*server, *entry, []string, error) {
	synopsis := name + " NAMESPACE KEY"
	for _, x := range extra {
		synopsis += " " + x
	}
	fs := newFlags(e, name, synopsis)
	var f connFlags
	f.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := wantArgs(pos, 2+len(extra), 2+len(extra), synopsis[len(name)+1:]); err != nil {
		return nil, nil, nil, err
	}
	s, err := connect(e, &f)
	if err != nil {
		return nil, nil, nil, err
	}
	_, ent, err := s.userEntry(e, &f, pos[0], pos[1])
	if err != nil {
		s.close()
		return nil, nil, nil, err
	}
	return s, ent, pos[2:], nil
}

func ttlCmd(e *env, args []string) error {
	s, ent, _, err := keyCommand(e, "ttl", nil, args)
	if err != nil {
		return err
	}
	defer s.close()
	fmt.Fprintf(e.stdout, "%s\t%s\n", ttlString(ent.ttl), ent.stored)
	return nil
}

func expireCmd(e *env, args []string) error {
	s, ent, rest, err := keyCommand(e, "expire", []string{"DURATION"}, args)
	if err != nil {
		return err
	}
	defer s.close()
	d, err := parseTTL(rest[0])
	if err != nil {
		return err
	}
	ok, err := s.client.PExpire(e.ctx, ent.stored, d).Result()
	if err != nil {
		return s.fail(err)
	}
	if !ok {
		return notFoundf("%q disappeared before EXPIRE", ent.stored)
	}
	fmt.Fprintf(e.stdout, "TTL %s (was %s)\t%s\n", d, ttlString(ent.ttl), ent.stored)
	if !ent.meta.SoftExpiry.IsZero() && ent.meta.SoftExpiry.After(time.Now().Add(d)) {
		fmt.Fprintf(e.stderr, "note: the entry stays fresh until %s by its own soft expiry; the new TTL ends it earlier\n",
			ent.meta.SoftExpiry.UTC().Format(time.RFC3339))
	}
	return nil
}

func persistCmd(e *env, args []string) error {
	s, ent, _, err := keyCommand(e, "persist", nil, args)
	if err != nil {
		return err
	}
	defer s.close()
	if ent.ttl < 0 {
		fmt.Fprintf(e.stdout, "already without expiry\t%s\n", ent.stored)
		return nil
	}
	if err := s.client.Persist(e.ctx, ent.stored).Err(); err != nil {
		return s.fail(err)
	}
	fmt.Fprintf(e.stdout, "persisted (was TTL %s)\t%s\n", ttlString(ent.ttl), ent.stored)
	fmt.Fprintln(e.stderr, "warning: the key now never expires. Readers still treat it as stale after its soft expiry "+
		"and overwrite it (with a TTL) on the next load; until then it stays in memory. "+
		"Undo with: cachekit expire NAMESPACE KEY DURATION")
	return nil
}

// parseTTL reads a positive duration: a Go duration ("90s", "1h") or a
// number of seconds.
func parseTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, err2 := strconv.ParseInt(s, 10, 64)
		if err2 != nil {
			return 0, usageErrorf("DURATION %q: want a duration such as 90s or 1h, or a number of seconds", s)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0, usageErrorf("DURATION %q: want > 0 (to remove an entry use cachekit purge)", s)
	}
	if d < time.Millisecond {
		return 0, usageErrorf("DURATION %q: below Redis' 1 ms resolution", s)
	}
	return d, nil
}
