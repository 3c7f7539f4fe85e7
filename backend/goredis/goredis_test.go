package goredis_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/backendtest"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		backendtest.Run(t, func(t *testing.T) backend.Backend { return newStandalone(t) })
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		backendtest.Run(t, func(t *testing.T) backend.Backend { return newCluster(t) })
	})
}

func TestNewRequiresContextTimeout(t *testing.T) {
	t.Parallel()
	addr := redistest.Shared(t).Addr
	plain := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = plain.Close() })
	if _, err := goredis.New(plain, nil); !errors.Is(err, goredis.ErrContextTimeoutDisabled) {
		t.Fatalf("New(client without ContextTimeoutEnabled) = %v, want ErrContextTimeoutDisabled", err)
	}
	if _, err := goredis.New(plain, &goredis.Options{AllowContextTimeoutDisabled: true}); err != nil {
		t.Fatalf("New(..., AllowContextTimeoutDisabled) = %v, want nil", err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	t.Cleanup(func() { _ = cc.Close() })
	if _, err := goredis.New(cc, nil); !errors.Is(err, goredis.ErrContextTimeoutDisabled) {
		t.Fatalf("New(cluster client without ContextTimeoutEnabled) = %v, want ErrContextTimeoutDisabled", err)
	}
	r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}})
	t.Cleanup(func() { _ = r.Close() })
	if _, err := goredis.New(r, nil); !errors.Is(err, goredis.ErrContextTimeoutDisabled) {
		t.Fatalf("New(ring without ContextTimeoutEnabled) = %v, want ErrContextTimeoutDisabled", err)
	}
	if _, err := goredis.New(nil, nil); err == nil {
		t.Fatalf("New(nil) = nil error, want an error")
	}
	b := dial(t, &redis.UniversalOptions{Addrs: []string{addr}}, nil)
	c, ok := b.Client().(*redis.Client)
	if !ok || !c.Options().ContextTimeoutEnabled {
		t.Fatalf("Dial built %T with ContextTimeoutEnabled=%v, want *redis.Client with true", b.Client(), ok && c.Options().ContextTimeoutEnabled)
	}
}

func TestErrorTranslation(t *testing.T) {
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		if _, err := b.Get(ctx, p+"missing"); !errors.Is(err, backend.ErrNotFound) || errors.Is(err, redis.Nil) {
			t.Fatalf("Get(missing) = %v, want ErrNotFound (not redis.Nil)", err)
		}
		if _, err := b.Get(ctx, ""); !errors.Is(err, backend.ErrInvalidKey) {
			t.Fatalf("Get(\"\") = %v, want ErrInvalidKey", err)
		}
		if err := b.Delete(ctx, p+"a", ""); !errors.Is(err, backend.ErrInvalidKey) {
			t.Fatalf("Delete(a, \"\") = %v, want ErrInvalidKey", err)
		}
		if err := b.Set(ctx, p+"forever", []byte("v"), backend.NoExpiry); err != nil {
			t.Fatalf("Set(NoExpiry) = %v", err)
		}
		if ms := b.Client().PTTL(ctx, p+"forever").Val(); ms != -1 {
			t.Fatalf("PTTL after Set(NoExpiry) = %v, want -1 (no expiry)", ms)
		}
		if err := b.Set(ctx, p+"ms", []byte("v"), 1500*time.Millisecond+time.Microsecond); err != nil {
			t.Fatalf("Set(1.500001s) = %v", err)
		}
		if ms := b.Client().PTTL(ctx, p+"ms").Val(); ms <= time.Second || ms > 1501*time.Millisecond {
			t.Fatalf("PTTL after Set(1.500001s) = %v, want in (1s, 1.501s] (millisecond precision, rounded up)", ms)
		}
	})
}

// TestInvalidTTLBeforeIO uses a paused server: a request that reached the
// network would hang until the context deadline.
func TestInvalidTTLBeforeIO(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	b := dial(t, &redis.UniversalOptions{Addrs: []string{s.Addr}}, nil)
	ctx := t.Context()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	s.Pause(t)
	defer s.Resume(t)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	for _, ttl := range []time.Duration{0, -time.Millisecond} {
		if err := b.Set(ctx, "k", []byte("v"), ttl); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("Set(ttl=%v) = %v, want ErrInvalidTTL", ttl, err)
		}
		if _, err := b.Incr(ctx, "k", 1, ttl); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("Incr(ttl=%v) = %v, want ErrInvalidTTL", ttl, err)
		}
		if err := b.Expire(ctx, "k", ttl); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("Expire(ttl=%v) = %v, want ErrInvalidTTL", ttl, err)
		}
		if _, err := b.CompareAndSwap(ctx, "k", nil, []byte("v"), ttl); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("CompareAndSwap(ttl=%v) = %v, want ErrInvalidTTL", ttl, err)
		}
		if err := b.SetMany(ctx, []backend.Item{{Key: "k", Value: []byte("v"), TTL: ttl}}); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("SetMany(ttl=%v) = %v, want ErrInvalidTTL", ttl, err)
		}
		for _, op := range []backend.Op{backend.SetOp("k", []byte("v"), ttl), backend.ExpireOp("k", ttl), backend.IncrOp("k", 1, ttl)} {
			if _, err := b.Pipeline(ctx, []backend.Op{backend.GetOp("k"), op}); !errors.Is(err, backend.ErrInvalidTTL) {
				t.Fatalf("Pipeline(%v ttl=%v) = %v, want ErrInvalidTTL", op.Kind, ttl, err)
			}
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("rejecting invalid TTLs took %v: some call went to the paused server", took)
	}
}

func TestIncr(t *testing.T) {
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		n, err := b.Incr(ctx, p+"c", 5, time.Minute)
		if err != nil || n != 5 {
			t.Fatalf("Incr(new, 5) = %d, %v, want 5", n, err)
		}
		if ttl := b.Client().PTTL(ctx, p+"c").Val(); ttl <= 0 || ttl > time.Minute {
			t.Fatalf("PTTL after Incr created the key = %v, want in (0, 1m]", ttl)
		}
		if n, err = b.Incr(ctx, p+"c", -7, time.Hour); err != nil || n != -2 {
			t.Fatalf("Incr(existing, -7) = %d, %v, want -2", n, err)
		}
		if ttl := b.Client().PTTL(ctx, p+"c").Val(); ttl > time.Minute {
			t.Fatalf("PTTL after Incr on existing key = %v, want the original ≤ 1m kept", ttl)
		}
		if _, err := b.Incr(ctx, p+"forever", 1, backend.NoExpiry); err != nil {
			t.Fatalf("Incr(NoExpiry) = %v", err)
		}
		if ttl, err := b.TTL(ctx, p+"forever"); err != nil || ttl != backend.NoExpiry {
			t.Fatalf("TTL after Incr(NoExpiry) = %v, %v, want NoExpiry", ttl, err)
		}
		if err := b.Set(ctx, p+"text", []byte("abc"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Incr(ctx, p+"text", 1, time.Minute); !errors.Is(err, backend.ErrNotInteger) || errors.Is(err, backend.ErrOutcomeUnknown) {
			t.Fatalf("Incr(non-integer) = %v, want backend.ErrNotInteger (outcome known)", err)
		}
		if v, _ := b.Get(ctx, p+"text"); string(v) != "abc" {
			t.Fatalf("Get after failed Incr = %q, want abc unchanged", v)
		}
		if err := b.Set(ctx, p+"max", []byte(fmt.Sprint(int64(math.MaxInt64))), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Incr(ctx, p+"max", 1, time.Minute); !errors.Is(err, backend.ErrOverflow) {
			t.Fatalf("Incr(MaxInt64, 1) = %v, want backend.ErrOverflow", err)
		}
	})
}

func TestExpirer(t *testing.T) {
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		if _, err := b.TTL(ctx, p+"missing"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("TTL(missing) = %v, want ErrNotFound", err)
		}
		if err := b.Expire(ctx, p+"missing", time.Minute); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Expire(missing) = %v, want ErrNotFound", err)
		}
		if err := b.Expire(ctx, p+"missing", backend.NoExpiry); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Expire(missing, NoExpiry) = %v, want ErrNotFound", err)
		}
		if err := b.Persist(ctx, p+"missing"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Persist(missing) = %v, want ErrNotFound", err)
		}
		if err := b.Set(ctx, p+"k", []byte("v"), backend.NoExpiry); err != nil {
			t.Fatal(err)
		}
		if err := b.Persist(ctx, p+"k"); err != nil {
			t.Fatalf("Persist(key without TTL) = %v, want nil", err)
		}
		if err := b.Expire(ctx, p+"k", 90*time.Second); err != nil {
			t.Fatalf("Expire = %v", err)
		}
		if ttl, err := b.TTL(ctx, p+"k"); err != nil || ttl <= time.Minute || ttl > 90*time.Second {
			t.Fatalf("TTL after Expire(90s) = %v, %v, want in (1m, 90s]", ttl, err)
		}
		if err := b.Persist(ctx, p+"k"); err != nil {
			t.Fatalf("Persist = %v", err)
		}
		if ttl, err := b.TTL(ctx, p+"k"); err != nil || ttl != backend.NoExpiry {
			t.Fatalf("TTL after Persist = %v, %v, want NoExpiry", ttl, err)
		}
		if err := b.Expire(ctx, p+"k", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := b.Expire(ctx, p+"k", backend.NoExpiry); err != nil {
			t.Fatalf("Expire(NoExpiry) = %v", err)
		}
		if ttl, err := b.TTL(ctx, p+"k"); err != nil || ttl != backend.NoExpiry {
			t.Fatalf("TTL after Expire(NoExpiry) = %v, %v, want NoExpiry", ttl, err)
		}
	})
}

func TestCompareAndSwap(t *testing.T) {
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		k := p + "k"
		steps := []struct {
			old, value []byte
			want       bool
			after      string
		}{
			{nil, []byte("a"), true, "a"},  // absent → stored
			{nil, []byte("b"), false, "a"}, // present, nil old → refused
			{[]byte("x"), []byte("b"), false, "a"},
			{[]byte("a"), []byte(""), true, ""}, // equal → stored (empty value)
			{nil, []byte("c"), false, ""},       // empty value is present
			{[]byte{}, []byte("d"), true, "d"},  // empty old matches empty value
		}
		for i, s := range steps {
			got, err := b.CompareAndSwap(ctx, k, s.old, s.value, time.Minute)
			if err != nil || got != s.want {
				t.Fatalf("step %d: CompareAndSwap(old=%q, %q) = %v, %v, want %v", i, s.old, s.value, got, err, s.want)
			}
			v, err := b.Get(ctx, k)
			if err != nil || string(v) != s.after {
				t.Fatalf("step %d: Get = %q, %v, want %q", i, v, err, s.after)
			}
		}
		if ttl, err := b.TTL(ctx, k); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("TTL after CompareAndSwap(1m) = %v, %v, want in (0, 1m]", ttl, err)
		}
		if ok, err := b.CompareAndSwap(ctx, k, []byte("d"), []byte("e"), backend.NoExpiry); err != nil || !ok {
			t.Fatalf("CompareAndSwap(NoExpiry) = %v, %v, want true", ok, err)
		}
		if ttl, err := b.TTL(ctx, k); err != nil || ttl != backend.NoExpiry {
			t.Fatalf("TTL after CompareAndSwap(NoExpiry) = %v, %v, want NoExpiry", ttl, err)
		}
	})
}

func TestBatchEmptyAndMissing(t *testing.T) {
	topologies(t, func(t *testing.T, b *goredis.Backend) {
		ctx := t.Context()
		p := prefix(t)
		if err := b.SetMany(ctx, []backend.Item{{Key: p + "e", Value: nil, TTL: time.Minute}, {Key: p + "v", Value: []byte("x"), TTL: backend.NoExpiry}}); err != nil {
			t.Fatalf("SetMany = %v", err)
		}
		got, err := b.GetMany(ctx, []string{p + "e", p + "missing", p + "v"})
		if err != nil {
			t.Fatalf("GetMany = %v", err)
		}
		if got[0] == nil || len(got[0]) != 0 || got[1] != nil || string(got[2]) != "x" {
			t.Fatalf("GetMany = %q (nil: %v, %v), want [\"\" (non-nil), nil, x]", got, got[0] == nil, got[1] == nil)
		}
		if ttl, err := b.TTL(ctx, p+"v"); err != nil || ttl != backend.NoExpiry {
			t.Fatalf("TTL of SetMany NoExpiry item = %v, %v, want NoExpiry", ttl, err)
		}
		if got, err := b.GetMany(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("GetMany(nil) = %v, %v, want empty", got, err)
		}
		if err := b.Delete(ctx); err != nil {
			t.Fatalf("Delete() = %v, want nil", err)
		}
	})
}

func TestMonitoring(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		nodes int
		new   func(testing.TB) *goredis.Backend
	}{
		{"standalone", 1, func(t testing.TB) *goredis.Backend {
			return dial(t, &redis.UniversalOptions{Addrs: []string{redistest.Start(t).Addr}}, nil)
		}},
		{"cluster", 3, newCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.new(t)
			ctx := t.Context()
			p := prefix(t)
			if err := b.Ping(ctx); err != nil {
				t.Fatalf("Ping = %v", err)
			}
			info, err := b.Info(ctx, "server")
			if err != nil || strings.Count(info, "redis_version:") != tc.nodes {
				t.Fatalf("Info(server) has %d redis_version lines, err %v; want %d", strings.Count(info, "redis_version:"), err, tc.nodes)
			}
			stats, err := b.MemoryStats(ctx)
			if err != nil || len(stats) != tc.nodes {
				t.Fatalf("MemoryStats = %+v, %v; want %d nodes", stats, err, tc.nodes)
			}
			for _, s := range stats {
				if s.Addr == "" || s.UsedMemory <= 0 || s.UsedMemoryPeak < s.UsedMemory/2 || s.FragmentationRatio <= 0 {
					t.Fatalf("MemoryStats entry %+v: want address, used memory and ratio > 0", s)
				}
			}
			before, err := b.KeyCount(ctx)
			if err != nil {
				t.Fatalf("KeyCount = %v", err)
			}
			for i := range 30 {
				if err := b.Set(ctx, fmt.Sprintf("%sk%d", p, i), []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			after, err := b.KeyCount(ctx)
			if err != nil || after < 30 {
				t.Fatalf("KeyCount after 30 Sets = %d (before %d), %v; want ≥ 30", after, before, err)
			}
			if tc.name == "standalone" && after != 30 {
				t.Fatalf("KeyCount on a private server = %d, want 30", after)
			}
			keys, err := b.KeysDevOnly(ctx, p+"*")
			if err != nil || len(keys) != 30 {
				t.Fatalf("KeysDevOnly = %d keys, %v; want 30", len(keys), err)
			}
			if _, err := b.KeysDevOnly(ctx, ""); !errors.Is(err, backend.ErrInvalidPattern) {
				t.Fatalf("KeysDevOnly(\"\") = %v, want ErrInvalidPattern", err)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	b, err := goredis.Dial(&redis.UniversalOptions{Addrs: []string{redistest.Shared(t).Addr}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	ctx := t.Context()
	if _, err := b.Get(ctx, "k"); !errors.Is(err, backend.ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(ctx, "c"); !errors.Is(err, backend.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if err := b.Client().Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Ping on the Dial-owned client after Close = %v, want redis.ErrClosed", err)
	}
}
