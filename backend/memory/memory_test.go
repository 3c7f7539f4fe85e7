package memory

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

func TestNewOptions(t *testing.T) {
	t.Parallel()
	b, err := New(nil)
	if err != nil {
		t.Fatalf("New(nil) error = %v", err)
	}
	defer b.Close()
	if len(b.shards) != DefaultShards {
		t.Errorf("New(nil) shards = %d, want %d", len(b.shards), DefaultShards)
	}
	var entries int
	var bytes int64
	for i := range b.shards {
		entries += b.shards[i].maxEntries
		bytes += b.shards[i].maxBytes
	}
	if entries != DefaultMaxEntries || bytes != DefaultMaxBytes {
		t.Errorf("New(nil) bounds = %d entries / %d bytes, want %d / %d",
			entries, bytes, DefaultMaxEntries, DefaultMaxBytes)
	}

	b2, err := New(&Options{MaxEntries: 5, Shards: 64})
	if err != nil {
		t.Fatalf("New(MaxEntries 5) error = %v", err)
	}
	defer b2.Close()
	if len(b2.shards) != 4 {
		t.Errorf("New(MaxEntries 5, Shards 64) shards = %d, want 4", len(b2.shards))
	}

	if _, err := New(&Options{MaxBytes: -1}); err == nil {
		t.Errorf("New(MaxBytes -1) error = nil, want an error")
	}
}

func TestGetSetDelete(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()

	if _, err := b.Get(ctx, "k"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get(missing) error = %v, want ErrNotFound", err)
	}
	if err := b.Set(ctx, "k", []byte("v1"), time.Minute); err != nil {
		t.Fatalf("Set error = %v", err)
	}
	if err := b.Set(ctx, "k", []byte("v2"), time.Minute); err != nil {
		t.Fatalf("Set (overwrite) error = %v", err)
	}
	if v, err := b.Get(ctx, "k"); err != nil || string(v) != "v2" {
		t.Fatalf("Get(k) = %q, %v, want \"v2\", nil", v, err)
	}
	if err := b.Set(ctx, "empty", []byte{}, time.Minute); err != nil {
		t.Fatalf("Set(empty) error = %v", err)
	}
	if v, err := b.Get(ctx, "empty"); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty) = %#v, %v, want non-nil empty slice", v, err)
	}
	if err := b.Set(ctx, "nil", nil, time.Minute); err != nil {
		t.Fatalf("Set(nil value) error = %v", err)
	}
	if v, err := b.Get(ctx, "nil"); err != nil || v == nil {
		t.Fatalf("Get(nil value) = %#v, %v, want non-nil empty slice", v, err)
	}
	if err := b.Delete(ctx, "k", "missing"); err != nil {
		t.Fatalf("Delete error = %v", err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get(deleted) error = %v, want ErrNotFound", err)
	}
	if got := b.Len(); got != 2 {
		t.Errorf("Len() = %d, want 2", got)
	}
	if err := b.Delete(ctx); err != nil {
		t.Errorf("Delete() with no keys error = %v", err)
	}
	checkInvariants(t, b)
}

func TestCopySemantics(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()

	in := []byte("hello")
	if err := b.Set(ctx, "k", in, backend.NoExpiry); err != nil {
		t.Fatal(err)
	}
	in[0] = 'X'
	out, _ := b.Get(ctx, "k")
	if string(out) != "hello" {
		t.Fatalf("Get after mutating Set's slice = %q, want \"hello\"", out)
	}
	out[0] = 'Y'
	if again, _ := b.Get(ctx, "k"); string(again) != "hello" {
		t.Fatalf("Get after mutating Get's slice = %q, want \"hello\"", again)
	}
	many, _ := b.GetMany(ctx, []string{"k"})
	many[0][0] = 'Z'
	if again, _ := b.Get(ctx, "k"); string(again) != "hello" {
		t.Fatalf("Get after mutating GetMany's slice = %q, want \"hello\"", again)
	}
	items := []backend.Item{{Key: "m", Value: []byte("abc"), TTL: time.Minute}}
	if err := b.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	items[0].Value[0] = 'X'
	if v, _ := b.Get(ctx, "m"); string(v) != "abc" {
		t.Fatalf("Get after mutating SetMany's slice = %q, want \"abc\"", v)
	}
	old, val := []byte("abc"), []byte("new")
	if ok, err := b.CompareAndSwap(ctx, "m", old, val, time.Minute); !ok || err != nil {
		t.Fatalf("CompareAndSwap = %v, %v, want true, nil", ok, err)
	}
	val[0] = 'X'
	if v, _ := b.Get(ctx, "m"); string(v) != "new" {
		t.Fatalf("Get after mutating CompareAndSwap's slice = %q, want \"new\"", v)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	v := []byte("v")

	keyErrs := map[string]error{}
	_, keyErrs["Get"] = b.Get(ctx, "")
	keyErrs["Set"] = b.Set(ctx, "", v, time.Minute)
	keyErrs["Delete"] = b.Delete(ctx, "a", "")
	_, keyErrs["GetMany"] = b.GetMany(ctx, []string{"a", ""})
	keyErrs["SetMany"] = b.SetMany(ctx, []backend.Item{{Key: "", Value: v, TTL: time.Minute}})
	_, keyErrs["Incr"] = b.Incr(ctx, "", 1, time.Minute)
	_, keyErrs["TTL"] = b.TTL(ctx, "")
	keyErrs["Expire"] = b.Expire(ctx, "", time.Minute)
	keyErrs["Persist"] = b.Persist(ctx, "")
	_, keyErrs["CompareAndSwap"] = b.CompareAndSwap(ctx, "", nil, v, time.Minute)
	for op, err := range keyErrs {
		if !errors.Is(err, backend.ErrInvalidKey) {
			t.Errorf("%s(empty key) error = %v, want ErrInvalidKey", op, err)
		}
	}

	for _, ttl := range []time.Duration{0, -1, -time.Hour, math.MinInt64} {
		ttlErrs := map[string]error{}
		ttlErrs["Set"] = b.Set(ctx, "k", v, ttl)
		ttlErrs["SetMany"] = b.SetMany(ctx, []backend.Item{{Key: "ok", Value: v, TTL: time.Minute}, {Key: "k", Value: v, TTL: ttl}})
		_, ttlErrs["Incr"] = b.Incr(ctx, "k", 1, ttl)
		ttlErrs["Expire"] = b.Expire(ctx, "k", ttl)
		_, ttlErrs["CompareAndSwap"] = b.CompareAndSwap(ctx, "k", nil, v, ttl)
		for op, err := range ttlErrs {
			if !errors.Is(err, backend.ErrInvalidTTL) {
				t.Errorf("%s(ttl %v) error = %v, want ErrInvalidTTL", op, ttl, err)
			}
		}
	}
	if n := b.Len(); n != 0 {
		t.Errorf("Len() after only invalid writes = %d, want 0 (SetMany must validate first)", n)
	}
}

func TestContextDone(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if err := b.Set(ctx, "k", nil, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Set(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if err := b.Scan(ctx, "*", func(string) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Scan(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, nil)
	ctx := t.Context()

	if err := b.Set(ctx, "k", []byte("v"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Second)
	if _, err := b.Get(ctx, "k"); err != nil {
		t.Fatalf("Get before expiry error = %v", err)
	}
	if d, err := b.TTL(ctx, "k"); err != nil || d != time.Second {
		t.Fatalf("TTL = %v, %v, want 1s, nil", d, err)
	}
	clk.Advance(time.Second)
	if _, err := b.Get(ctx, "k"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get at expiry error = %v, want ErrNotFound", err)
	}
	if n := b.Len(); n != 0 {
		t.Errorf("Len() after Get found it expired = %d, want 0 (reclaimed)", n)
	}
	if st := b.Stats(); st.Expirations != 1 || st.Evictions != 0 || st.Bytes != 0 {
		t.Errorf("Stats() = %+v, want 1 expiration, 0 evictions, 0 bytes", st)
	}

	// Every read path hides an expired entry.
	if err := b.Set(ctx, "e", []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := b.TTL(ctx, "e"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("TTL(expired) error = %v, want ErrNotFound", err)
	}
	if vs, _ := b.GetMany(ctx, []string{"e"}); vs[0] != nil {
		t.Errorf("GetMany(expired) = %q, want nil", vs[0])
	}
	for _, p := range []string{"e", "*"} {
		if err := b.Scan(ctx, p, func(k string) error {
			t.Errorf("Scan(%q) reported expired key %q", p, k)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := b.DeletePattern(ctx, "*"); n != 0 {
		t.Errorf("DeletePattern(*) over expired keys = %d, want 0", n)
	}
	if err := b.Expire(ctx, "e", time.Hour); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Expire(expired) error = %v, want ErrNotFound", err)
	}
	if err := b.Persist(ctx, "e"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Persist(expired) error = %v, want ErrNotFound", err)
	}
	checkInvariants(t, b)
}

func TestNoExpiryAndHugeTTL(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, nil)
	ctx := t.Context()
	if err := b.Set(ctx, "forever", []byte("v"), backend.NoExpiry); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "huge", []byte("v"), backend.NoExpiry-1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * 365 * 24 * time.Hour)
	if d, err := b.TTL(ctx, "forever"); err != nil || d != backend.NoExpiry {
		t.Errorf("TTL(forever) = %v, %v, want NoExpiry", d, err)
	}
	if d, err := b.TTL(ctx, "huge"); err != nil || d == backend.NoExpiry || d <= 0 {
		t.Errorf("TTL(huge) = %v, %v, want a large finite TTL", d, err)
	}
	if _, err := b.Get(ctx, "huge"); err != nil {
		t.Errorf("Get(huge) error = %v", err)
	}
}

func TestExpirePersist(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, nil)
	ctx := t.Context()

	if err := b.Expire(ctx, "missing", time.Minute); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Expire(missing) error = %v, want ErrNotFound", err)
	}
	if err := b.Persist(ctx, "missing"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Persist(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := b.TTL(ctx, "missing"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("TTL(missing) error = %v, want ErrNotFound", err)
	}

	if err := b.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Expire(ctx, "k", time.Hour); err != nil {
		t.Fatalf("Expire error = %v", err)
	}
	if d, _ := b.TTL(ctx, "k"); d != time.Hour {
		t.Errorf("TTL after Expire(1h) = %v, want 1h", d)
	}
	if err := b.Persist(ctx, "k"); err != nil {
		t.Fatalf("Persist error = %v", err)
	}
	if d, _ := b.TTL(ctx, "k"); d != backend.NoExpiry {
		t.Errorf("TTL after Persist = %v, want NoExpiry", d)
	}
	clk.Advance(24 * time.Hour)
	if _, err := b.Get(ctx, "k"); err != nil {
		t.Errorf("Get after Persist + 24h error = %v", err)
	}
	if err := b.Expire(ctx, "k", time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := b.Get(ctx, "k"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Get after Expire(1s) + 1s error = %v, want ErrNotFound", err)
	}
}

func TestIncr(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, nil)
	ctx := t.Context()

	if n, err := b.Incr(ctx, "c", 5, 10*time.Second); n != 5 || err != nil {
		t.Fatalf("Incr(missing, 5) = %d, %v, want 5, nil", n, err)
	}
	clk.Advance(4 * time.Second)
	if n, err := b.Incr(ctx, "c", -7, time.Hour); n != -2 || err != nil {
		t.Fatalf("Incr(c, -7) = %d, %v, want -2, nil", n, err)
	}
	if d, _ := b.TTL(ctx, "c"); d != 6*time.Second {
		t.Errorf("TTL after Incr on existing key = %v, want 6s (expiry kept)", d)
	}
	if v, _ := b.Get(ctx, "c"); string(v) != "-2" {
		t.Errorf("Get(counter) = %q, want \"-2\"", v)
	}
	clk.Advance(6 * time.Second)
	if n, err := b.Incr(ctx, "c", 1, backend.NoExpiry); n != 1 || err != nil {
		t.Fatalf("Incr(expired counter) = %d, %v, want 1, nil", n, err)
	}
	if d, _ := b.TTL(ctx, "c"); d != backend.NoExpiry {
		t.Errorf("TTL of re-created counter = %v, want NoExpiry", d)
	}

	// A value set as text counts if it is an integer.
	if err := b.Set(ctx, "s", []byte("41"), backend.NoExpiry); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Incr(ctx, "s", 1, time.Minute); n != 42 || err != nil {
		t.Errorf("Incr(\"41\") = %d, %v, want 42, nil", n, err)
	}
	if d, _ := b.TTL(ctx, "s"); d != backend.NoExpiry {
		t.Errorf("TTL after Incr on persistent key = %v, want NoExpiry", d)
	}

	for _, bad := range []string{"", "abc", "1.5", " 1", "+1", "01", "-0", "99999999999999999999"} {
		if err := b.Set(ctx, "bad", []byte(bad), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Incr(ctx, "bad", 1, time.Minute); !errors.Is(err, backend.ErrNotInteger) {
			t.Errorf("Incr(%q) error = %v, want backend.ErrNotInteger", bad, err)
		}
		if v, _ := b.Get(ctx, "bad"); string(v) != bad {
			t.Errorf("Get after failed Incr = %q, want %q unchanged", v, bad)
		}
	}

	if _, err := b.Incr(ctx, "max", math.MaxInt64, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Incr(ctx, "max", 1, time.Minute); !errors.Is(err, backend.ErrOverflow) {
		t.Errorf("Incr(MaxInt64, 1) error = %v, want backend.ErrOverflow", err)
	}
	if v, _ := b.Get(ctx, "max"); string(v) != "9223372036854775807" {
		t.Errorf("Get after overflow = %q, want MaxInt64 unchanged", v)
	}
	if _, err := b.Incr(ctx, "min", math.MinInt64, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Incr(ctx, "min", -1, time.Minute); !errors.Is(err, backend.ErrOverflow) {
		t.Errorf("Incr(MinInt64, -1) error = %v, want backend.ErrOverflow", err)
	}
	if n, err := b.Incr(ctx, "min", 0, time.Minute); n != math.MinInt64 || err != nil {
		t.Errorf("Incr(MinInt64, 0) = %d, %v, want MinInt64", n, err)
	}
	checkInvariants(t, b)
}

func TestParseInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"7", 7, true},
		{"-7", -7, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"-0", 0, false},
		{"00", 0, false},
		{"+1", 0, false},
		{"1 ", 0, false},
		{"1e3", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInt(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCompareAndSwap(t *testing.T) {
	t.Parallel()
	b, clk := newTest(t, nil)
	ctx := t.Context()
	cas := func(key string, old, value []byte, ttl time.Duration) bool {
		t.Helper()
		ok, err := b.CompareAndSwap(ctx, key, old, value, ttl)
		if err != nil {
			t.Fatalf("CompareAndSwap(%q, %q, %q) error = %v", key, old, value, err)
		}
		return ok
	}
	if !cas("k", nil, []byte("a"), time.Second) {
		t.Fatalf("CompareAndSwap(absent, nil old) = false, want true")
	}
	if cas("k", nil, []byte("b"), time.Minute) {
		t.Errorf("CompareAndSwap(present, nil old) = true, want false")
	}
	if cas("k", []byte("x"), []byte("b"), time.Minute) {
		t.Errorf("CompareAndSwap(mismatch) = true, want false")
	}
	if v, _ := b.Get(ctx, "k"); string(v) != "a" {
		t.Errorf("Get after failed swaps = %q, want \"a\"", v)
	}
	clk.Advance(time.Second)
	if cas("k", []byte("a"), []byte("b"), time.Minute) {
		t.Errorf("CompareAndSwap(expired, old matches stale value) = true, want false")
	}
	if !cas("k", nil, []byte("b"), time.Minute) {
		t.Errorf("CompareAndSwap(expired, nil old) = false, want true (expired counts as absent)")
	}
	if !cas("k", []byte("b"), []byte(""), time.Hour) {
		t.Errorf("CompareAndSwap(match) = false, want true")
	}
	if d, _ := b.TTL(ctx, "k"); d != time.Hour {
		t.Errorf("TTL after swap = %v, want 1h (the new ttl)", d)
	}
	if cas("k", nil, []byte("c"), time.Minute) {
		t.Errorf("CompareAndSwap(present empty value, nil old) = true, want false")
	}
	if !cas("k", []byte{}, []byte("c"), time.Minute) {
		t.Errorf("CompareAndSwap(present empty value, empty old) = false, want true")
	}
	if cas("absent", []byte{}, []byte("c"), time.Minute) {
		t.Errorf("CompareAndSwap(absent, empty old) = true, want false")
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	err := b.SetMany(ctx, []backend.Item{
		{Key: "a", Value: []byte("1"), TTL: time.Minute},
		{Key: "b", Value: []byte{}, TTL: backend.NoExpiry},
		{Key: "c", Value: []byte("3"), TTL: time.Minute},
	})
	if err != nil {
		t.Fatalf("SetMany error = %v", err)
	}
	got, err := b.GetMany(ctx, []string{"c", "missing", "b", "a", "a"})
	if err != nil {
		t.Fatalf("GetMany error = %v", err)
	}
	want := []string{"3", "", "", "1", "1"}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("GetMany[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	if got[1] != nil {
		t.Errorf("GetMany[missing] = %#v, want nil", got[1])
	}
	if got[2] == nil {
		t.Errorf("GetMany[empty value] = nil, want non-nil empty slice")
	}
	if got, err := b.GetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %v, %v, want empty, nil", got, err)
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	keys := []string{"user:1", "user:2", "user:10", "user:1/a/b", "user:[x]", "user:*", "session:1", "u"}
	for _, k := range keys {
		if err := b.Set(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"*", keys},
		{"user:*", []string{"user:1", "user:2", "user:10", "user:1/a/b", "user:[x]", "user:*"}},
		{"user:?", []string{"user:1", "user:2", "user:*"}},
		{"user:[12]", []string{"user:1", "user:2"}},
		{"user:1*", []string{"user:1", "user:10", "user:1/a/b"}},
		{"user:\\[x]", []string{"user:[x]"}},
		{"user:\\*", []string{"user:*"}},
		{"user:1", []string{"user:1"}},
		{"user:3", nil},
		{"*/b", []string{"user:1/a/b"}},
	}
	for _, tt := range tests {
		var got []string
		err := b.Scan(ctx, tt.pattern, func(k string) error {
			got = append(got, k)
			return nil
		})
		if err != nil {
			t.Errorf("Scan(%q) error = %v", tt.pattern, err)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tt.want))
		if !slices.Equal(got, want) {
			t.Errorf("Scan(%q) = %q, want %q", tt.pattern, got, want)
		}
	}

	for _, bad := range []string{"", "*a*a*a*a*a*a*a*a*a", string(make([]byte, backend.MaxPatternLen+1))} {
		if err := b.Scan(ctx, bad, func(string) error { return nil }); !errors.Is(err, backend.ErrInvalidPattern) {
			t.Errorf("Scan(%.20q) error = %v, want ErrInvalidPattern", bad, err)
		}
		if _, err := b.DeletePattern(ctx, bad); !errors.Is(err, backend.ErrInvalidPattern) {
			t.Errorf("DeletePattern(%.20q) error = %v, want ErrInvalidPattern", bad, err)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err := b.Scan(ctx, "*", func(string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Scan with failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func TestScanCallbackReentry(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	for i := range 200 {
		if err := b.Set(ctx, "k"+string(rune('A'+i%26))+string(rune('a'+i/26)), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// fn writes and deletes through the backend: it must not deadlock.
	seen := 0
	err := b.Scan(ctx, "k*", func(k string) error {
		seen++
		if _, err := b.Get(ctx, k); err != nil {
			return err
		}
		if err := b.Set(ctx, "other:"+k, []byte("x"), time.Minute); err != nil {
			return err
		}
		return b.Delete(ctx, k)
	})
	if err != nil || seen != 200 {
		t.Fatalf("Scan with re-entrant fn = %v, %d keys, want nil, 200", err, seen)
	}
	if n := b.Len(); n != 200 {
		t.Errorf("Len() = %d, want 200 (200 deleted, 200 added)", n)
	}
}

func TestDeletePattern(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	for _, k := range []string{"user:1:a", "user:1:b", "user:2:a", "user:[", "other"} {
		if err := b.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.DeletePattern(ctx, "user:["); n != 0 || !errors.Is(err, backend.ErrInvalidPattern) {
		t.Errorf("DeletePattern(\"user:[\") = %d, %v, want 0, ErrInvalidPattern (malformed set)", n, err)
	}
	if n, err := b.DeletePattern(ctx, "user:\\["); n != 1 || err != nil {
		t.Errorf("DeletePattern(literal \"user:[\") = %d, %v, want 1", n, err)
	}
	if n, err := b.DeletePattern(ctx, "user:1:*"); n != 2 || err != nil {
		t.Errorf("DeletePattern(user:1:*) = %d, %v, want 2", n, err)
	}
	if n, err := b.DeletePattern(ctx, "user:1:*"); n != 0 || err != nil {
		t.Errorf("DeletePattern(user:1:*) again = %d, %v, want 0", n, err)
	}
	for k, want := range map[string]bool{"user:1:a": false, "user:2:a": true, "other": true} {
		_, err := b.Get(ctx, k)
		if got := err == nil; got != want {
			t.Errorf("Get(%q) present = %v, want %v", k, got, want)
		}
	}
	checkInvariants(t, b)
}

func TestClose(t *testing.T) {
	t.Parallel()
	b, _ := newTest(t, nil)
	ctx := t.Context()
	if err := b.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, "ch")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close error = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close error = %v", err)
	}
	if _, ok := <-sub.Messages(); ok {
		t.Errorf("subscription channel still open after Backend.Close")
	}
	errs := map[string]error{}
	_, errs["Get"] = b.Get(ctx, "k")
	errs["Set"] = b.Set(ctx, "k", nil, time.Minute)
	errs["Delete"] = b.Delete(ctx, "k")
	_, errs["GetMany"] = b.GetMany(ctx, []string{"k"})
	errs["SetMany"] = b.SetMany(ctx, []backend.Item{{Key: "k", TTL: time.Minute}})
	_, errs["Incr"] = b.Incr(ctx, "k", 1, time.Minute)
	_, errs["TTL"] = b.TTL(ctx, "k")
	errs["Expire"] = b.Expire(ctx, "k", time.Minute)
	errs["Persist"] = b.Persist(ctx, "k")
	errs["Scan"] = b.Scan(ctx, "*", func(string) error { return nil })
	_, errs["DeletePattern"] = b.DeletePattern(ctx, "*")
	_, errs["CompareAndSwap"] = b.CompareAndSwap(ctx, "k", nil, nil, time.Minute)
	errs["Publish"] = b.Publish(ctx, "ch", nil)
	_, errs["Subscribe"] = b.Subscribe(ctx, "ch")
	for op, err := range errs {
		if !errors.Is(err, backend.ErrClosed) {
			t.Errorf("%s after Close error = %v, want ErrClosed", op, err)
		}
	}
	if n := b.Len(); n != 0 {
		t.Errorf("Len() after Close = %d, want 0", n)
	}
}
