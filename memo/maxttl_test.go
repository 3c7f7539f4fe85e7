package memo_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/lockx"
	"github.com/cachekit/cachekit/memo"
)

// TestNoExpiryOptionsRejected: a duration option beyond MaxTTL (the
// envelope cannot store an expiry past 2262) is refused by New with
// ErrInvalidOptions instead of being accepted and never caching anything.
func TestNoExpiryOptionsRejected(t *testing.T) {
	t.Parallel()
	b := newMemory(t, nil)
	long := memo.MaxTTL + time.Hour
	for name, o := range map[string]*memo.Options{
		"TTL NoExpiry":   {TTL: backend.NoExpiry},
		"TTL":            {TTL: long},
		"StaleTTL":       {StaleTTL: backend.NoExpiry},
		"StaleIfError":   {StaleIfError: long},
		"NegativeTTL":    {NegativeTTL: backend.NoExpiry},
		"L1TTL":          {L1Size: 10, L1TTL: long},
		"LoadTimeout":    {LoadTimeout: backend.NoExpiry},
		"BackendTimeout": {BackendTimeout: long},
		"LockWait":       {LockWait: backend.NoExpiry},
	} {
		if _, err := memo.New[int](b, o); !errors.Is(err, memo.ErrInvalidOptions) {
			t.Errorf("%s: New = %v, want ErrInvalidOptions", name, err)
		}
	}
	// MaxTTL itself, with every window at MaxTTL, is accepted and caches.
	c := newCache[int](t, b, &memo.Options{TTL: memo.MaxTTL, StaleTTL: memo.MaxTTL, StaleIfError: memo.MaxTTL, NegativeTTL: memo.MaxTTL})
	var loads atomic.Int32
	load := func(context.Context) (int, error) { loads.Add(1); return 7, nil }
	for range 2 {
		if v, err := c.Get(t.Context(), "k", load); err != nil || v != 7 {
			t.Fatalf("Get = %d, %v", v, err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("loads = %d with TTL MaxTTL, want 1 (the value was not cached)", n)
	}
}

// TestPutRefusesNoExpiry: Put with a duration beyond MaxTTL returns a
// clear error instead of silently not caching.
func TestPutRefusesNoExpiry(t *testing.T) {
	t.Parallel()
	c := newCache[int](t, newMemory(t, nil), nil)
	for name, r := range map[string]memo.Result[int]{
		"TTL":    {Value: 1, TTL: backend.NoExpiry},
		"SWR":    {Value: 1, StaleWhileRevalidate: memo.MaxTTL + 1},
		"SIE":    {Value: 1, StaleIfError: backend.NoExpiry},
		"Retain": {Value: 1, Retain: memo.MaxTTL + time.Hour},
	} {
		if err := c.Put(t.Context(), "k", r); !errors.Is(err, memo.ErrTTLTooLong) {
			t.Errorf("%s: Put = %v, want ErrTTLTooLong", name, err)
		}
	}
	if err := c.Put(t.Context(), "k", memo.Result[int]{Value: 1, TTL: backend.NoExpiry}); !errors.Is(err, memo.ErrNoExpiry) {
		t.Errorf("Put(NoExpiry) = %v, want it to wrap ErrNoExpiry too", err)
	}
	if err := c.Put(t.Context(), "k", memo.Result[int]{Value: 2, TTL: memo.MaxTTL, StaleIfError: memo.MaxTTL}); err != nil {
		t.Fatalf("Put(MaxTTL) = %v", err)
	}
	v, info, err := c.Fetch(t.Context(), "k", func(context.Context, *memo.Entry[int]) (memo.Result[int], error) {
		t.Error("loader called after Put(MaxTTL)")
		return memo.Result[int]{}, nil
	})
	if err != nil || v != 2 {
		t.Fatalf("Fetch after Put = %d, %v (%+v)", v, err, info)
	}
}

// TestFetchResultClamped: a FetchFunc returning backend.NoExpiry (or
// windows beyond MaxTTL) is cached for MaxTTL, not silently not cached.
func TestFetchResultClamped(t *testing.T) {
	t.Parallel()
	b := newMemory(t, nil)
	c := newCache[int](t, b, nil)
	var loads atomic.Int32
	fetch := func(context.Context, *memo.Entry[int]) (memo.Result[int], error) {
		loads.Add(1)
		return memo.Result[int]{Value: 3, TTL: backend.NoExpiry, StaleWhileRevalidate: backend.NoExpiry,
			StaleIfError: backend.NoExpiry, Retain: backend.NoExpiry}, nil
	}
	now := time.Now()
	for range 3 {
		v, info, err := c.Fetch(t.Context(), "k", fetch)
		if err != nil || v != 3 {
			t.Fatalf("Fetch = %d, %v", v, err)
		}
		if info.Expires.After(now.Add(memo.MaxTTL + time.Minute)) {
			t.Fatalf("Expires %v beyond now+MaxTTL", info.Expires)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("loads = %d, want 1: a NoExpiry result was not cached", n)
	}
	ttl, err := c.TTL(t.Context(), "k")
	if err != nil || ttl <= memo.MaxTTL-time.Hour || ttl > 2*memo.MaxTTL {
		t.Fatalf("backend TTL = %v, %v; want within (MaxTTL, 2·MaxTTL]", ttl, err)
	}
}

// TestTypedNilLocker: a Locker that holds a nil pointer or function (a nil
// *lockx.Locker passed through the interface) is refused by New with
// ErrInvalidOptions, instead of a panic in New or on the first miss.
func TestTypedNilLocker(t *testing.T) {
	b, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	var l *lockx.Locker
	for name, locker := range map[string]memo.Locker{"*lockx.Locker": l, "LockerFunc": memo.LockerFunc(nil)} {
		c, err := memo.New[int](b, &memo.Options{Locker: locker})
		if !errors.Is(err, memo.ErrInvalidOptions) {
			if c != nil {
				_ = c.Close()
			}
			t.Errorf("New with a nil %s = %v, want ErrInvalidOptions", name, err)
		}
	}
}
