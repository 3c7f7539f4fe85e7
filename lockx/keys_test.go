package lockx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// scanTTLs scans every key of the server and returns them all, and those
// without a TTL.
func scanTTLs(t *testing.T, c *redis.Client) (all, noTTL []string) {
	t.Helper()
	ctx := t.Context()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		for _, k := range keys {
			ttl, err := c.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatalf("PTTL %q: %v", k, err)
			}
			if ttl == -1 { // -2: expired between SCAN and PTTL, fine
				noTTL = append(noTTL, k)
			}
		}
		all = append(all, keys...)
		if cursor = next; cursor == 0 {
			return all, noTTL
		}
	}
}

func countContaining(keys []string, substr string) int {
	n := 0
	for _, k := range keys {
		if strings.Contains(k, substr) {
			n++
		}
	}
	return n
}

// TestNoKeyWithoutTTL: memo's use (TryAcquire, then release, over many
// cold keys), Do, and token locks (Lock, Unlock) leave no key without a
// TTL in the server, and the locks whose caller sees no token leave no
// fence counter at all. Before fence counters had a TTL, every cold key
// of memo left one counter behind forever.
func TestNoKeyWithoutTTL(t *testing.T) {
	t.Parallel()
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprint(nodes, "nodes"), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			servers := redistest.StartN(t, nodes)
			l := redlock(t, servers, &Options{TTL: 5 * time.Second})
			const n = 500
			var held []func(context.Context) error
			for i := range n {
				release, ok, err := l.TryAcquire(ctx, fmt.Sprint("memo-", i))
				if !ok || err != nil {
					t.Fatalf("TryAcquire = %v, %v; want true, nil", ok, err)
				}
				if i%10 == 0 { // still held at the scan: its key must expire too
					held = append(held, release)
					continue
				}
				if err := release(ctx); err != nil {
					t.Fatalf("release = %v", err)
				}
			}
			for i := range n / 10 {
				if err := l.Do(ctx, fmt.Sprint("dox-", i), func(context.Context) error { return nil }); err != nil {
					t.Fatalf("Do = %v", err)
				}
			}
			for i := range n {
				lk, err := l.Lock(ctx, fmt.Sprint("tok-", i))
				if err != nil {
					t.Fatalf("Lock = %v", err)
				}
				if err := lk.Unlock(ctx); err != nil {
					t.Fatalf("Unlock = %v", err)
				}
			}
			memoKeys := make([]int, len(servers))
			for i, s := range servers {
				keys, noTTL := scanTTLs(t, s.Client(t))
				if len(noTTL) > 0 {
					t.Errorf("%s: %d keys without TTL, e.g. %q", s.Addr, len(noTTL), noTTL[0])
				}
				memoKeys[i] = countContaining(keys, "{memo-")
				if got := countContaining(keys, "{dox-"); got != 0 {
					t.Errorf("%s: %d keys left by Do, want 0", s.Addr, got)
				}
				if got := countContaining(keys, fenceSuffix); got != n {
					t.Errorf("%s: %d fence counters, want %d (one per token lock name)", s.Addr, got, n)
				}
			}
			lost := 0 // a loaded machine can cost a held lock its lease
			for _, release := range held {
				switch err := release(ctx); {
				case errors.Is(err, ErrLost):
					lost++
				case err != nil:
					t.Fatalf("release = %v", err)
				}
			}
			// Released locks leave nothing. A held lock has its key on a
			// quorum of the nodes at least (a Redlock node that answered
			// its grant too late may lack it).
			total := 0
			for i, got := range memoKeys {
				total += got
				if want := len(held); got > want {
					t.Errorf("%s: %d memo lock keys, want at most %d (the ones still held)", servers[i].Addr, got, want)
				}
			}
			if quorum := nodes/2 + 1; total < quorum*(len(held)-lost) {
				t.Errorf("%d memo lock keys over %d nodes, want at least %d (quorum %d × %d held, %d lost)",
					total, nodes, quorum*(len(held)-lost), quorum, len(held), lost)
			}
		})
	}
}

// TestTokensAcrossFenceExpiry: a fence counter lives fenceTTL after its
// last grant; once it has expired, the next grant still mints a larger
// token (from the server clock).
func TestTokensAcrossFenceExpiry(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			l := im.new(t, nil)
			fence := l.key("f") + fenceSuffix
			var prev int64
			for round := range 3 {
				lk, err := l.Lock(ctx, "f")
				if err != nil {
					t.Fatalf("Lock = %v", err)
				}
				if lk.Token() <= prev {
					t.Fatalf("round %d: token %d after %d, want strictly increasing", round, lk.Token(), prev)
				}
				prev = lk.Token()
				if err := lk.Unlock(ctx); err != nil {
					t.Fatalf("Unlock = %v", err)
				}
				if im.client == nil {
					l.drv.(*localDriver).expireFence(l.key("f"))
					continue
				}
				c := im.client(t)
				ttl, err := c.PTTL(ctx, fence).Result()
				if err != nil || ttl <= fenceTTL-time.Minute || ttl > fenceTTL {
					t.Fatalf("PTTL(fence) = %v, %v; want about %v", ttl, err, fenceTTL)
				}
				if round == 1 {
					continue // the next grant finds the counter and adds to it
				}
				if err := c.PExpire(ctx, fence, time.Millisecond).Err(); err != nil {
					t.Fatal(err)
				}
				waitGone(t, c, fence)
			}
		})
	}
}

// waitGone polls until key has expired.
func waitGone(t *testing.T, c redis.UniversalClient, key string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.Exists(t.Context(), key).Result()
		if err != nil {
			t.Fatalf("EXISTS: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q still exists", key)
		}
		time.Sleep(time.Millisecond) // polling an expiry in the server: no event to wait on
	}
}
