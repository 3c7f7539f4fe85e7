package memory

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

func TestMaxEntries(t *testing.T) {
	t.Parallel()
	for _, shards := range []int{1, 4, 16} {
		t.Run(fmt.Sprint("shards=", shards), func(t *testing.T) {
			t.Parallel()
			b, _ := newTest(t, &Options{MaxEntries: 100, Shards: shards})
			ctx := t.Context()
			for i := range 1000 {
				if err := b.Set(ctx, fmt.Sprint("k", i), []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
				if n := b.Len(); n > 100 {
					t.Fatalf("Len() = %d after %d Sets, want ≤ 100", n, i+1)
				}
			}
			st := b.Stats()
			if st.Entries+int(st.Evictions) != 1000 || st.Entries < 50 {
				t.Errorf("Stats() = %+v, want entries + evictions = 1000 and most slots used", st)
			}
			checkInvariants(t, b)
		})
	}
}

func TestMaxBytes(t *testing.T) {
	t.Parallel()
	const maxBytes = 8 << 10
	b, _ := newTest(t, &Options{MaxBytes: maxBytes, Shards: 4})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		v := make([]byte, rng.IntN(1500))
		if err := b.Set(ctx, fmt.Sprint("k", rng.IntN(300)), v, time.Minute); err != nil {
			t.Fatalf("Set #%d (%d bytes) error = %v", i, len(v), err)
		}
		if st := b.Stats(); st.Bytes > maxBytes {
			t.Fatalf("Stats().Bytes = %d after %d Sets, want ≤ %d", st.Bytes, i+1, maxBytes)
		}
	}
	if st := b.Stats(); st.Evictions == 0 {
		t.Errorf("Stats() = %+v, want evictions", st)
	}
	checkInvariants(t, b)
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	const maxBytes = 4 << 10
	b, _ := newTest(t, &Options{MaxBytes: maxBytes, Shards: 1})
	ctx := t.Context()
	for i := range 10 {
		if err := b.Set(ctx, fmt.Sprint("k", i), []byte("small"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	before := b.Stats()

	fits := make([]byte, maxBytes-EntryOverhead-len("big"))
	huge := make([]byte, len(fits)+1) // one byte over for "big", more for longer keys
	if err := b.Set(ctx, "big", huge, time.Minute); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("Set(%d bytes) error = %v, want ErrTooLarge", len(huge), err)
	}
	if err := b.Set(ctx, "k0", append(huge, 0), time.Minute); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("Set(existing key, %d bytes) error = %v, want ErrTooLarge", len(huge), err)
	}
	if _, err := b.CompareAndSwap(ctx, "big", nil, huge, time.Minute); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("CompareAndSwap(%d bytes) error = %v, want ErrTooLarge", len(huge), err)
	}
	if err := b.SetMany(ctx, []backend.Item{{Key: "big", Value: huge, TTL: time.Minute}}); !errors.Is(err, backend.ErrTooLarge) {
		t.Fatalf("SetMany(%d bytes) error = %v, want ErrTooLarge", len(huge), err)
	}
	if after := b.Stats(); after != before {
		t.Fatalf("Stats() after rejected writes = %+v, want unchanged %+v", after, before)
	}
	if v, _ := b.Get(ctx, "k0"); string(v) != "small" {
		t.Errorf("Get(k0) after rejected overwrite = %q, want \"small\"", v)
	}

	// Exactly the bound fits, evicting everything else.
	if err := b.Set(ctx, "big", fits, time.Minute); err != nil {
		t.Fatalf("Set(%d bytes, exactly the bound) error = %v", len(fits), err)
	}
	if st := b.Stats(); st.Entries != 1 || st.Bytes != maxBytes {
		t.Errorf("Stats() = %+v, want 1 entry of %d bytes", st, maxBytes)
	}
	checkInvariants(t, b)
}

func TestClockKeepsReferenced(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, &Options{MaxEntries: 4, Shards: 1})
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := b.Set(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "e", []byte("e"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "a"); err != nil {
		t.Errorf("Get(a) after eviction error = %v, want the recently read key kept", err)
	}
	if _, err := b.Get(ctx, "b"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get(b) error = %v, want ErrNotFound (least recently used)", err)
	}
	if st := b.Stats(); st.Evictions != 1 || st.Entries != 4 {
		t.Errorf("Stats() = %+v, want 1 eviction, 4 entries", st)
	}
}

func TestExpiredReclaimedBeforeLive(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, &Options{MaxEntries: 4, Shards: 1})
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if err := b.Set(ctx, k, []byte(k), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Set(ctx, "short", []byte("s"), time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := b.Set(ctx, "e", []byte("e"), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "e"} {
		if _, err := b.Get(ctx, k); err != nil {
			t.Errorf("Get(%q) error = %v, want live keys kept while an expired one is reclaimed", k, err)
		}
	}
	if st := b.Stats(); st.Evictions != 0 || st.Expirations != 1 {
		t.Errorf("Stats() = %+v, want 0 evictions, 1 expiration", st)
	}
}

func TestReapOnWrite(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, &Options{Shards: 1})
	ctx := t.Context()
	for i := range 100 {
		if err := b.Set(ctx, fmt.Sprint("k", i), []byte("v"), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Second)
	// Nobody reads the expired keys: writes alone must reclaim them.
	for range 60 {
		if err := b.Set(ctx, "w", []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Len(); n != 1 {
		t.Errorf("Len() = %d after 60 writes, want 1 (expired entries reclaimed)", n)
	}
}

func TestIncrGrowthRespectsBytes(t *testing.T) {
	t.Parallel()
	const maxBytes = 3 * (EntryOverhead + 2 + 20)
	b, _ := newTest(t, &Options{MaxBytes: maxBytes, Shards: 1})
	ctx := t.Context()
	for _, k := range []string{"c1", "c2", "c3"} {
		if _, err := b.Incr(ctx, k, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	big := int64(1e18)
	for _, k := range []string{"c1", "c2", "c3", "c1"} {
		if _, err := b.Incr(ctx, k, big, time.Minute); err != nil {
			t.Fatal(err)
		}
		if st := b.Stats(); st.Bytes > maxBytes {
			t.Fatalf("Stats().Bytes = %d, want ≤ %d", st.Bytes, maxBytes)
		}
	}
	checkInvariants(t, b)
}

func TestRandomOpsInvariants(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, &Options{MaxEntries: 64, MaxBytes: 16 << 10, Shards: 4})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20_000 {
		k := fmt.Sprint("k", rng.IntN(200))
		ttl := time.Duration(1+rng.IntN(10)) * time.Second
		switch rng.IntN(10) {
		case 0:
			_ = b.Set(ctx, k, []byte(strings.Repeat("x", rng.IntN(400))), ttl)
		case 1:
			_, _ = b.Incr(ctx, k, rng.Int64N(1000), ttl)
		case 2:
			_ = b.Delete(ctx, k)
		case 3:
			_ = b.Expire(ctx, k, ttl)
		case 4:
			_ = b.Persist(ctx, k)
		case 5:
			_, _ = b.CompareAndSwap(ctx, k, nil, []byte("cas"), ttl)
		case 6:
			_, _ = b.DeletePattern(ctx, fmt.Sprint("k", rng.IntN(10), "*"))
		case 7:
			clk.Advance(time.Duration(rng.IntN(500)) * time.Millisecond)
		default:
			_, _ = b.Get(ctx, k)
		}
		if i%1000 == 0 {
			checkInvariants(t, b)
		}
	}
	checkInvariants(t, b)
}
