package goredis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// unlinkPageScript deletes the keys in ARGV, which may belong to several
// slots of the master it runs on (Redis ≥ 7.0: allow-cross-slot-keys),
// and returns {deleted, {keys it could not reach}}. A key the master does
// not serve (its slot moved, or is half migrated and the key is gone)
// fails alone (pcall) and is returned for the caller to delete through
// the cluster client, which follows MOVED and ASK. One EVAL per SCAN page
// replaces one UNLINK per slot (about one per key).
const unlinkPageScript = `#!lua flags=allow-cross-slot-keys
local n, missed = 0, {}
for i = 1, #ARGV do
	local r = redis.pcall('UNLINK', ARGV[i])
	if type(r) == 'number' then n = n + r else missed[#missed + 1] = ARGV[i] end
end
return {n, missed}`

// pageUnlink is the deletion of one SCAN page queued on its master's
// pipeline: one script call on a Cluster, or UNLINK commands.
type pageUnlink struct {
	script *redis.Cmd
	keys   []string // the script's keys
	cmds   []*redis.IntCmd
}

// queueUnlinks queues the deletion of one page on its master's pipeline:
// on a Cluster one unlinkPageScript call (or, when the server cannot run
// it, one UNLINK per hash slot: never CROSSSLOT); elsewhere UNLINKs of at
// most ScanCount keys.
func (w *walk) queueUnlinks(ctx context.Context, pipe redis.Pipeliner, keys []string) pageUnlink {
	if len(keys) == 0 {
		return pageUnlink{}
	}
	if w.b.topo != cluster {
		groups := chunks(keys, w.b.opt.ScanCount)
		cmds := make([]*redis.IntCmd, len(groups))
		for i, g := range groups {
			cmds[i] = pipe.Unlink(ctx, g...)
		}
		return pageUnlink{cmds: cmds}
	}
	if !w.noScript.Load() {
		args := make([]any, 0, 3+len(keys))
		args = append(args, "eval", unlinkPageScript, 0)
		for _, k := range keys {
			args = append(args, k)
		}
		cmd := redis.NewCmd(ctx, args...)
		_ = pipe.Process(ctx, cmd)
		return pageUnlink{script: cmd, keys: keys}
	}
	// Sort the page (which the walk owns) by slot and send each run of
	// same-slot keys in one UNLINK: no map, no per-group slice.
	slots := make([]uint16, len(keys))
	for i, k := range keys {
		slots[i] = slot(k)
	}
	sort.Sort(bySlot{keys, slots})
	var cmds []*redis.IntCmd
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && slots[j] == slots[i] {
			j++
		}
		cmds = append(cmds, pipe.Unlink(ctx, keys[i:j]...))
		i = j
	}
	return pageUnlink{cmds: cmds}
}

// bySlot sorts keys by their precomputed slots.
type bySlot struct {
	keys  []string
	slots []uint16
}

func (s bySlot) Len() int           { return len(s.keys) }
func (s bySlot) Less(i, j int) bool { return s.slots[i] < s.slots[j] }
func (s bySlot) Swap(i, j int) {
	s.keys[i], s.keys[j] = s.keys[j], s.keys[i]
	s.slots[i], s.slots[j] = s.slots[j], s.slots[i]
}

// unlinked counts the keys a page's deletion removed. Keys its master
// could not reach (the slot moved, or is half migrated: MOVED, ASK,
// TRYAGAIN, or a non-local key in the script) are deleted again one by
// one through the cluster client, which follows the redirections, and
// their slots are remembered for settle. A server that cannot run the
// script (before Redis 7.0, or EVAL not allowed) gets the page again key
// by key, and later pages as one UNLINK per slot.
func (w *walk) unlinked(ctx context.Context, p pageUnlink) error {
	var retry []string
	if p.script != nil {
		n, missed, err := scriptReply(p.script)
		switch {
		case err == nil:
			w.done.Add(n)
			w.markRedirected(missed)
			retry = missed
		case isServerError(err):
			w.noScript.Store(true)
			retry = p.keys
		default:
			return w.b.fail(ctx, "EVAL unlink", firstOf(p.keys), err)
		}
	}
	for _, cmd := range p.cmds {
		n, err := cmd.Result()
		if err == nil {
			w.done.Add(n)
			continue
		}
		keys := unlinkKeys(cmd)
		if !redirected(err) || len(keys) == 0 {
			return w.b.fail(ctx, "UNLINK", firstOf(keys), err)
		}
		w.markRedirected(keys[:1])
		retry = append(retry, keys...)
	}
	n, err := w.b.unlinkEach(ctx, retry)
	w.done.Add(n)
	return err
}

// scriptReply parses the reply of unlinkPageScript.
func scriptReply(cmd *redis.Cmd) (int64, []string, error) {
	v, err := cmd.Result()
	if err != nil {
		return 0, nil, err
	}
	r, ok := v.([]any)
	if !ok || len(r) != 2 {
		return 0, nil, fmt.Errorf("goredis: unlink script: unexpected reply %v", v)
	}
	n, ok := r[0].(int64)
	list, ok2 := r[1].([]any)
	if !ok || !ok2 {
		return 0, nil, fmt.Errorf("goredis: unlink script: unexpected reply %v", v)
	}
	missed := make([]string, 0, len(list))
	for _, k := range list {
		s, ok := k.(string)
		if !ok {
			return 0, nil, fmt.Errorf("goredis: unlink script: unexpected key %v", k)
		}
		missed = append(missed, s)
	}
	return n, missed, nil
}

// isServerError reports an error reply from the server (as opposed to a
// network or context error).
func isServerError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && !strings.HasPrefix(rerr.Error(), "redis: ")
}

// markRedirected remembers the slots of keys a master could not reach.
func (w *walk) markRedirected(keys []string) {
	if len(keys) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		w.redirected.add(slot(k))
	}
}

// chunks splits keys into slices of at most n keys.
func chunks(keys []string, n int) [][]string {
	var out [][]string
	for len(keys) > n {
		out = append(out, keys[:n])
		keys = keys[n:]
	}
	return append(out, keys)
}

// unlinkKeys returns the keys of an UNLINK command.
func unlinkKeys(cmd *redis.IntCmd) []string {
	args := cmd.Args()
	keys := make([]string, 0, len(args)-1)
	for _, a := range args[1:] {
		if s, ok := a.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys
}

func firstOf(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
