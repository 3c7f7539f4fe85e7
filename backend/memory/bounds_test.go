package memory

import (
	"errors"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// TestSubMillisecondTTLRounds: TTLs are rounded up to a whole millisecond,
// as Redis stores them, on every write path (Set, SetMany, Incr,
// CompareAndSwap, Expire).
func TestSubMillisecondTTLRounds(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, nil)
	ctx := t.Context()
	writes := map[string]func(key string, ttl time.Duration) error{
		"Set": func(k string, ttl time.Duration) error { return b.Set(ctx, k, []byte("v"), ttl) },
		"SetMany": func(k string, ttl time.Duration) error {
			return b.SetMany(ctx, []backend.Item{{Key: k, Value: []byte("v"), TTL: ttl}})
		},
		"Incr": func(k string, ttl time.Duration) error { _, err := b.Incr(ctx, k, 1, ttl); return err },
		"CompareAndSwap": func(k string, ttl time.Duration) error {
			_, err := b.CompareAndSwap(ctx, k, nil, []byte("v"), ttl)
			return err
		},
		"Expire": func(k string, ttl time.Duration) error {
			if err := b.Set(ctx, k, []byte("v"), time.Hour); err != nil {
				return err
			}
			return b.Expire(ctx, k, ttl)
		},
	}
	for name, write := range writes {
		for _, c := range []struct{ ttl, stored time.Duration }{
			{500 * time.Microsecond, time.Millisecond},
			{time.Nanosecond, time.Millisecond},
			{1200 * time.Microsecond, 2 * time.Millisecond},
			{3 * time.Millisecond, 3 * time.Millisecond},
		} {
			k := name + c.ttl.String()
			if err := write(k, c.ttl); err != nil {
				t.Fatalf("%s(%q, %v) = %v", name, k, c.ttl, err)
			}
			if d, err := b.TTL(ctx, k); err != nil || d != c.stored {
				t.Fatalf("%s(%v): TTL = %v, %v; want %v (rounded up to a whole millisecond)", name, c.ttl, d, err, c.stored)
			}
		}
	}
	// A 500µs key is alive after 999µs and gone at 1ms, as on Redis.
	if err := b.Set(ctx, "half", []byte("v"), 500*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	clk.Advance(999 * time.Microsecond)
	if _, err := b.Get(ctx, "half"); err != nil {
		t.Fatalf("Get(500µs key) after 999µs = %v, want the value (stored as 1ms)", err)
	}
	clk.Advance(time.Microsecond)
	if _, err := b.Get(ctx, "half"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get(500µs key) after 1ms = %v, want ErrNotFound", err)
	}
}

func TestRoundTTLEdges(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want time.Duration }{
		{1, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{time.Millisecond + 1, 2 * time.Millisecond},
		{backend.NoExpiry, backend.NoExpiry},
		{backend.NoExpiry - 1, backend.NoExpiry - backend.NoExpiry%time.Millisecond},
	} {
		if got := backend.RoundTTL(c.in); got != c.want {
			t.Errorf("RoundTTL(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestMaxValueBytes: a value over MaxValueBytes is rejected with
// ErrTooLarge on every write path and nothing changes; exactly the bound
// is stored; a MaxValueBytes that no shard could hold is rejected by New.
func TestMaxValueBytes(t *testing.T) {
	t.Parallel()
	const max = 1000
	b, _ := newTest(t, &Options{MaxValueBytes: max})
	ctx := t.Context()
	if err := b.Set(ctx, "k", []byte("old"), time.Minute); err != nil {
		t.Fatal(err)
	}
	over := make([]byte, max+1)
	if err := b.Set(ctx, "k", over, time.Minute); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("Set(%d bytes) = %v, want ErrTooLarge", len(over), err)
	}
	if err := b.SetMany(ctx, []backend.Item{{Key: "a", Value: []byte("x"), TTL: time.Minute}, {Key: "k", Value: over, TTL: time.Minute}}); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("SetMany(one item over) = %v, want ErrTooLarge", err)
	}
	if _, err := b.CompareAndSwap(ctx, "k", []byte("old"), over, time.Minute); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("CompareAndSwap(%d bytes) = %v, want ErrTooLarge", len(over), err)
	}
	if v, err := b.Get(ctx, "k"); err != nil || string(v) != "old" {
		t.Fatalf("Get(k) after rejected writes = %q, %v; want old", v, err)
	}
	if _, err := b.Get(ctx, "a"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("SetMany with an oversized item stored another item: Get(a) = %v", err)
	}
	if err := b.Set(ctx, "k", over[:max], time.Minute); err != nil {
		t.Fatalf("Set(exactly MaxValueBytes) = %v", err)
	}

	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.maxValue != backend.DefaultMaxValueBytes {
		t.Errorf("default MaxValueBytes = %d, want %d", d.maxValue, backend.DefaultMaxValueBytes)
	}
	if _, err := New(&Options{MaxValueBytes: 8 << 20}); err == nil {
		t.Errorf("New(MaxValueBytes 8 MiB, default 4 MiB shards) = nil error, want the conflict reported")
	}
	if _, err := New(&Options{MaxValueBytes: -1}); err == nil {
		t.Errorf("New(MaxValueBytes -1) = nil error, want an error")
	}
	if _, err := New(&Options{MaxBytes: 1 << 20, Shards: 1, MaxValueBytes: 1<<20 - EntryOverhead}); err != nil {
		t.Errorf("New(MaxValueBytes = a whole shard minus overhead) = %v, want nil", err)
	}
}

// TestMaxValueBytesReported: MaxValueBytes() is the option, or the shard's
// room when that is smaller, and a value of exactly that size is stored.
func TestMaxValueBytesReported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    Options
		want int
	}{
		{Options{}, DefaultMaxBytes/DefaultShards - EntryOverhead}, // a default shard holds a bit less than 4 MiB
		{Options{MaxValueBytes: 1000}, 1000},
		{Options{MaxBytes: 1 << 20, Shards: 4}, 1<<18 - EntryOverhead},
	} {
		b, _ := newTest(t, &tc.o)
		got := b.MaxValueBytes()
		if got != tc.want {
			t.Errorf("MaxValueBytes() with %+v = %d, want %d", tc.o, got, tc.want)
		}
		if err := b.Set(t.Context(), "k", make([]byte, got-1), time.Minute); err != nil { // "k" takes a byte of a full shard
			t.Errorf("Set(MaxValueBytes()-1 bytes) with %+v = %v", tc.o, err)
		}
	}
}
