package memo_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/internal/redistest"
	"github.com/cachekit/cachekit/memo"
)

func TestInvalidateDuringLoad(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	testInvalidateDuringLoad(t, c, c)
}

// testInvalidateDuringLoad: a load paused mid-flight, an Invalidate on
// inv; the old value must not be stored; the next Get loads the new one.
func testInvalidateDuringLoad(t *testing.T, c, inv *memo.Cache[string]) {
	t.Helper()
	inLoad := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan string, 1)
	go func() {
		v, _ := c.Get(t.Context(), "k", func(context.Context) (string, error) {
			close(inLoad)
			<-resume
			return "old", nil
		})
		done <- v
	}()
	select {
	case <-inLoad:
	case <-time.After(10 * time.Second):
		t.Fatalf("the load never started (a value was already cached?)")
	}
	if err := inv.Invalidate(t.Context(), "k"); err != nil {
		t.Fatalf("Invalidate: %v", err)
	}
	close(resume)
	if v := <-done; v != "old" {
		t.Fatalf("paused load returned %q to its caller, want old", v)
	}
	v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || v != "new" {
		t.Fatalf("Get after invalidate = %q, %v; want new (the old value must not be stored)", v, err)
	}
	if c.Stats().StoresSkipped == 0 {
		t.Fatalf("StoresSkipped = 0, want the stale store counted")
	}
}

func TestSetDuringLoad(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	inLoad := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Get(t.Context(), "k", func(context.Context) (string, error) {
			close(inLoad)
			<-resume
			return "loaded-before-set", nil
		})
	}()
	<-inLoad
	if err := c.Set(t.Context(), "k", "set"); err != nil {
		t.Fatal(err)
	}
	close(resume)
	<-done
	v, err := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "reloaded", nil })
	if err != nil || v != "set" {
		t.Fatalf("Get = %q, %v; want set (a load older than Set must not overwrite it)", v, err)
	}
}

func TestClear(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), &memo.Options{L1Size: 100})
	for _, k := range []string{"a", "b"} {
		if err := c.Set(t.Context(), k, "old-"+k); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Clear(t.Context()); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	for _, k := range []string{"a", "b"} {
		v, err := c.Get(t.Context(), k, func(context.Context) (string, error) { return "new-" + k, nil })
		if err != nil || v != "new-"+k {
			t.Fatalf("Get(%s) after Clear = %q, %v; want new-%s", k, v, err, k)
		}
	}
}

func TestWriteThroughAndIncr(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), nil)
	var db string
	if err := c.WriteThrough(t.Context(), "k", "v", func(_ context.Context, v string) error { db = v; return nil }); err != nil || db != "v" {
		t.Fatalf("WriteThrough = %v, db=%q", err, db)
	}
	v, _ := c.Get(t.Context(), "k", func(context.Context) (string, error) { return "loaded", nil })
	if v != "v" {
		t.Fatalf("Get after WriteThrough = %q, want v", v)
	}
	failed := errors.New("db down")
	if err := c.WriteThrough(t.Context(), "k", "w", func(context.Context, string) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("WriteThrough with failing persist = %v", err)
	}
	if v, _ := c.Get(t.Context(), "k", nil); v != "v" {
		t.Fatalf("cache changed although persist failed: %q", v)
	}
	n, err := c.Incr(t.Context(), "views", 3, time.Minute)
	if err != nil || n != 3 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	// A cache never writes a key without expiry: NoExpiry is refused and
	// the counter is untouched.
	if n, err := c.Incr(t.Context(), "views", 1, backend.NoExpiry); !errors.Is(err, memo.ErrNoExpiry) || n != 0 {
		t.Fatalf("Incr(NoExpiry) = %d, %v; want ErrNoExpiry", n, err)
	}
	if n, err := c.Incr(t.Context(), "views", 0, time.Minute); err != nil || n != 3 {
		t.Fatalf("Incr(0) after a refused Incr = %d, %v; want 3", n, err)
	}
}

func TestInvalidatePrefix(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), &memo.Options{L1Size: 100})
	ctx := t.Context()
	for _, k := range []string{"/blog/1", "/blog/2", "/blog", "/shop/1", "/blog*x"} {
		if _, err := c.Get(ctx, k, func(context.Context) (string, error) { return "old", nil }); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.InvalidatePrefix(ctx, "/blog/")
	if err != nil || n != 2 {
		t.Fatalf("InvalidatePrefix(/blog/) = %d, %v; want 2", n, err)
	}
	for k, want := range map[string]string{"/blog/1": "new", "/blog/2": "new", "/blog": "old", "/shop/1": "old", "/blog*x": "old"} {
		v, _ := c.Get(ctx, k, func(context.Context) (string, error) { return "new", nil })
		if v != want {
			t.Errorf("Get(%q) after InvalidatePrefix(/blog/) = %q, want %q", k, v, want)
		}
	}
}

func TestPutAndShortLivedL1(t *testing.T) {
	t.Parallel()
	c := newCache[string](t, newMemory(t, nil), &memo.Options{L1Size: 10})
	ctx := t.Context()
	if err := c.Put(ctx, "k", memo.Result[string]{Value: "put", TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	v, info, err := c.Fetch(ctx, "k", nil)
	if err != nil || v != "put" || info.Expires.Sub(info.CreatedAt) != time.Hour {
		t.Fatalf("Fetch after Put = %q, %+v, %v; want put, fresh for exactly 1h", v, info, err)
	}
	// A value fresher than the L1 clock's resolution never enters L1.
	var calls atomic.Int32
	short := func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		calls.Add(1)
		return memo.Result[string]{Value: "short", TTL: time.Millisecond, Retain: time.Minute}, nil
	}
	_, _, _ = c.Fetch(ctx, "s", short)
	_, info, _ = c.Fetch(ctx, "s", short)
	if info.Source == memo.SourceL1 {
		t.Fatalf("a 1ms-fresh value was served from L1 (coarse clock): %+v", info)
	}
	if err := c.Put(ctx, "k", memo.Result[string]{Value: "gone", NoStore: true}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := c.Fetch(ctx, "k", func(context.Context, *memo.Entry[string]) (memo.Result[string], error) {
		return memo.Result[string]{Value: "reloaded"}, nil
	}); v != "reloaded" {
		t.Fatalf("Put(NoStore) did not remove the key: %q", v)
	}
}

// TestSetPublishesOneMessage: Set tells other nodes once (evict their L1
// copy, wake their waiters), not twice.
func TestSetPublishesOneMessage(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	ns := fmt.Sprint("onemsg", time.Now().UnixNano())
	n := newNode[string](t, s.Addr, memo.Options{Namespace: ns, Locker: memo.LockerFunc(noLock)})
	sub, err := n.b.Subscribe(t.Context(), ns+":v1:events")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := n.cache.Set(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := n.cache.Invalidate(t.Context(), "marker"); err != nil { // ends what Set sent
		t.Fatal(err)
	}
	var got []string
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-sub.Messages():
			if string(m.Payload) == "Imarker" {
				if len(got) != 1 || got[0] != "Ik" {
					t.Fatalf("Set published %q, want one message [Ik]", got)
				}
				return
			}
			got = append(got, string(m.Payload))
		case <-timeout:
			t.Fatalf("no marker message within 5s; Set published %q", got)
		}
	}
}
