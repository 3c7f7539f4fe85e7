package goredis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// scanUnlinkScript is one page of a Cluster DeletePattern, run on the
// master it is sent to: SCAN from cursor ARGV[1] with MATCH ARGV[2] and
// COUNT ARGV[3], then one UNLINK per key of the page, except that keys
// with a {hash tag} (the same rule as hashTag) go in one UNLINK per tag
// and 256 keys. It returns {next cursor, keys deleted, {keys the master
// could not reach}, its CLUSTER NODES view when the page was the last one
// (else "")}. An UNLINK the master refuses (the slot moved, or is
// imported and not yet owned, or half migrated) fails alone (pcall) and
// its keys come back to be deleted one by one through the cluster
// client, which follows MOVED and ASK. The only command that can abort
// the script, SCAN, runs before any UNLINK, so the count is exact. The keys never travel: the client sends a
// cursor and reads a count, where a SCAN reply and a pipeline of UNLINKs
// would cost it a string, a command and a reply per key. The view is read
// after the page's SCAN in the same atomic call; "" when the server
// refuses CLUSTER NODES in a script (the caller then reads it itself).
// allow-cross-slot-keys (Redis ≥ 7.0) lets one call touch the keys of
// every slot of the master; allow-oom lets it run when the server is out
// of memory, as the SCAN and UNLINK commands it replaces do.
var scanUnlinkScript = redis.NewScript(`#!lua flags=allow-cross-slot-keys,allow-oom
local call, find, sub = redis.pcall, string.find, string.sub
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local keys, n, missed, tagged = page[2], 0, {}, nil
for i = 1, #keys do
  local k = keys[i]
  local open = find(k, '{', 1, true)
  local close = open and find(k, '}', open + 1, true)
  if close and close > open + 1 then
    tagged = tagged or {}
    local tag = sub(k, open + 1, close - 1)
    local g = tagged[tag]
    if g then g[#g + 1] = k else tagged[tag] = {k} end
  else
    local d = call('UNLINK', k)
    if d == 1 then n = n + 1 elseif d ~= 0 then missed[#missed + 1] = k end
  end
end
for _, g in pairs(tagged or {}) do
  for first = 1, #g, 256 do
    local last = math.min(first + 255, #g)
    local d = call('UNLINK', unpack(g, first, last))
    if type(d) == 'number' then
      n = n + d
    else
      for j = first, last do missed[#missed + 1] = g[j] end
    end
  end
end
local view = ''
if page[1] == '0' then
  local v = call('CLUSTER', 'NODES')
  if type(v) == 'string' then view = v end
end
return {page[1], n, missed, view}`)

// maxScriptCount bounds the COUNT of a page script's SCAN, whatever
// Options.ScanCount: a script holds its master for the whole page (about
// 1.5 µs per key), where pipelined commands let the master serve other
// clients between two reads of the pipeline.
const maxScriptCount = 1000

// errNoScript is returned by scripted when the master answered a page's
// script with an error: scripts denied by an ACL, a server before Redis
// 7.0 (no script flags), a busy or loading server. The walk of that
// master then starts again with SCAN and UNLINK commands, which report
// any error that is not about scripts.
var errNoScript = errors.New("goredis: page script refused")

// scripted walks one master of a Cluster for DeletePattern with
// scanUnlinkScript, one round trip per page of at most maxScriptCount. Its CLUSTER NODES view is
// read in the round trip of the first page (before its SCAN) and by the
// last page's script (after its SCAN). It returns errNoScript, having
// counted every key it deleted, when the server answers a page's script
// with an error.
func (w *walk) scripted(ctx context.Context, c *redis.Client) (pass, error) {
	res := pass{node: c}
	count := min(w.b.opt.ScanCount, maxScriptCount)
	pipe := c.Pipeline()
	view := pipe.ClusterNodes(ctx)
	page := scanUnlinkScript.Eval(ctx, pipe, nil, "0", w.pattern, count)
	_, _ = pipe.Exec(ctx) // errors are read per command below
	v, err := w.view(ctx, view)
	if err != nil {
		// The page's script ran all the same (an ACL may refuse
		// CLUSTER NODES and allow EVAL): count what it deleted.
		_, _, _ = w.scriptPage(ctx, page)
		return res, err
	}
	res.before = v
	for {
		next, after, err := w.scriptPage(ctx, page)
		if err != nil {
			return res, err
		}
		if next != "0" {
			page = scanUnlinkScript.Run(ctx, c, nil, next, w.pattern, count)
			continue
		}
		if after == "" {
			after, err = c.ClusterNodes(ctx).Result()
			if err != nil {
				return res, w.b.fail(ctx, "CLUSTER NODES", "", err)
			}
		}
		v, err := parseNodeView(after)
		if err != nil {
			return res, fmt.Errorf("goredis: %w", err)
		}
		res.after = v
		return res, nil
	}
}

// scriptPage reads one page's script reply: it counts the keys deleted,
// deletes the keys the master could not reach through the cluster client
// (remembering their slots for settle) and returns the next cursor and
// the view of the last page.
func (w *walk) scriptPage(ctx context.Context, cmd *redis.Cmd) (next, view string, err error) {
	reply, err := cmd.Slice()
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) && !strings.HasPrefix(err.Error(), "redis: ") {
			return "", "", fmt.Errorf("%w: %w", errNoScript, err)
		}
		return "", "", w.b.fail(ctx, "EVALSHA", w.pattern, err)
	}
	var (
		n      int64
		missed []any
		ok     = len(reply) == 4
	)
	if ok {
		next, ok = reply[0].(string)
	}
	if ok {
		n, ok = reply[1].(int64)
	}
	if ok {
		missed, ok = reply[2].([]any)
	}
	if ok {
		view, ok = reply[3].(string)
	}
	if !ok || n < 0 || next == "" {
		return "", "", fmt.Errorf("goredis: pattern %q: unexpected page script reply %v", w.pattern, reply)
	}
	w.done.Add(n)
	if len(missed) == 0 {
		return next, view, nil
	}
	keys := make([]string, len(missed))
	for i, m := range missed {
		if keys[i], ok = m.(string); !ok {
			return "", "", fmt.Errorf("goredis: pattern %q: unexpected key %v in a page script reply", w.pattern, m)
		}
	}
	w.markRedirected(keys)
	d, err := w.b.unlinkEach(ctx, keys)
	w.done.Add(d)
	return next, view, err
}
