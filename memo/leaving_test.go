package memo_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/goredis"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

// faultyReads is a backend whose reads fail (mode 1), or, for keys ending
// with suffix, panic (mode 2, a backend's bug; other keys fail); mode 0
// passes them on. panics counts the reads that panicked.
type faultyReads struct {
	backend.Backend
	suffix string
	mode   atomic.Int32
	panics atomic.Int32
}

func (b *faultyReads) fault(keys ...string) error {
	switch b.mode.Load() {
	case 0:
		return nil
	case 2:
		for _, k := range keys {
			if strings.HasSuffix(k, b.suffix) {
				b.panics.Add(1)
				panic("backend bug")
			}
		}
	}
	return errors.New("injected backend failure")
}

func (b *faultyReads) Get(ctx context.Context, key string) ([]byte, error) {
	if err := b.fault(key); err != nil {
		return nil, err
	}
	return b.Backend.Get(ctx, key)
}

func (b *faultyReads) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := b.fault(keys...); err != nil {
		return nil, err
	}
	return backend.GetMany(ctx, b.Backend, keys)
}

// TestReadPanicReleasesBreakerProbe: when the breaker's half-open probe
// is a read that panics in the backend (Peek or GetMany, on a kept
// goroutine since their context can end, where the panic is recovered;
// Get's shared read, or its flight's re-check), the probe is released:
// once the backend is sound and a cooldown has passed, reads reach it
// again, instead of the breaker refusing every read for good (a probe
// that never settles; writes, which the breaker never refuses, would
// close it, so there are none here).
func TestReadPanicReleasesBreakerProbe(t *testing.T) {
	const cooldown = time.Minute
	load := func(context.Context) (string, error) { return "loaded", nil }
	loadMany := func(_ context.Context, keys []string) (map[string]string, error) {
		m := map[string]string{}
		for _, k := range keys {
			m[k] = "loaded"
		}
		return m, nil
	}
	for _, name := range []string{"Peek", "GetMany", "Get"} {
		t.Run(name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{Addr: redistest.Shared(t).Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = client.Close() })
			gb, err := goredis.New(client, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := &faultyReads{Backend: gb, suffix: ":k"}
			clk := newClock()
			clk.now = time.Now()
			c := newCache[string](t, b, &memo.Options{Namespace: "probe-panic-" + name + "-" + time.Now().Format("150405.000000000"),
				TTL: time.Hour, BreakerThreshold: 1, BreakerCooldown: cooldown, Now: clk.Now, Logger: discardLogger()})
			read := map[string]func(ctx context.Context) (string, error){
				"Peek": func(ctx context.Context) (string, error) {
					v, _, err := c.Peek(ctx, "k")
					return v, err
				},
				"GetMany": func(ctx context.Context) (string, error) {
					m, err := c.GetMany(ctx, []string{"k"}, loadMany)
					return m["k"], err
				},
				"Get": func(ctx context.Context) (string, error) { return c.Get(ctx, "k", load) },
			}[name]
			if err := c.Set(t.Context(), "k", "stored"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background()) // a context that can end: the read is handed off
			defer cancel()

			b.mode.Store(1)
			waitUntil(t, 5*time.Second, "the breaker open", func() bool {
				_, _ = read(ctx)
				return c.Stats().BreakerOpen
			})
			// Every read fails, so the breaker stays open: a read that
			// panics passed it as its probe.
			b.mode.Store(2)
			waitUntil(t, 5*time.Second, "a probe that panics", func() bool {
				clk.Advance(2 * cooldown)
				_, _ = read(ctx)
				return b.panics.Load() > 0
			})
			b.mode.Store(0)
			clk.Advance(2 * cooldown)
			var v string
			deadline := time.Now().Add(3 * time.Second)
			for {
				v, err = read(ctx)
				open := c.Stats().BreakerOpen
				if err == nil && !open && (name != "Peek" || v == "stored") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s after a probe that panicked, with the backend sound and a cooldown past = %q, %v, breaker open %v; want a value read from the backend, breaker closed",
						name, v, err, open)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}
