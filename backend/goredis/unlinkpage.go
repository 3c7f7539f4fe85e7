package goredis

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// pageUnlink is the deletion of one SCAN page queued on its master's
// pipeline.
type pageUnlink struct {
	cmds []*redis.IntCmd
}

// queueUnlinks queues the deletion of one page on its master's pipeline.
// Elsewhere than on a Cluster: UNLINKs of at most ScanCount keys. On a
// Cluster: one UNLINK per key, except that keys with a hash tag are
// grouped by slot into one UNLINK each (never CROSSSLOT). Keys without a
// tag almost never share a slot within a page, so they are sent as they
// are, without computing their slot: the master does the same work as
// for a page of single-key commands, and the client skips a CRC16 and a
// sort per key. This is the Cluster path of rescans and of masters that
// refuse scanUnlinkScript.
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
	cmds := make([]*redis.IntCmd, 0, len(keys))
	// The arguments of every single-key UNLINK, in one allocation
	// (pipe.Unlink would allocate a slice of keys and one of arguments
	// per key).
	args := make([]any, 2*len(keys))
	var (
		bySlot map[uint16]int // slot → index in tagged
		tagged [][]string     // keys with a hash tag, grouped by slot
	)
	for _, k := range keys {
		tag, ok := hashTag(k)
		if !ok {
			a := args[:2:2]
			args = args[2:]
			a[0], a[1] = "unlink", k
			cmd := redis.NewIntCmd(ctx, a...)
			_ = pipe.Process(ctx, cmd)
			cmds = append(cmds, cmd)
			continue
		}
		s := crc16(tag) % slotCount
		if bySlot == nil {
			bySlot = make(map[uint16]int)
		}
		i, ok := bySlot[s]
		if !ok {
			i = len(tagged)
			bySlot[s] = i
			tagged = append(tagged, nil)
		}
		tagged[i] = append(tagged[i], k)
	}
	for _, g := range tagged {
		cmds = append(cmds, pipe.Unlink(ctx, g...))
	}
	return pageUnlink{cmds: cmds}
}

// unlinked counts the keys a page's deletion removed. Keys its master
// could not reach (the slot moved, or is half migrated: MOVED, ASK,
// TRYAGAIN) are deleted again one by one through the cluster client,
// which follows the redirections, and their slots are remembered for
// settle.
func (w *walk) unlinked(ctx context.Context, p pageUnlink) error {
	var retry []string
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
		w.markRedirected(keys[:1]) // one slot per command
		retry = append(retry, keys...)
	}
	n, err := w.b.unlinkEach(ctx, retry)
	w.done.Add(n)
	return err
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
