package lockx

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/internal/redistest"
)

// The waited mark: over one server, a refused TryAcquire or TryAcquireGet
// marks the lock, and TryAcquireGet's release reports and clears the mark.

// waitedKey is the waited mark of the lock called name.
func (l *Locker) waitedKey(name string) string { return l.key(name) + waitedSuffix }

// TestTryAcquireGetWaited: the release says waited exactly when an attempt
// of TryAcquire or TryAcquireGet was refused while the lock was held. The
// mark expires (0 < PTTL ≤ TTL) while it lives, and the release deletes it
// with the lock; Lock and TryLock, refused, write no mark; a mark left
// from an earlier holder (its waiters still wait) counts for the next one.
func TestTryAcquireGetWaited(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	client := s.Client(t)
	ctx := t.Context()
	const ttl = 2 * time.Second
	for _, folded := range []bool{true, false} {
		t.Run(fmt.Sprint("folded=", folded), func(t *testing.T) {
			t.Parallel()
			lc := client
			if !folded {
				lc = s.Client(t)
			}
			b := mustBackend(t, client, nil)
			l := mustLocker(t)(New(lc, withPrefix(t, &Options{TTL: ttl})))
			if l.GetsFrom(b) != folded {
				t.Fatalf("GetsFrom = %v, want %v", l.GetsFrom(b), folded)
			}
			other := mustLocker(t)(New(s.Client(t), withPrefix(t, &Options{TTL: ttl})))
			for _, tc := range []struct {
				name   string
				refuse func(name string) // one attempt by another process, refused
				waited bool
			}{
				{"uncontended", func(string) {}, false},
				{"refused TryAcquire", func(name string) {
					if _, ok, err := other.TryAcquire(ctx, name); ok || err != nil {
						t.Fatalf("TryAcquire of a held lock = %v, %v; want refused", ok, err)
					}
				}, true},
				{"refused TryAcquireGet", func(name string) {
					if _, ok, _, _, err := other.TryAcquireGet(ctx, name, b, "k"); ok || err != nil {
						t.Fatalf("TryAcquireGet of a held lock = %v, %v; want refused", ok, err)
					}
				}, true},
				{"refused TryLock", func(name string) {
					if _, err := other.TryLock(ctx, name); !errors.Is(err, ErrNotObtained) {
						t.Fatalf("TryLock of a held lock = %v; want ErrNotObtained", err)
					}
				}, false},
				{"refused Lock", func(name string) {
					lctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
					defer cancel()
					if _, err := other.Lock(lctx, name); err == nil {
						t.Fatal("Lock of a held lock succeeded")
					}
				}, false},
			} {
				name := tc.name
				release, ok, _, _, err := l.TryAcquireGet(ctx, name, b, "k")
				if err != nil || !ok {
					t.Fatalf("%s: TryAcquireGet = %v, %v; want granted", name, ok, err)
				}
				tc.refuse(name)
				pttl := client.PTTL(ctx, l.waitedKey(name)).Val()
				if tc.waited && (pttl <= 0 || pttl > ttl) {
					t.Errorf("%s: waited mark PTTL = %v, want in (0, %v]", name, pttl, ttl)
				}
				if !tc.waited && pttl != -2 {
					t.Errorf("%s: waited mark PTTL = %v, want no mark (-2)", name, pttl)
				}
				waited, err := release(ctx)
				if err != nil || waited != tc.waited {
					t.Errorf("%s: release = %v, %v; want waited=%v, nil", name, waited, err, tc.waited)
				}
				if n := client.Exists(ctx, l.key(name), l.waitedKey(name)).Val(); n != 0 {
					t.Errorf("%s: %d of the lock and its mark left after release", name, n)
				}
			}

			// A mark left behind (its holder's release never ran) is kept
			// by the next grant: the callers it refused still wait for
			// the value, which this holder brings.
			if err := client.Set(ctx, l.waitedKey("stale"), "1", ttl).Err(); err != nil {
				t.Fatal(err)
			}
			release, ok, _, _, err := l.TryAcquireGet(ctx, "stale", b, "k")
			if err != nil || !ok {
				t.Fatalf("TryAcquireGet = %v, %v", ok, err)
			}
			if waited, err := release(ctx); err != nil || !waited {
				t.Errorf("release after a mark left behind = %v, %v; want waited", waited, err)
			}

			// A release that finds the lock gone says waited (unknown), and
			// leaves the mark to its expiry.
			release, ok, _, _, err = l.TryAcquireGet(ctx, "lost", b, "k")
			if err != nil || !ok {
				t.Fatalf("TryAcquireGet = %v, %v", ok, err)
			}
			if err := client.Del(ctx, l.key("lost")).Err(); err != nil {
				t.Fatal(err)
			}
			if waited, err := release(ctx); !errors.Is(err, ErrLost) || !waited {
				t.Errorf("release of a lost lock = %v, %v; want waited, ErrLost", waited, err)
			}
		})
	}
}

// TestTryAcquireGetWaitedUnknown: without a mark to read (Redlock, the
// local Locker) the release always says waited, and no mark is written.
func TestTryAcquireGetWaitedUnknown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	servers := redistest.StartN(t, 3)
	b := mustBackend(t, servers[0].Client(t), nil)
	for _, tc := range []struct {
		name    string
		l, o    *Locker
		clients []*redis.Client
	}{
		{"redlock", redlock(t, servers, nil), redlock(t, servers, nil), []*redis.Client{servers[0].Client(t), servers[1].Client(t), servers[2].Client(t)}},
		{"local", mustLocker(t)(NewLocal(withPrefix(t, nil))), nil, nil},
	} {
		for _, contended := range []bool{false, true} {
			release, ok, _, _, err := tc.l.TryAcquireGet(ctx, "n", b, "k")
			if err != nil || !ok {
				t.Fatalf("%s: TryAcquireGet = %v, %v", tc.name, ok, err)
			}
			if contended && tc.o != nil {
				if _, ok, err := tc.o.TryAcquire(ctx, "n"); ok || err != nil {
					t.Fatalf("%s: TryAcquire of a held lock = %v, %v", tc.name, ok, err)
				}
			}
			for _, c := range tc.clients {
				if n := c.Exists(ctx, tc.l.waitedKey("n")).Val(); n != 0 {
					t.Errorf("%s: a waited mark on %s", tc.name, c.Options().Addr)
				}
			}
			if waited, err := release(ctx); err != nil || !waited {
				t.Errorf("%s: release = %v, %v; want waited (unknown), nil", tc.name, waited, err)
			}
		}
	}
}

// TestTryAcquireMarksWithoutWrites: over one server, a refused TryAcquire
// is one script call (the mark rides in the refused grant), and a
// TryAcquire holder's release deletes the mark too: no key is left.
func TestTryAcquireMarksWithoutWrites(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	client := s.Client(t)
	p := &cmdNames{}
	counted := s.Client(t)
	counted.AddHook(p)
	ctx := t.Context()
	l := mustLocker(t)(New(client, withPrefix(t, nil)))
	o := mustLocker(t)(New(counted, withPrefix(t, nil)))
	release, ok, err := l.TryAcquire(ctx, "n")
	if err != nil || !ok {
		t.Fatalf("TryAcquire = %v, %v", ok, err)
	}
	p.mu.Lock()
	p.cmds = nil // New's eviction check
	p.mu.Unlock()
	if _, ok, err := o.TryAcquire(ctx, "n"); ok || err != nil {
		t.Fatalf("TryAcquire of a held lock = %v, %v", ok, err)
	}
	if got := p.names(); len(got) != 1 || (got[0] != "evalsha" && got[0] != "eval") {
		t.Errorf("a refused TryAcquire sent %v, want one script call", got)
	}
	if client.Exists(ctx, l.waitedKey("n")).Val() != 1 {
		t.Error("a refused TryAcquire left no waited mark")
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := client.Exists(ctx, l.key("n"), l.waitedKey("n")).Val(); n != 0 {
		t.Errorf("%d of the lock and its mark left after release", n)
	}
}

// cmdNames records the names of the commands a client sends.
type cmdNames struct {
	pipes
	cmds []string
}

func (c *cmdNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.cmds = append(c.cmds, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *cmdNames) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.cmds {
		if n != "client" && n != "hello" && n != "ping" { // a new connection's set-up
			out = append(out, n)
		}
	}
	return out
}
