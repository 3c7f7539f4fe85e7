package goredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

// maxParallelMasters bounds how many masters one Scan or DeletePattern
// walks at the same time.
const maxParallelMasters = 8

// walk is one pattern operation (Scan or DeletePattern) over every
// master. Each master is walked by its own goroutine (at most
// maxParallelMasters at once), one SCAN page at a time: memory is bounded
// by a page per master, never the whole key set. DeletePattern deletes
// each page on the master that returned it, in one round trip per page:
// on a Cluster in the page's own script call (scripted), elsewhere (and
// when a master refuses the script, and in rescans) with UNLINKs sent in
// the same pipeline as the SCAN of the next page (commands).
type walk struct {
	b       *Backend
	pattern string
	del     bool                      // DeletePattern: unlink every page
	fn      func(keys []string) error // Scan: called under mu
	within  *slotSet                  // nil: every key; else only keys of these slots (a rescan)

	done atomic.Int64 // keys deleted (DeletePattern) or reported (Scan)

	mu         sync.Mutex // serialises fn; guards stopped and redirected
	stopped    error      // the first error fn returned: fn is not called again
	redirected slotSet    // slots whose UNLINK a master redirected (MOVED, ASK, TRYAGAIN)
}

// pass is the outcome of walking one master.
type pass struct {
	node          *redis.Client
	before, after nodeView // the master's view of its slots around the walk (Cluster only)
}

// walkPattern runs a pattern operation on every master and, on a Cluster,
// rescans slots that moved meanwhile (see settle). It returns the number
// of keys deleted or reported.
func (b *Backend) walkPattern(ctx context.Context, pattern string, del bool, fn func(keys []string) error) (int64, error) {
	w := &walk{b: b, pattern: pattern, del: del, fn: fn}
	nodes, err := b.masters(ctx)
	if err != nil {
		return 0, err
	}
	passes, err := w.parallel(ctx, nodes)
	if err == nil && b.topo == cluster {
		err = w.settle(ctx, passes)
	}
	return w.done.Load(), err
}

// limit is how many masters a walk scans at once.
func (w *walk) limit() int {
	if w.b.walkLimit > 0 {
		return w.b.walkLimit
	}
	return maxParallelMasters
}

// parallel walks nodes concurrently, at most maxParallelMasters at once.
// The first error cancels the other walks and is returned.
func (w *walk) parallel(ctx context.Context, nodes []*redis.Client) ([]pass, error) {
	passes := make([]pass, len(nodes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.limit())
	for i, n := range nodes {
		g.Go(func() error {
			var err error
			passes[i], err = w.node(gctx, n)
			return err
		})
	}
	return passes, g.Wait()
}

// node walks one master: a SCAN loop whose pages go to fn or are
// unlinked on that master. On a Cluster the master's CLUSTER NODES view
// is read before its first SCAN and after its last one, to notice slots
// that moved during the walk. A Cluster DeletePattern (not a rescan)
// walks with the page script and falls back to commands.
func (w *walk) node(ctx context.Context, c *redis.Client) (pass, error) {
	if w.del && w.within == nil && w.b.topo == cluster {
		res, err := w.scripted(ctx, c)
		if !errors.Is(err, errNoScript) {
			return res, err
		}
		// The master refused the page script: walk it again, from the
		// start, with commands (what was deleted is counted).
	}
	return w.commands(ctx, c)
}

// commands walks one master with SCAN commands: a SCAN loop whose pages
// go to fn or are unlinked on that master. On a Cluster the master's
// CLUSTER NODES view rides in the first and last pipeline.
func (w *walk) commands(ctx context.Context, c *redis.Client) (pass, error) {
	res := pass{node: c}
	topo := w.b.topo == cluster
	count := int64(w.b.opt.ScanCount)
	pipe := c.Pipeline()
	var view *redis.StringCmd
	if topo {
		view = pipe.ClusterNodes(ctx)
	}
	scan := pipe.Scan(ctx, 0, w.pattern, count)
	var unlinks pageUnlink
	for first := true; ; first = false {
		_, _ = pipe.Exec(ctx) // errors are read per command below
		if view != nil {
			v, err := w.view(ctx, view)
			if err != nil {
				return res, err
			}
			if first {
				res.before = v
			} else {
				res.after = v
			}
			view = nil
		}
		if err := w.unlinked(ctx, unlinks); err != nil {
			return res, err
		}
		unlinks = pageUnlink{}
		if scan == nil {
			return res, nil // that was the last page's UNLINK
		}
		keys, next, err := scan.Result()
		if err != nil {
			return res, w.b.fail(ctx, "SCAN", w.pattern, err)
		}
		scan = nil
		keys = w.filter(keys)
		if !w.del && len(keys) > 0 {
			if err := w.report(keys); err != nil {
				return res, err
			}
		}
		if w.del {
			// UNLINKs go before the next SCAN, so that it runs over the
			// table without this page (queueUnlinks never leads with a
			// command that go-redis would re-send the pipeline for).
			unlinks = w.queueUnlinks(ctx, pipe, keys)
		}
		if next == 0 && topo {
			view = pipe.ClusterNodes(ctx)
		}
		if next != 0 {
			scan = pipe.Scan(ctx, next, w.pattern, count)
		}
		if pipe.Len() == 0 {
			return res, nil
		}
	}
}

// view reads a CLUSTER NODES reply.
func (w *walk) view(ctx context.Context, cmd *redis.StringCmd) (nodeView, error) {
	s, err := cmd.Result()
	if err != nil {
		return nodeView{}, w.b.fail(ctx, "CLUSTER NODES", "", err)
	}
	v, err := parseNodeView(s)
	if err != nil {
		return nodeView{}, fmt.Errorf("goredis: %w", err)
	}
	return v, nil
}

// filter keeps the keys of a rescan's slots (every key outside a rescan).
func (w *walk) filter(keys []string) []string {
	if w.within == nil {
		return keys
	}
	out := keys[:0]
	for _, k := range keys {
		if w.within.has(slot(k)) {
			out = append(out, k)
		}
	}
	return out
}

// report passes a page to Scan's callback, one goroutine at a time.
func (w *walk) report(keys []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped != nil {
		return w.stopped
	}
	w.done.Add(int64(len(keys)))
	w.stopped = w.fn(keys)
	return w.stopped
}
