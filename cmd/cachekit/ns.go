package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/codec"
	"github.com/cachekit/cachekit/memo"
)

// namespace is a memo namespace found on the server.
type namespace struct {
	name    string
	version int
	gen     uint64 // the current generation
	genSet  bool   // the generation key exists (the namespace was cleared)
}

func (n namespace) String() string {
	return fmt.Sprintf("%q (version %d, generation %d)", n.name, n.version, n.gen)
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// resolve finds namespace name: its generation key, or else any key of
// that namespace and version (an early-stopping scan). A namespace with
// neither does not exist (exit status 3); the message names the versions
// that do exist, if any.
func (s *server) resolve(e *env, name string, version int) (namespace, error) {
	if name == "" {
		return namespace{}, usageErrorf("empty namespace")
	}
	if version <= 0 {
		return namespace{}, usageErrorf("--ns-version %d: want ≥ 1", version)
	}
	ns := namespace{name: name, version: version}
	raw, err := s.client.Get(e.ctx, memo.GenerationKey(name, version)).Bytes()
	switch {
	case err == nil:
		g, perr := memo.ParseGeneration(raw)
		if perr != nil {
			return ns, fmt.Errorf("namespace %q: corrupt generation key %q: %v", name, memo.GenerationKey(name, version), perr)
		}
		ns.gen, ns.genSet = g, true
		return ns, nil
	case !errors.Is(err, redis.Nil):
		return ns, s.fail(err)
	}
	others := map[int]bool{}
	err = s.b.Scan(e.ctx, memo.NamespacePattern(name), func(key string) error {
		sk, ok := memo.ParseStoredKey(key)
		if !ok || sk.Namespace != name {
			return nil
		}
		if sk.Version == version {
			return errStop
		}
		others[sk.Version] = true
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return ns, nil
	case err != nil:
		return ns, s.fail(err)
	}
	msg := fmt.Sprintf("namespace %q (version %d) does not exist on %s: no generation key and no keys", name, version, s.describe())
	if len(others) > 0 {
		var vs []string
		for v := range others {
			vs = append(vs, fmt.Sprint(v))
		}
		slices.Sort(vs)
		msg += fmt.Sprintf(" (it has keys of version %s: pass --ns-version)", strings.Join(vs, ", "))
	}
	return ns, notFoundf("%s", msg)
}

// entry is one stored cachekit entry.
type entry struct {
	stored string // the Redis key
	data   []byte
	meta   codec.Meta
	ttl    time.Duration // -1: no expiry
}

// fetch reads and verifies the entry stored under key: not found (exit
// 3) when missing, a usage error when the key holds something that is
// not a cachekit envelope.
func (s *server) fetch(e *env, stored, describe string) (*entry, error) {
	pipe := s.client.Pipeline()
	get := pipe.Get(e.ctx, stored)
	pttl := pipe.PTTL(e.ctx, stored)
	_, _ = pipe.Exec(e.ctx)
	data, err := get.Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, notFoundf("no entry for %s (stored key %q)", describe, stored)
	case err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE"):
		t, _ := s.client.Type(e.ctx, stored).Result()
		return nil, usageErrorf("not a cachekit key: %q holds a Redis %s, not a cachekit entry", stored, t)
	case err != nil:
		return nil, s.fail(err)
	}
	meta, err := codec.DecodeMeta(data)
	if err != nil {
		return nil, usageErrorf("not a cachekit key: %q holds %d bytes that are not a cachekit envelope (%v)", stored, len(data), err)
	}
	ttl, err := pttl.Result()
	if err != nil {
		return nil, s.fail(err)
	}
	return &entry{stored: stored, data: data, meta: meta, ttl: ttl}, nil
}

// userEntry resolves namespace and key to the stored entry.
func (s *server) userEntry(e *env, f *connFlags, name, key string) (namespace, *entry, error) {
	ns, err := s.resolve(e, name, f.nsVersion)
	if err != nil {
		return ns, nil, err
	}
	ent, err := s.fetch(e, memo.DataKey(ns.name, ns.version, ns.gen, key), fmt.Sprintf("key %q in namespace %s", key, ns))
	return ns, ent, err
}

// logger sends memo's and middleware's warnings to the command's stderr.
func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
