package lockx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	oneNodeViaRedsync = os.Getenv("LOCKX_ONE_NODE_REDSYNC") != ""
	redistest.Main(m)
}

// memoLocker is memo's Locker interface, declared here as memo declares it.
type memoLocker interface {
	TryAcquire(ctx context.Context, name string) (release func(context.Context) error, ok bool, err error)
}

// Both the Redis and the process-local implementation are *Locker.
var _ memoLocker = (*Locker)(nil)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// impl builds a Locker of one kind for a test; client returns a plain
// client for out-of-band Redis access (nil for local).
type impl struct {
	name   string
	new    func(t *testing.T, o *Options) *Locker
	client func(t *testing.T) redis.UniversalClient
}

// runID keeps keys of repeated runs (-count) against one server apart.
var runID = strconv.FormatInt(time.Now().UnixNano(), 36)

// testPrefix is a key prefix shared by every Locker of one test (lock
// names must meet in Redis), unique to the test and the run.
func testPrefix(t *testing.T) string {
	r := strings.NewReplacer("/", ".", " ", "_", "{", "_", "}", "_", ":", "_", "*", "_", "?", "_", "[", "_", "]", "_", "\\", "_")
	return "t." + runID + "." + r.Replace(t.Name()) + ":"
}

func withPrefix(t *testing.T, o *Options) *Options {
	t.Helper()
	c := Options{}
	if o != nil {
		c = *o
	}
	if c.Prefix == "" {
		c.Prefix = testPrefix(t)
	}
	c.Logger = quietLogger
	return &c
}

func mustLocker(t *testing.T) func(*Locker, error) *Locker {
	return func(l *Locker, err error) *Locker {
		t.Helper()
		if err != nil {
			t.Fatalf("new Locker: %v", err)
		}
		return l
	}
}

// heldTTL is the lease of a test lock that must stay held while its
// watchdog runs. A lease lapses when the holder's process cannot run a
// TTL/3 tick and the extension's round trip within 2/3 of the TTL: under
// -race on a loaded 2-core machine, 300 ms leases lapsed (~200 ms stalls)
// in TestWatchdogKeepsAlive, TestWatchdogCycles and TestPausedHolder, and
// 600 ms ones too (a plain sleep loop there overslept by up to 509 ms
// within a minute).
const heldTTL = time.Second

var impls = []impl{
	{
		name: "local",
		new: func(t *testing.T, o *Options) *Locker {
			return mustLocker(t)(NewLocal(withPrefix(t, o)))
		},
	},
	{
		name: "redis",
		new: func(t *testing.T, o *Options) *Locker {
			return mustLocker(t)(New(redistest.Shared(t).Client(t), withPrefix(t, o)))
		},
		client: func(t *testing.T) redis.UniversalClient { return redistest.Shared(t).Client(t) },
	},
	{
		name: "cluster",
		new: func(t *testing.T, o *Options) *Locker {
			return mustLocker(t)(New(redistest.SharedCluster(t).Client(t), withPrefix(t, o)))
		},
		client: func(t *testing.T) redis.UniversalClient { return redistest.SharedCluster(t).Client(t) },
	},
}

// deleteOutOfBand removes the lock's key behind its holder's back.
func deleteOutOfBand(t *testing.T, im impl, l *Locker, name string) {
	t.Helper()
	if im.client == nil {
		l.drv.(*localDriver).deleteKey(l.key(name))
		return
	}
	if err := im.client(t).Del(t.Context(), l.key(name)).Err(); err != nil {
		t.Fatalf("DEL: %v", err)
	}
}

// fenced is a protected resource: it accepts a write only if its token is
// not lower than the highest token it has seen.
type fenced struct {
	mu       sync.Mutex
	highest  int64
	tokens   []int64 // accepted tokens, in order
	rejected int
}

func (f *fenced) write(tok int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tok < f.highest {
		f.rejected++
		return false
	}
	f.highest = tok
	f.tokens = append(f.tokens, tok)
	return true
}

// waitGoroutines polls until the goroutine count is back to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines = %d, want <= %d (baseline)\n%s", n, base, buf)
		}
		time.Sleep(10 * time.Millisecond) // polling the runtime: no event to wait on
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    *Options
		want string // substring of the error; "" = valid
	}{
		{"nil", nil, ""},
		{"zero", &Options{}, ""},
		{"min TTL", &Options{TTL: MinTTL}, ""},
		{"tiny TTL", &Options{TTL: time.Millisecond}, "TTL"},
		{"negative TTL", &Options{TTL: -time.Second}, "TTL"},
		{"negative tries", &Options{Tries: -1}, "Tries"},
		{"negative delay", &Options{RetryDelay: -1}, "delay"},
		{"max below min delay", &Options{RetryDelay: time.Second, MaxRetryDelay: time.Millisecond}, "MaxRetryDelay"},
		{"negative max hold", &Options{MaxHold: -1}, "MaxHold"},
		{"brace in prefix", &Options{Prefix: "a{b}:"}, "Prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewLocal(tt.o)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewLocal(%+v) = %v, want nil", tt.o, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewLocal(%+v) = %v, want an error about %s", tt.o, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("NewLocal(%+v) = %v, want errors.Is ErrInvalidOptions", tt.o, err)
			}
			if _, err := New(redistest.Shared(t).Client(t), tt.o); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New(%+v) = %v, want errors.Is ErrInvalidOptions", tt.o, err)
			}
		})
	}

	l, _ := NewLocal(nil)
	if _, err := l.Lock(t.Context(), ""); err == nil {
		t.Errorf("Lock(\"\") = nil error, want an error")
	}
	if l.cfg.ttl != DefaultTTL || l.cfg.tries != 0 || !l.cfg.watchdog {
		t.Errorf("defaults = %+v, want TTL %v, unlimited tries, watchdog on", l.cfg, DefaultTTL)
	}
}

func TestNewClientChecks(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	noTimeout := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = noTimeout.Close() })
	if _, err := New(noTimeout, nil); err == nil || !strings.Contains(err.Error(), "ContextTimeoutEnabled") {
		t.Errorf("New(client without ContextTimeoutEnabled) = %v, want an error", err)
	}
	c := s.Client(t)
	if _, err := NewRedlock([]redis.UniversalClient{c, c}, nil); err == nil {
		t.Errorf("NewRedlock(same client twice) = nil error, want an error")
	}
	if _, err := NewRedlock(nil, nil); err == nil {
		t.Errorf("NewRedlock(nil) = nil error, want an error")
	}
	if _, err := New(nil, nil); err == nil {
		t.Errorf("New(nil) = nil error, want an error")
	}
}

func TestBasics(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			l := im.new(t, &Options{TTL: time.Second})
			// A name that tries to inject a hash tag and glob characters.
			name := "job:{42}*"
			lk, err := l.Lock(ctx, name)
			if err != nil {
				t.Fatalf("Lock = %v", err)
			}
			if lk.Name() != name || lk.Token() <= 0 {
				t.Errorf("Name, Token = %q, %d; want %q, > 0", lk.Name(), lk.Token(), name)
			}
			if d := time.Until(lk.Until()); d <= 0 || d > time.Second {
				t.Errorf("Until in %v, want within (0, 1s]", d)
			}
			if im.client != nil {
				key := l.key(name)
				if strings.Count(key, "{") != 1 {
					t.Errorf("key %q carries an injected hash tag", key)
				}
				if n, err := im.client(t).Exists(ctx, key, key+fenceSuffix).Result(); err != nil || n != 2 {
					t.Errorf("EXISTS lock and fence = %d, %v; want 2", n, err)
				}
			}
			if _, err := l.TryLock(ctx, name); !errors.Is(err, ErrNotObtained) {
				t.Errorf("TryLock on held lock = %v, want ErrNotObtained", err)
			}
			release, ok, err := l.TryAcquire(ctx, name)
			if release != nil || ok || err != nil {
				t.Errorf("TryAcquire on held lock = %v, %v, %v; want nil, false, nil", release != nil, ok, err)
			}
			if err := lk.Extend(ctx); err != nil {
				t.Errorf("Extend = %v", err)
			}
			if err := lk.Unlock(ctx); err != nil {
				t.Fatalf("Unlock = %v", err)
			}
			if err := lk.Unlock(ctx); !errors.Is(err, ErrUnlocked) {
				t.Errorf("second Unlock = %v, want ErrUnlocked", err)
			}
			if err := lk.Extend(ctx); !errors.Is(err, ErrUnlocked) {
				t.Errorf("Extend after Unlock = %v, want ErrUnlocked", err)
			}
			select {
			case <-lk.Done():
			default:
				t.Errorf("Done not closed after Unlock")
			}
			if !errors.Is(lk.Err(), ErrUnlocked) {
				t.Errorf("Err after Unlock = %v, want ErrUnlocked", lk.Err())
			}

			release, ok, err = l.TryAcquire(ctx, name)
			if !ok || err != nil {
				t.Fatalf("TryAcquire on free lock = %v, %v; want true, nil", ok, err)
			}
			if err := release(ctx); err != nil {
				t.Errorf("release = %v", err)
			}

			// Unlock with an already-cancelled context still releases.
			lk, err = l.Lock(ctx, name)
			if err != nil {
				t.Fatalf("Lock = %v", err)
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := lk.Unlock(cctx); err != nil {
				t.Fatalf("Unlock(cancelled ctx) = %v, want nil", err)
			}
			lk2, err := l.TryLock(ctx, name)
			if err != nil {
				t.Fatalf("TryLock after Unlock(cancelled ctx) = %v: lock was not released", err)
			}
			if lk2.Token() <= lk.Token() {
				t.Errorf("tokens %d then %d, want strictly increasing", lk.Token(), lk2.Token())
			}
			_ = lk2.Unlock(ctx)
		})
	}
}

func TestDoPanicReleases(t *testing.T) {
	t.Parallel()
	for _, im := range impls[:2] {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			l := im.new(t, nil)
			func() {
				defer func() {
					if r := recover(); r != "boom" {
						t.Errorf("recover() = %v, want boom", r)
					}
				}()
				_ = l.Do(ctx, "p", func(context.Context) error { panic("boom") })
			}()
			lk, err := l.TryLock(ctx, "p")
			if err != nil {
				t.Fatalf("TryLock after panicking Do = %v, want the lock released", err)
			}
			_ = lk.Unlock(ctx)

			want := errors.New("fn failed")
			if err := l.Do(ctx, "p", func(context.Context) error { return want }); !errors.Is(err, want) {
				t.Errorf("Do = %v, want %v", err, want)
			}
		})
	}
}
