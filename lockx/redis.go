package lockx

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// New returns a Locker over one Redis deployment: a standalone server, a
// Sentinel-managed master (FailoverClient) or a Cluster (ClusterClient).
// This is a single-master lock: a quorum of one. The client must be built
// with ContextTimeoutEnabled (checked for *redis.Client, *redis.ClusterClient
// and *redis.Ring), or a frozen server would hold Lock far past its
// context's deadline.
//
// New asks every server for its maxmemory settings (CONFIG GET, bounded by
// 1s in all) and logs a warning for each one that can evict keys, or fails
// with [Options.StrictEviction]; see the package documentation.
func New(client redis.UniversalClient, o *Options) (*Locker, error) {
	return NewRedlock([]redis.UniversalClient{client}, o)
}

// NewRedlock returns a Locker that runs the Redlock algorithm over
// independent Redis servers (typically 3 or 5, each with its own client):
// an operation succeeds when a majority, len(clients)/2+1, of them agree.
// One client is the same as [New]. Clients must be distinct and built with
// ContextTimeoutEnabled.
//
// WARNING: the servers must be independent masters, not replicas of one
// another or nodes of one Cluster; one ClusterClient is one node here.
func NewRedlock(clients []redis.UniversalClient, o *Options) (*Locker, error) {
	if len(clients) == 0 {
		return nil, errors.New("lockx: no Redis clients")
	}
	for i, c := range clients {
		if c == nil {
			return nil, fmt.Errorf("lockx: client %d is nil", i)
		}
		if slices.Index(clients, c) != i {
			return nil, fmt.Errorf("lockx: client %d is given twice", i)
		}
		if !contextTimeoutEnabled(c) {
			return nil, fmt.Errorf("lockx: client %d (%s) must be built with ContextTimeoutEnabled: true", i, clientAddr(c, i))
		}
	}
	cfg, err := newConfig(o)
	if err != nil {
		return nil, err
	}
	if err := checkEviction(clients, cfg.logger, cfg.strictEviction); err != nil {
		return nil, err
	}
	if len(clients) == 1 && !oneNodeViaRedsync {
		return &Locker{cfg: cfg, drv: newSingleDriver(clients[0], clientAddr(clients[0], 0), cfg.ttl)}, nil
	}
	nodes := make([]*nodePool, len(clients))
	pools := make([]redsyncPool, len(clients))
	for i, c := range clients {
		nodes[i] = &nodePool{idx: i, addr: clientAddr(c, i), inner: goredis.NewPool(c)}
		pools[i] = nodes[i]
	}
	d := &redisDriver{rs: redsync.New(pools...), nodes: nodes, quorum: len(clients)/2 + 1}
	// No fail-fast while acquiring: redsync would return at quorum with
	// slower nodes' SETs still in flight, and its release of a failed
	// attempt's partial grants could overtake them, leaving grants behind
	// until their TTL (under contention, Redlock split votes then stall
	// every contender). Each node is bounded by the attempt timeout.
	d.acquireOpts = []redsync.Option{
		redsync.WithExpiry(cfg.ttl),
		redsync.WithTries(1), // lockx runs the retry loop, with context-aware errors
		redsync.WithTimeoutFactor(float64(attemptTimeout(cfg.ttl)) / float64(cfg.ttl)),
		redsync.WithGenValueFunc(attemptValue),
	}
	d.ttl, d.ttlArg = cfg.ttl, cfg.ttl.Milliseconds()
	return &Locker{cfg: cfg, drv: d}, nil
}

// oneNodeViaRedsync, set by tests, drives one node through redsync (the
// Redlock path) instead of singleDriver, to compare the two.
var oneNodeViaRedsync bool

func contextTimeoutEnabled(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return true // unknown implementation: trust the documentation
}

func clientAddr(c redis.UniversalClient, i int) string {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	case *redis.Ring:
		var addrs []string
		for _, a := range c.Options().Addrs {
			addrs = append(addrs, a)
		}
		slices.Sort(addrs)
		return strings.Join(addrs, ",")
	}
	return fmt.Sprintf("node#%d", i)
}

// redisDriver acquires through redsync over two or more nodes (Redlock;
// one node has singleDriver): redsync runs the attempt (parallel fan-out
// to the nodes, quorum counting, validity after drift), extension and
// release. lockx replaces the per-node SET NX by a script that also
// mints the fencing token in the same atomic step (see nodeConn.SetNX),
// chooses each attempt's value, and releases failed attempts itself
// (abandon).
type redisDriver struct {
	rs          *redsync.Redsync
	nodes       []*nodePool
	quorum      int
	acquireOpts []redsync.Option // built once: TTL, one try, attempt timeout, value
	ttl         time.Duration
	ttlArg      any // ttl in ms, boxed once for acquireScript
}

// attemptValue is the random value of one acquisition attempt (redsync
// calls it once per attempt; nodeConn.SetNX records it, so that lockx can
// release an attempt that failed).
func attemptValue() (string, error) { return rand.Text(), nil }

func (d *redisDriver) acquire(ctx context.Context, name, key string, ttl time.Duration, fenced bool) (lease, error) {
	m := d.rs.NewMutex(key, d.acquireOpts...)
	rec := newRecorder(recAcquire, len(d.nodes))
	rec.fenced, rec.ttl, rec.ttlArg = fenced, d.ttl, d.ttlArg
	if err := m.TryLockContext(withRecorder(ctx, rec)); err != nil {
		// redsync keeps a failed attempt's value to itself: the nodes'
		// SetNX recorded it.
		res, value := rec.snapshot(), rec.attemptValue()
		d.abandon(ctx, key, value, ttl, res)
		return nil, d.classify("acquire", name, res, ErrNotObtained)
	}
	var tok int64
	if fenced {
		tok = rec.maxGranted()
		res := rec.snapshot()
		if err := d.propagate(ctx, name, key, m, res, tok); err != nil {
			d.abandon(ctx, key, m.Value(), ttl, res)
			return nil, err
		}
	}
	// Extension and release may return as soon as the quorum is decided
	// (a frozen node then does not hold up the watchdog or Unlock); the
	// remaining nodes finish in the background (see nodePool.Get).
	held := d.rs.NewMutex(key, redsync.WithExpiry(ttl), redsync.WithValue(m.Value()), redsync.WithFailFast(true))
	return &redisLease{d: d, name: name, m: held, tok: tok, exp: m.Until()}, nil
}

// abandon releases an attempt that failed or that the caller gave up on,
// on every node that did not refuse it: a grant may have landed there, or
// may still land (a frozen server executes the queued SET when it
// resumes). The release runs detached from ctx's cancellation, bounded by
// unlockTimeout, because it matters most when ctx has just ended; a caller
// waits for it no longer than its own context. See abandonScript for a
// release that overtakes its grant.
func (d *redisDriver) abandon(ctx context.Context, key, value string, ttl time.Duration, res []nodeResult) {
	var nodes []*nodePool
	for i, r := range res {
		if !r.done || r.err != nil || r.val > 0 { // granted, or no answer
			nodes = append(nodes, d.nodes[i])
		}
	}
	if len(nodes) == 0 || value == "" {
		// Every node refused (the lock was someone else's), or no grant
		// was ever sent (no SetNX recorded a value).
		return
	}
	detached(ctx, func(rctx context.Context) {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() {
				conn, err := n.inner.Get(rctx)
				if err != nil {
					return
				}
				defer conn.Close()
				_, _ = conn.Eval(abandonScript, key, key+abandonSuffix+value, value, ttl.Milliseconds())
			})
		}
		wg.Wait()
	})
}

// detached runs release on a context detached from ctx's cancellation,
// with ctx's values and a timeout of unlockTimeout, and waits for it no
// longer than ctx: a release matters most when ctx has just ended.
func detached(ctx context.Context, release func(rctx context.Context)) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		release(rctx)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// attemptTimeout bounds each node's reply to one acquisition attempt:
// TTL/3, at most 500ms. A grant that takes longer leaves too little of the
// lease to be worth having.
func attemptTimeout(ttl time.Duration) time.Duration {
	return min(ttl/3, 500*time.Millisecond)
}

// propagate raises the fence counter of every granting node whose token is
// below tok to tok, while it still holds the lock. Only then is tok safe:
// a quorum of nodes now has a counter ≥ tok, and any later grant needs a
// quorum, which shares at least one of those nodes, so it mints more.
// Nodes already at tok need nothing (their counter was set atomically with
// the grant); in steady state all counters agree and this sends nothing.
func (d *redisDriver) propagate(ctx context.Context, name, key string, m *redsync.Mutex, res []nodeResult, tok int64) error {
	ctx, cancel := context.WithDeadline(ctx, m.Until())
	defer cancel()
	rec := newRecorder(recEval, len(d.nodes))
	confirmed := 0
	var wg sync.WaitGroup
	for i, r := range res {
		switch {
		case !r.ok():
		case r.val == tok:
			confirmed++
		default:
			wg.Go(func() {
				conn, err := d.nodes[i].inner.Get(ctx)
				if err != nil {
					rec.set(i, nil, err)
					return
				}
				defer conn.Close()
				v, err := conn.Eval(raiseScript, key, key+fenceSuffix, m.Value(), tok, fenceTTL.Milliseconds())
				rec.set(i, v, err)
			})
		}
	}
	wg.Wait()
	raised := rec.snapshot()
	for _, r := range raised {
		if r.ok() {
			confirmed++
		}
	}
	if confirmed >= d.quorum && time.Now().Before(m.Until()) {
		return nil
	}
	// Count the nodes that already confirmed as successes for the verdict.
	for i, r := range res {
		if r.ok() && r.val == tok {
			raised[i] = r
		}
	}
	return d.classify("acquire", name, raised, ErrNotObtained)
}

// classify turns per-node results into an error: a *QuorumError when
// failing nodes could have made the difference, otherwise notHeld
// (ErrNotObtained when acquiring, ErrLost when extending or releasing).
func (d *redisDriver) classify(op, name string, res []nodeResult, notHeld error) error {
	ok := 0
	var addrs []string
	var errs []error
	for i, r := range res {
		switch {
		case !r.done:
		case r.err != nil:
			addrs = append(addrs, d.nodes[i].addr)
			errs = append(errs, r.err)
		case r.val > 0:
			ok++
		}
	}
	if len(addrs) > 0 && ok+len(addrs) >= d.quorum {
		return &QuorumError{Op: op, Name: name, Quorum: d.quorum, Addrs: addrs, Errs: errs}
	}
	return notHeld
}

type redisLease struct {
	d    *redisDriver
	name string
	m    *redsync.Mutex // not safe for concurrent use: the owning Lock serialises calls
	tok  int64
	exp  time.Time
}

func (l *redisLease) token() int64     { return l.tok }
func (l *redisLease) until() time.Time { return l.exp }

func (l *redisLease) extend(ctx context.Context) (time.Time, error) {
	rec := newRecorder(recEval, len(l.d.nodes))
	if ok, _ := l.m.ExtendContext(withRecorder(ctx, rec)); ok {
		l.exp = l.m.Until()
		return l.exp, nil
	}
	return time.Time{}, l.d.classify("extend", l.name, rec.snapshot(), ErrLost)
}

func (l *redisLease) release(ctx context.Context) error {
	// Fail-fast returns at quorum and Unlock then cancels ctx: detach so
	// that the slower nodes' deletes still run to ctx's deadline.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), dl)
		context.AfterFunc(ctx, cancel)
	}
	rec := newRecorder(recEval, len(l.d.nodes))
	if ok, _ := l.m.UnlockContext(withRecorder(ctx, rec)); ok {
		return nil
	}
	return l.d.classify("release", l.name, rec.snapshot(), ErrLost)
}
