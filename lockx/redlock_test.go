package lockx

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func redlock(t *testing.T, servers []*redistest.Server, o *Options) *Locker {
	t.Helper()
	var cs []redis.UniversalClient
	for _, s := range servers {
		cs = append(cs, s.Client(t))
	}
	return mustLocker(t)(NewRedlock(cs, withPrefix(t, o)))
}

func TestRedlockQuorum(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers := redistest.StartN(t, 5)
	l := redlock(t, servers, &Options{TTL: 2 * time.Second})

	lk, err := l.TryLock(ctx, "q")
	if err != nil {
		t.Fatalf("TryLock with 5 healthy = %v", err)
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatalf("Unlock = %v", err)
	}

	servers[3].Kill(t)
	servers[4].Kill(t)
	lk, err = l.TryLock(ctx, "q")
	if err != nil {
		t.Fatalf("TryLock with 3 healthy of 5 = %v", err)
	}
	if _, err := l.TryLock(ctx, "q"); !errors.Is(err, ErrNotObtained) {
		t.Errorf("second TryLock with 3 healthy = %v, want ErrNotObtained", err)
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatalf("Unlock with 3 healthy = %v", err)
	}

	servers[2].Kill(t)
	_, err = l.TryLock(ctx, "q")
	var qe *QuorumError
	if !errors.As(err, &qe) || !errors.Is(err, ErrQuorum) {
		t.Fatalf("TryLock with 2 healthy = %v, want a *QuorumError", err)
	}
	want := []string{servers[2].Addr, servers[3].Addr, servers[4].Addr}
	if !slices.Equal(qe.Addrs, want) || qe.Quorum != 3 || qe.Op != "acquire" {
		t.Errorf("QuorumError = %+v, want op acquire, quorum 3, failed nodes %v", qe, want)
	}
	// Lock retries quorum failures until its tries run out.
	l3 := redlock(t, servers, &Options{TTL: 2 * time.Second, Tries: 2})
	if _, err := l3.Lock(ctx, "q"); !errors.As(err, &qe) {
		t.Errorf("Lock with 2 healthy = %v, want a *QuorumError", err)
	}
}

// TestRedlockRestartDetected: servers restarted empty while the lock is
// held stop counting for it; once fewer than a quorum hold it, the next
// extension reports the loss.
func TestRedlockRestartDetected(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers := redistest.StartN(t, 5)
	const ttl = 1500 * time.Millisecond
	l := redlock(t, servers, &Options{TTL: ttl})
	lk, err := l.Lock(ctx, "r")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	key := l.key("r")

	servers[0].Restart(t)
	if err := lk.Extend(ctx); err != nil {
		t.Fatalf("Extend with 1 of 5 restarted = %v, want nil (4 still hold it)", err)
	}
	if n, _ := servers[0].Client(t).Exists(ctx, key).Result(); n != 0 {
		t.Fatalf("restarted node has the lock key again: extension re-created it")
	}
	servers[1].Restart(t)
	servers[2].Restart(t)
	restarted := time.Now()
	select {
	case <-lk.Done():
	case <-time.After(2 * ttl):
		t.Fatalf("loss not detected within %v of the third restart", 2*ttl)
	}
	// The next tick comes within TTL/3 and its extension is bounded by
	// TTL/3 too; allow scheduling slack on a loaded machine.
	if took, limit := time.Since(restarted), 2*ttl/3+500*time.Millisecond; took > limit {
		t.Errorf("loss detected %v after the restart, want at the next watchdog extension (≤ %v)", took, limit)
	}
	if !errors.Is(lk.Err(), ErrLost) {
		t.Errorf("Err = %v, want ErrLost", lk.Err())
	}
	if err := lk.Extend(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("Extend after loss = %v, want ErrLost", err)
	}
	if err := lk.Unlock(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("Unlock after loss = %v, want ErrLost", err)
	}
	for _, s := range servers[:3] {
		if n, _ := s.Client(t).Exists(ctx, key).Result(); n != 0 {
			t.Errorf("restarted node %s has the lock key: re-created", s.Addr)
		}
	}
}

// TestRedlockTokenPropagation: node counters that drifted apart (here one
// is far ahead) are brought up to the granted token, so a later grant
// without that node still mints a larger token.
func TestRedlockTokenPropagation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers := redistest.StartN(t, 3)
	l := redlock(t, servers, &Options{TTL: 2 * time.Second})
	fence := l.key("f") + fenceSuffix
	const ahead = int64(9_000_000_000_000_000) // far above the clock in µs
	if err := servers[0].Client(t).Set(ctx, fence, ahead, 0).Err(); err != nil {
		t.Fatal(err)
	}
	lk, err := l.Lock(ctx, "f")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	if lk.Token() != ahead+1 {
		t.Fatalf("Token = %d, want %d (max over the quorum)", lk.Token(), ahead+1)
	}
	if err := lk.Unlock(ctx); err != nil {
		t.Fatalf("Unlock = %v", err)
	}
	// At least a quorum of nodes now has a counter at or above the token
	// (fail-fast may leave the slowest node without the grant at all).
	raised := 0
	for _, s := range servers {
		v, _ := s.Client(t).Get(ctx, fence).Result()
		if got, _ := strconv.ParseInt(v, 10, 64); got >= ahead+1 {
			raised++
			if ttl, _ := s.Client(t).PTTL(ctx, fence).Result(); ttl <= 0 && s != servers[0] {
				t.Errorf("raised fence counter on %s has PTTL %v, want a TTL", s.Addr, ttl)
			}
		}
	}
	if raised < 2 {
		t.Errorf("%d nodes have a fence counter >= %d, want a quorum (2)", raised, ahead+1)
	}
	servers[0].Kill(t)
	lk2, err := l.Lock(ctx, "f")
	if err != nil {
		t.Fatalf("Lock without node 0 = %v", err)
	}
	if lk2.Token() <= lk.Token() {
		t.Fatalf("Token without node 0 = %d, want > %d", lk2.Token(), lk.Token())
	}
	_ = lk2.Unlock(ctx)
}
