package lockx

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestOneNodeRestartWhileHeld: the server restarts empty (and without its
// script cache) under a held lock. The holder's next extension reports
// the loss (no re-created key), another Locker acquires it with a larger
// token, and the stale holder's Unlock reports ErrLost without touching
// the new holder's key.
func TestOneNodeRestartWhileHeld(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := redistest.Start(t)
	o := &Options{TTL: 2 * time.Second, RetryDelay: 5 * time.Millisecond}
	l := mustLocker(t)(New(s.Client(t), withPrefix(t, o)))
	stale, err := l.Lock(ctx, "r")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	s.Restart(t)
	admin := s.Client(t)
	// The client may first see its old connections fail; an extension
	// that gets no answer is retried (ErrQuorum), one that does must
	// report the loss.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = stale.Extend(ctx)
		if !errors.Is(err, ErrQuorum) || time.Now().After(deadline) {
			break
		}
	}
	if !errors.Is(err, ErrLost) {
		t.Fatalf("Extend after the server restarted empty = %v, want ErrLost", err)
	}
	select {
	case <-stale.Done():
	default:
		t.Fatalf("Done still open after Extend reported the loss")
	}
	if n, _ := admin.Exists(ctx, l.key("r")).Result(); n != 0 {
		t.Fatalf("the lost lock's key exists again: the extension re-created it")
	}
	other := mustLocker(t)(New(s.Client(t), withPrefix(t, o)))
	fresh, err := other.Lock(ctx, "r")
	if err != nil {
		t.Fatalf("other Lock after the restart = %v", err)
	}
	if fresh.Token() <= stale.Token() {
		t.Errorf("token after the restart %d <= token before %d", fresh.Token(), stale.Token())
	}
	if err := stale.Unlock(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("stale Unlock = %v, want ErrLost", err)
	}
	if n, _ := admin.Exists(ctx, l.key("r")).Result(); n != 1 {
		t.Fatalf("new holder's key gone after the stale holder's Unlock")
	}
	if err := fresh.Unlock(ctx); err != nil {
		t.Errorf("new holder Unlock = %v", err)
	}
}

// TestOneNodeClusterScriptCacheFlushed: over a Cluster (EVALSHA routed by
// the lock key), every node without the scripts (SCRIPT FLUSH: a new or
// restarted node) still grants, refuses, extends and releases.
func TestOneNodeClusterScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cl := redistest.StartCluster(t, 3)
	flush := func() {
		t.Helper()
		for _, n := range cl.Nodes {
			if err := n.Client(t).ScriptFlush(ctx).Err(); err != nil {
				t.Fatalf("SCRIPT FLUSH %s: %v", n.Addr, err)
			}
		}
	}
	l := mustLocker(t)(New(cl.Client(t), withPrefix(t, nil)))
	other := mustLocker(t)(New(cl.Client(t), withPrefix(t, nil)))
	admin := cl.Client(t)
	// Names spread over the masters.
	for i := range 6 {
		name := "n" + strconv.Itoa(i)
		flush()
		lk, err := l.Lock(ctx, name)
		if err != nil {
			t.Fatalf("Lock(%q) after SCRIPT FLUSH = %v", name, err)
		}
		if lk.Token() <= 0 {
			t.Errorf("Token = %d, want a minted token", lk.Token())
		}
		flush()
		if _, err := other.TryLock(ctx, name); !errors.Is(err, ErrNotObtained) {
			t.Errorf("TryLock(%q) of a held lock = %v, want ErrNotObtained", name, err)
		}
		flush()
		if err := lk.Extend(ctx); err != nil {
			t.Errorf("Extend(%q) after SCRIPT FLUSH = %v", name, err)
		}
		flush()
		if err := lk.Unlock(ctx); err != nil {
			t.Errorf("Unlock(%q) after SCRIPT FLUSH = %v", name, err)
		}
		if n, err := admin.Exists(ctx, l.key(name)).Result(); err != nil || n != 0 {
			t.Errorf("EXISTS %q after Unlock = %d, %v; want 0", name, n, err)
		}
		flush()
		release, ok, err := other.TryAcquire(ctx, name)
		if err != nil || !ok {
			t.Fatalf("TryAcquire(%q) of a released lock = %v, %v", name, ok, err)
		}
		if err := release(ctx); err != nil {
			t.Errorf("release(%q) = %v", name, err)
		}
	}
}

// TestOneNodeSentinelFailover: a lock taken through a Sentinel failover
// client and replicated to the replica survives a failover: the promoted
// master (which never ran lockx's scripts) still refuses it to others,
// extends it, releases it, and mints a larger token afterwards.
func TestOneNodeSentinelFailover(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s := redistest.StartSentinel(t)
	o := &Options{TTL: 8 * time.Second, RetryDelay: 5 * time.Millisecond}
	clients := []*redis.Client{s.FailoverClient(t), s.FailoverClient(t)}
	l := mustLocker(t)(New(clients[0], withPrefix(t, o)))
	other := mustLocker(t)(New(clients[1], withPrefix(t, o)))
	lk, err := l.Lock(ctx, "f")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	master := s.Master.Client(t)
	if n, err := master.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica = %d, %v", n, err)
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, ContextTimeoutEnabled: true})
	defer sc.Close()
	if err := sc.Failover(ctx, redistest.SentinelMaster).Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	replica := s.Replica.Client(t)
	for {
		addr, err1 := sc.GetMasterAddrByName(ctx, redistest.SentinelMaster).Result()
		role, err2 := replica.Do(ctx, "ROLE").Slice()
		if err1 == nil && len(addr) == 2 && addr[1] == strconv.Itoa(s.Replica.Port) && err2 == nil && len(role) > 0 && role[0] == "master" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("failover not done: %v %v %v", addr, err1, err2)
		case <-time.After(20 * time.Millisecond): // polling Sentinel: no event to wait on
		}
	}
	// Sentinel demotes the old master only seconds later: until then it
	// still takes writes, and a client that has not yet followed the
	// switch (it learns of it asynchronously) would lock and unlock there
	// (split brain, see the package documentation). Wait until both
	// clients talk to the new master.
	for _, c := range clients {
		for {
			info, err := c.Info(ctx, "server").Result()
			if err == nil && containsLine(info, "tcp_port:"+strconv.Itoa(s.Replica.Port)) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("client did not follow the failover: %v", err)
			case <-time.After(20 * time.Millisecond): // polling the client's master: no event to wait on
			}
		}
	}
	// Operations may still fail without an answer (ErrQuorum) on a
	// connection closed by the switch; none may succeed wrongly.
	retry := func(what string, op func() error) error {
		t.Helper()
		for {
			err := op()
			if !errors.Is(err, ErrQuorum) {
				return err
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: still %v when the test's time ran out", what, err)
			case <-time.After(20 * time.Millisecond): // waiting for the client to follow the failover
			}
		}
	}
	if err := retry("TryLock", func() error { _, err := other.TryLock(ctx, "f"); return err }); !errors.Is(err, ErrNotObtained) {
		t.Fatalf("other TryLock after the failover = %v, want ErrNotObtained (the promoted master has the lock)", err)
	}
	if err := retry("Extend", func() error { return lk.Extend(ctx) }); err != nil {
		t.Fatalf("Extend after the failover = %v", err)
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatalf("Unlock after the failover = %v", err)
	}
	if n, err := replica.Exists(ctx, l.key("f")).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS on the promoted master after Unlock = %d, %v; want 0", n, err)
	}
	next, err := other.Lock(ctx, "f")
	if err != nil {
		t.Fatalf("other Lock after Unlock = %v", err)
	}
	if next.Token() <= lk.Token() {
		t.Errorf("token after the failover %d <= token before %d", next.Token(), lk.Token())
	}
	_ = next.Unlock(ctx)
}

// TestOneNodePausedContenders: contenders keep attempting (with short
// contexts) while the server is frozen, then it resumes and executes
// their queued grants. No two holders ever overlap, each caller returns
// within its context, every abandoned grant is released (the locks are
// free again at once, not after the TTL), and no goroutine is left.
func TestOneNodePausedContenders(t *testing.T) {
	ctx := t.Context()
	s := redistest.Start(t)
	const ttl = 10 * time.Second
	o := &Options{TTL: ttl, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}
	var lockers []*Locker
	for range 3 {
		lockers = append(lockers, mustLocker(t)(New(s.Client(t), withPrefix(t, o))))
	}
	// Warm the pools, so the attempts reach the frozen server.
	for _, l := range lockers {
		for range 4 {
			if err := l.Do(ctx, "warm", func(context.Context) error { return nil }); err != nil {
				t.Fatalf("Do = %v", err)
			}
		}
	}
	base := runtime.NumGoroutine()
	var (
		inside   [2]atomic.Int32
		overlaps atomic.Int32
		late     atomic.Int32
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	const budget = 150 * time.Millisecond
	names := [2]string{"tok", "memo"}
	for _, l := range lockers {
		for n := range names {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					actx, cancel := context.WithTimeout(ctx, budget)
					start := time.Now()
					var unlock func(context.Context) error
					if n == 0 {
						if lk, err := l.Lock(actx, names[n]); err == nil {
							unlock = lk.Unlock
						}
					} else if rel, ok, err := l.TryAcquire(actx, names[n]); err == nil && ok {
						unlock = rel
					}
					cancel()
					if time.Since(start) > budget+300*time.Millisecond {
						late.Add(1)
					}
					if unlock == nil {
						continue
					}
					if inside[n].Add(1) != 1 {
						overlaps.Add(1)
					}
					runtime.Gosched()
					inside[n].Add(-1)
					_ = unlock(ctx)
				}
			})
		}
	}
	pauseFor := func(d time.Duration) {
		s.Pause(t)
		time.Sleep(d) // the server stays frozen for d while the contenders try
		s.Resume(t)
	}
	for range 3 {
		pauseFor(400 * time.Millisecond)
		time.Sleep(100 * time.Millisecond) // let the contenders run on the live server
	}
	close(stop)
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d overlapping holders", n)
	}
	if n := late.Load(); n != 0 {
		t.Errorf("%d attempts returned later than their context (+300ms)", n)
	}
	// Every grant that landed after its attempt gave up was released: the
	// locks are free well before their TTL.
	admin := s.Client(t)
	for _, name := range names {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n, err := admin.Exists(ctx, lockers[0].key(name)).Result()
			if err == nil && n == 0 {
				break
			}
			if time.Now().After(deadline) {
				pttl, _ := admin.PTTL(ctx, lockers[0].key(name)).Result()
				t.Fatalf("lock %q still held (PTTL %v) with no holder: an abandoned grant was left behind", name, pttl)
			}
			time.Sleep(10 * time.Millisecond) // polling the server: no event to wait on
		}
	}
	_, noTTL := scanTTLs(t, admin)
	if len(noTTL) > 0 {
		t.Errorf("keys without TTL: %q", noTTL)
	}
	waitGoroutines(t, base)
}

// containsLine reports whether INFO text s has the line line.
func containsLine(s, line string) bool {
	for l := range strings.Lines(s) {
		if strings.TrimRight(l, "\r\n") == line {
			return true
		}
	}
	return false
}

// TestOneNodeClusterSlotMoved: the slot of a held lock migrates to
// another master (whose script cache is empty), first half-way (the lock
// key moved, its fence counter not yet), then completely. The holder
// keeps extending it, nobody else gets it meanwhile, the release finds it
// on the new owner, and the next token is larger.
func TestOneNodeClusterSlotMoved(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cl := redistest.StartCluster(t, 3)
	o := &Options{TTL: 5 * time.Second, RetryDelay: 5 * time.Millisecond}
	l := mustLocker(t)(New(cl.Client(t), withPrefix(t, o)))
	other := mustLocker(t)(New(cl.Client(t), withPrefix(t, o)))
	lk, err := l.Lock(ctx, "m")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	key := l.key("m")
	admin := cl.Client(t)
	slot, err := admin.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	from := -1
	for i, n := range cl.Nodes {
		if c, err := n.Client(t).ClusterCountKeysInSlot(ctx, int(slot)).Result(); err == nil && c == 2 {
			from = i // the lock key and its fence counter
		}
	}
	if from < 0 {
		t.Fatalf("no node holds the lock key and its fence counter in slot %d", slot)
	}
	to := (from + 1) % len(cl.Nodes)
	if err := cl.BeginMigration(ctx, int(slot), from, to); err != nil {
		t.Fatal(err)
	}
	if err := cl.MigrateKeys(ctx, from, to, key); err != nil {
		t.Fatal(err)
	}
	// Half-way: multi-key scripts on the source answer TRYAGAIN.
	if err := lk.Extend(ctx); err != nil {
		t.Errorf("Extend with the lock key migrated = %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = other.TryLock(tctx, "m")
	cancel()
	if !errors.Is(err, ErrNotObtained) && !errors.Is(err, ErrQuorum) {
		t.Fatalf("TryLock of a held lock during the migration = %v, want ErrNotObtained or ErrQuorum (TRYAGAIN)", err)
	}
	if _, ok, err := other.TryAcquire(ctx, "m"); ok || err != nil && !errors.Is(err, ErrQuorum) {
		t.Fatalf("TryAcquire of a held lock during the migration = %v, %v; want false and nil or ErrQuorum", ok, err)
	}
	if err := cl.MigrateSlotKeys(ctx, int(slot), from, to); err != nil {
		t.Fatal(err)
	}
	if err := cl.FinishMigration(ctx, int(slot), to); err != nil {
		t.Fatal(err)
	}
	if _, err := other.TryLock(ctx, "m"); !errors.Is(err, ErrNotObtained) {
		t.Errorf("TryLock after the move = %v, want ErrNotObtained", err)
	}
	if err := lk.Extend(ctx); err != nil {
		t.Errorf("Extend after the move = %v", err)
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Errorf("Unlock after the move = %v", err)
	}
	if n, err := cl.Nodes[to].Client(t).Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS on the new owner after Unlock = %d, %v; want 0", n, err)
	}
	next, err := other.Lock(ctx, "m")
	if err != nil {
		t.Fatalf("other Lock after Unlock = %v", err)
	}
	if next.Token() <= lk.Token() {
		t.Errorf("token after the move %d <= token before %d", next.Token(), lk.Token())
	}
	_ = next.Unlock(ctx)
}
