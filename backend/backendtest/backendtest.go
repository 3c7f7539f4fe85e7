// Package backendtest is the conformance suite for [backend.Backend]
// implementations, in the spirit of testing/fstest.TestFS: every backend
// runs the same tests, so the embedded memory backend and Redis agree on
// every observable behaviour.
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend { return newMyBackend(t) })
//	}
//
// Each capability ([backend.Batcher], [backend.Counter], ...) is tested when
// the backend implements it. Tests are parallel and keep their keys under a
// prefix unique to the test, so one shared server can serve all of them;
// a factory may return the same backend for every call.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// Factory returns the backend under test. It may return a new backend for
// each call or share one; cleanup belongs to t.
type Factory func(t *testing.T) backend.Backend

var runID atomic.Int64

// Run runs the conformance suite against the backends newBackend returns.
func Run(t *testing.T, newBackend Factory) {
	t.Helper()
	id := runID.Add(1)
	prefix := func(t *testing.T) string {
		r := strings.NewReplacer("/", ".", " ", "_", "*", "_", "?", "_", "[", "_", "]", "_", "{", "_", "}", "_", "\\", "_", ":", "_")
		return fmt.Sprintf("bt%d.%s.%d:", id, r.Replace(t.Name()), time.Now().UnixNano())
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b backend.Backend, p string)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"Ownership", testOwnership},
		{"InvalidInput", testInvalidInput},
		{"Expiry", testExpiry},
		{"CanceledContext", testCanceledContext},
		{"Batch", testBatch},
		{"Counter", testCounter},
		{"CounterConcurrent", testCounterConcurrent},
		{"Expirer", testExpirer},
		{"Scanner", testScanner},
		{"ScannerInjection", testScannerInjection},
		{"Swapper", testSwapper},
		{"SwapperConcurrent", testSwapperConcurrent},
		{"FingerprintSwapper", testFingerprintSwapper},
		{"PubSub", testPubSub},
		{"Pipeline", testPipeline},
		{"PipelineInvalid", testPipelineInvalid},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			tc.fn(t, b, prefix(t))
		})
	}
}

func mustSet(t *testing.T, b backend.Backend, key string, v []byte, ttl time.Duration) {
	t.Helper()
	if err := b.Set(t.Context(), key, v, ttl); err != nil {
		t.Fatalf("Set(%q) = %v, want nil", key, err)
	}
}

func mustGet(t *testing.T, b backend.Backend, key string) []byte {
	t.Helper()
	v, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q) error = %v, want nil", key, err)
	}
	return v
}

func wantMiss(t *testing.T, b backend.Backend, key string) {
	t.Helper()
	v, err := b.Get(t.Context(), key)
	if !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, v, err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, d)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

func testGetSetDelete(t *testing.T, b backend.Backend, p string) {
	ctx := t.Context()
	wantMiss(t, b, p+"missing")

	mustSet(t, b, p+"a", []byte("alpha"), time.Minute)
	if got := mustGet(t, b, p+"a"); string(got) != "alpha" {
		t.Fatalf("Get(a) = %q, want alpha", got)
	}
	mustSet(t, b, p+"a", []byte("beta"), time.Minute)
	if got := mustGet(t, b, p+"a"); string(got) != "beta" {
		t.Fatalf("Get(a) after overwrite = %q, want beta", got)
	}

	bin := []byte{0, 1, 2, 0xff, 0, '\r', '\n'}
	mustSet(t, b, p+"bin", bin, time.Minute)
	if got := mustGet(t, b, p+"bin"); !bytes.Equal(got, bin) {
		t.Fatalf("Get(bin) = %v, want %v", got, bin)
	}

	mustSet(t, b, p+"empty", []byte{}, time.Minute)
	if got := mustGet(t, b, p+"empty"); len(got) != 0 {
		t.Fatalf("Get(empty) = %q, want empty", got)
	}

	mustSet(t, b, p+"forever", []byte("x"), backend.NoExpiry)
	if got := mustGet(t, b, p+"forever"); string(got) != "x" {
		t.Fatalf("Get(forever) = %q, want x", got)
	}

	if err := b.Delete(ctx, p+"a", p+"bin", p+"never-existed"); err != nil {
		t.Fatalf("Delete = %v, want nil", err)
	}
	wantMiss(t, b, p+"a")
	wantMiss(t, b, p+"bin")
	if got := mustGet(t, b, p+"empty"); len(got) != 0 {
		t.Fatalf("Delete removed an unrelated key")
	}
	if err := b.Delete(ctx); err != nil {
		t.Fatalf("Delete() with no keys = %v, want nil", err)
	}
	if err := b.Delete(ctx, p+"empty", p+"forever"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
}

func testOwnership(t *testing.T, b backend.Backend, p string) {
	in := []byte("original")
	mustSet(t, b, p+"k", in, time.Minute)
	copy(in, "XXXXXXXX")
	out := mustGet(t, b, p+"k")
	if string(out) != "original" {
		t.Fatalf("Get after mutating Set's input = %q, want original", out)
	}
	copy(out, "YYYYYYYY")
	if got := mustGet(t, b, p+"k"); string(got) != "original" {
		t.Fatalf("Get after mutating a previous Get's result = %q, want original", got)
	}
}

func testInvalidInput(t *testing.T, b backend.Backend, p string) {
	ctx := t.Context()
	mustSet(t, b, p+"keep", []byte("v1"), time.Minute)
	for _, ttl := range []time.Duration{0, -1, -time.Second} {
		if err := b.Set(ctx, p+"new", []byte("x"), ttl); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("Set(ttl=%v) = %v, want ErrInvalidTTL", ttl, err)
		}
		if err := b.Set(ctx, p+"keep", []byte("v2"), ttl); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("Set(existing, ttl=%v) = %v, want ErrInvalidTTL", ttl, err)
		}
	}
	wantMiss(t, b, p+"new")
	if got := mustGet(t, b, p+"keep"); string(got) != "v1" {
		t.Fatalf("Get(keep) after rejected Sets = %q, want v1 (nothing lost)", got)
	}
	if err := b.Set(ctx, "", []byte("x"), time.Minute); !errors.Is(err, backend.ErrInvalidKey) {
		t.Fatalf("Set(\"\") = %v, want ErrInvalidKey", err)
	}
	if err := backend.SetMany(ctx, b, []backend.Item{{Key: p + "m1", Value: []byte("x"), TTL: time.Minute}, {Key: p + "m2", Value: []byte("y")}}); !errors.Is(err, backend.ErrInvalidTTL) {
		t.Fatalf("SetMany with a zero TTL = %v, want ErrInvalidTTL", err)
	}
	wantMiss(t, b, p+"m1")
	if _, ok := b.(backend.Counter); ok {
		if _, err := backend.Incr(ctx, b, p+"c", 1, 0); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("Incr(ttl=0) = %v, want ErrInvalidTTL", err)
		}
		wantMiss(t, b, p+"c")
	}
	if _, ok := b.(backend.Swapper); ok {
		if _, err := backend.CompareAndSwap(ctx, b, p+"cas", nil, []byte("x"), -1); !errors.Is(err, backend.ErrInvalidTTL) {
			t.Fatalf("CompareAndSwap(ttl=-1) = %v, want ErrInvalidTTL", err)
		}
		wantMiss(t, b, p+"cas")
	}
}

func testExpiry(t *testing.T, b backend.Backend, p string) {
	mustSet(t, b, p+"long", []byte("y"), time.Minute)
	// The read right after the Set must see the value, unless the machine
	// was too loaded to do both within the TTL: then try again.
	for try := 0; ; try++ {
		start := time.Now()
		mustSet(t, b, p+"short", []byte("x"), 150*time.Millisecond)
		got, err := b.Get(t.Context(), p+"short")
		if err == nil && string(got) == "x" {
			break
		}
		if took := time.Since(start); took < 150*time.Millisecond || try == 20 {
			t.Fatalf("Get(short) %v after Set = %q, %v; want x", took, got, err)
		}
	}
	eventually(t, 5*time.Second, "short key expired", func() bool {
		_, err := b.Get(t.Context(), p+"short")
		return errors.Is(err, backend.ErrNotFound)
	})
	got, err := backend.GetMany(t.Context(), b, []string{p + "short", p + "long"})
	if err != nil || got[0] != nil || string(got[1]) != "y" {
		t.Fatalf("GetMany after expiry = %q, %v; want [nil y]", got, err)
	}
}

func testCanceledContext(t *testing.T, b backend.Backend, p string) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Get(ctx, p+"k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get(canceled ctx) = %v, want context.Canceled", err)
	}
	if err := b.Set(ctx, p+"k", []byte("x"), time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set(canceled ctx) = %v, want context.Canceled", err)
	}
	wantMiss(t, b, p+"k")
}

func testBatch(t *testing.T, b backend.Backend, p string) {
	ctx := t.Context()
	var items []backend.Item
	var keys []string
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("%sk%d", p, i)
		keys = append(keys, k)
		if i%3 == 0 {
			continue // leave a miss
		}
		items = append(items, backend.Item{Key: k, Value: []byte(fmt.Sprint(i)), TTL: time.Minute})
	}
	items = append(items, backend.Item{Key: p + "empty", Value: []byte{}, TTL: time.Minute})
	keys = append(keys, p+"empty")
	if err := backend.SetMany(ctx, b, items); err != nil {
		t.Fatalf("SetMany = %v", err)
	}
	got, err := backend.GetMany(ctx, b, keys)
	if err != nil {
		t.Fatalf("GetMany = %v", err)
	}
	if len(got) != len(keys) {
		t.Fatalf("GetMany returned %d values for %d keys", len(got), len(keys))
	}
	for i := 0; i < 50; i++ {
		switch {
		case i%3 == 0 && got[i] != nil:
			t.Fatalf("GetMany[%d] = %q, want nil (miss)", i, got[i])
		case i%3 != 0 && string(got[i]) != fmt.Sprint(i):
			t.Fatalf("GetMany[%d] = %q, want %q", i, got[i], fmt.Sprint(i))
		}
	}
	if got[50] == nil || len(got[50]) != 0 {
		t.Fatalf("GetMany(empty value) = %#v, want non-nil empty slice", got[50])
	}
	// The caller owns every value: appending to one changes no other, and
	// writing into one does not change what is stored.
	for i := range 50 {
		if got[i] != nil {
			_ = append(got[i], '!', '!', '!', '!')
		}
	}
	for i := 0; i < 50; i++ {
		if i%3 != 0 && string(got[i]) != fmt.Sprint(i) {
			t.Fatalf("after appending to the values: GetMany[%d] = %q, want %q", i, got[i], fmt.Sprint(i))
		}
	}
	for i := range 50 {
		if got[i] != nil {
			got[i][0] = '#'
		}
	}
	again, err := backend.GetMany(ctx, b, keys)
	if err != nil {
		t.Fatalf("GetMany, again = %v", err)
	}
	for i := 0; i < 50; i++ {
		if i%3 != 0 && string(again[i]) != fmt.Sprint(i) {
			t.Fatalf("after writing into the values read: GetMany[%d] = %q, want %q", i, again[i], fmt.Sprint(i))
		}
	}
	if got, err := backend.GetMany(ctx, b, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMany(nil) = %v, %v; want empty, nil", got, err)
	}
	if err := b.Delete(ctx, keys...); err != nil {
		t.Fatalf("Delete(%d keys) = %v", len(keys), err)
	}
	got, _ = backend.GetMany(ctx, b, keys)
	for i, v := range got {
		if v != nil {
			t.Fatalf("GetMany[%d] after Delete = %q, want nil", i, v)
		}
	}
}

func testCounter(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.Counter); !ok {
		if _, err := backend.Incr(t.Context(), b, p+"c", 1, time.Minute); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Incr without Counter = %v, want ErrUnsupported", err)
		}
		t.Skip("backend does not implement backend.Counter")
	}
	ctx := t.Context()
	n, err := backend.Incr(ctx, b, p+"c", 5, 10*time.Second)
	if err != nil || n != 5 {
		t.Fatalf("Incr(new, 5) = %d, %v; want 5", n, err)
	}
	n, err = backend.Incr(ctx, b, p+"c", -7, time.Hour)
	if err != nil || n != -2 {
		t.Fatalf("Incr(-7) = %d, %v; want -2", n, err)
	}
	if got := mustGet(t, b, p+"c"); string(got) != "-2" {
		t.Fatalf("Get(counter) = %q, want \"-2\" (decimal text)", got)
	}
	if e, ok := b.(backend.Expirer); ok {
		ttl, err := e.TTL(ctx, p+"c")
		if err != nil || ttl <= 0 || ttl > 10*time.Second {
			t.Fatalf("TTL(counter) = %v, %v; want (0, 10s]: created with 10s, kept on later Incr", ttl, err)
		}
	}
	mustSet(t, b, p+"text", []byte("hello"), time.Minute)
	if _, err := backend.Incr(ctx, b, p+"text", 1, time.Minute); !errors.Is(err, backend.ErrNotInteger) {
		t.Fatalf("Incr(non-integer) = %v, want ErrNotInteger", err)
	}
	mustSet(t, b, p+"max", []byte("9223372036854775807"), time.Minute)
	if _, err := backend.Incr(ctx, b, p+"max", 1, time.Minute); !errors.Is(err, backend.ErrOverflow) {
		t.Fatalf("Incr(MaxInt64, 1) = %v, want ErrOverflow", err)
	}
	if got := mustGet(t, b, p+"max"); string(got) != "9223372036854775807" {
		t.Fatalf("Get(max) after overflow = %q, want it unchanged", got)
	}
	if got := mustGet(t, b, p+"text"); string(got) != "hello" {
		t.Fatalf("Get(text) after failed Incr = %q, want hello", got)
	}
	n, err = backend.Incr(ctx, b, p+"forever", 1, backend.NoExpiry)
	if err != nil || n != 1 {
		t.Fatalf("Incr(NoExpiry) = %d, %v; want 1", n, err)
	}
	// Values beyond a double's 53-bit precision come back exact (a Lua
	// script's reply is a double: 1<<60 + 1 came back as 1<<60).
	const big = 1<<60 + 7
	mustSet(t, b, p+"big", []byte("1152921504606846983"), time.Minute)
	for i := int64(1); i <= 3; i++ {
		if n, err := backend.Incr(ctx, b, p+"big", 1, time.Minute); err != nil || n != big+i {
			t.Fatalf("Incr(2^60+%d, 1) = %d, %v; want %d", 6+i, n, err, int64(big+i))
		}
	}
}

func testCounterConcurrent(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.Counter); !ok {
		t.Skip("backend does not implement backend.Counter")
	}
	const workers, each = 16, 50
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				if _, err := backend.Incr(t.Context(), b, p+"c", 1, time.Minute); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("Incr = %v", err)
		}
	}
	if got := mustGet(t, b, p+"c"); string(got) != fmt.Sprint(workers*each) {
		t.Fatalf("counter after %d concurrent Incr = %s, want %d", workers*each, got, workers*each)
	}
}

func testExpirer(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.Expirer); !ok {
		if _, err := backend.TTL(t.Context(), b, p+"k"); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("TTL without Expirer = %v, want ErrUnsupported", err)
		}
		t.Skip("backend does not implement backend.Expirer")
	}
	ctx := t.Context()
	if _, err := backend.TTL(ctx, b, p+"missing"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("TTL(missing) = %v, want ErrNotFound", err)
	}
	if err := backend.Expire(ctx, b, p+"missing", time.Minute); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Expire(missing) = %v, want ErrNotFound", err)
	}
	if err := backend.Persist(ctx, b, p+"missing"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Persist(missing) = %v, want ErrNotFound", err)
	}
	wantMiss(t, b, p+"missing")

	mustSet(t, b, p+"k", []byte("v"), time.Minute)
	ttl, err := backend.TTL(ctx, b, p+"k")
	if err != nil || ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("TTL(k) = %v, %v; want about 1m", ttl, err)
	}
	if err := backend.Expire(ctx, b, p+"k", time.Hour); err != nil {
		t.Fatalf("Expire(k, 1h) = %v", err)
	}
	if ttl, _ := backend.TTL(ctx, b, p+"k"); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL after Expire(1h) = %v, want about 1h", ttl)
	}
	if err := backend.Expire(ctx, b, p+"k", 0); !errors.Is(err, backend.ErrInvalidTTL) {
		t.Fatalf("Expire(0) = %v, want ErrInvalidTTL", err)
	}
	if got := mustGet(t, b, p+"k"); string(got) != "v" {
		t.Fatalf("Get after rejected Expire(0) = %q, want v", got)
	}
	if err := backend.Persist(ctx, b, p+"k"); err != nil {
		t.Fatalf("Persist(k) = %v", err)
	}
	if ttl, err := backend.TTL(ctx, b, p+"k"); err != nil || ttl != backend.NoExpiry {
		t.Fatalf("TTL after Persist = %v, %v; want NoExpiry", ttl, err)
	}
	if err := backend.Persist(ctx, b, p+"k"); err != nil {
		t.Fatalf("Persist(no expiry) = %v, want nil", err)
	}
	if err := backend.Expire(ctx, b, p+"k", 100*time.Millisecond); err != nil {
		t.Fatalf("Expire(100ms) = %v", err)
	}
	eventually(t, 5*time.Second, "key expired after Expire", func() bool {
		_, err := b.Get(ctx, p+"k")
		return errors.Is(err, backend.ErrNotFound)
	})
	if err := b.Delete(ctx, p+"k"); err != nil {
		t.Fatal(err)
	}
}

func scanAll(t *testing.T, b backend.Backend, pattern string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	err := backend.Scan(t.Context(), b, pattern, func(k string) error {
		got[k] = true
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q) = %v", pattern, err)
	}
	return got
}

func testScanner(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.Scanner); !ok {
		if err := backend.Scan(t.Context(), b, p+"*", func(string) error { return nil }); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Scan without Scanner = %v, want ErrUnsupported", err)
		}
		t.Skip("backend does not implement backend.Scanner")
	}
	ctx := t.Context()
	keys := []string{"user:1:name", "user:1:posts/2024", "user:2:name", "user:10:name", "post:1", "user:"}
	for _, k := range keys {
		mustSet(t, b, p+k, []byte(k), time.Minute)
	}
	cases := []struct {
		pattern string
		want    []string
	}{
		{"user:*", []string{"user:1:name", "user:1:posts/2024", "user:2:name", "user:10:name", "user:"}},
		{"user:1:*", []string{"user:1:name", "user:1:posts/2024"}},
		{"user:?:name", []string{"user:1:name", "user:2:name"}},
		{"user:[12]:name", []string{"user:1:name", "user:2:name"}},
		{"user:[^1]:name", []string{"user:2:name"}},
		{"*/2024", []string{"user:1:posts/2024"}}, // Redis '*' matches '/'
		{"user:[]", nil}, // an empty set matches nothing
		{"nothing*", nil},
	}
	for _, c := range cases {
		got := scanAll(t, b, backend.QuoteGlob(p)+c.pattern)
		if len(got) != len(c.want) {
			t.Fatalf("Scan(%q) = %v, want %v", c.pattern, got, c.want)
		}
		for _, w := range c.want {
			if !got[p+w] {
				t.Fatalf("Scan(%q) = %v, missing %q", c.pattern, got, w)
			}
		}
	}

	// fn may call back into the backend; its error stops the scan.
	stop := errors.New("stop")
	calls := 0
	err := backend.Scan(ctx, b, backend.QuoteGlob(p)+"*", func(k string) error {
		calls++
		if _, err := b.Get(ctx, k); err != nil {
			return err
		}
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Scan with failing fn = %v after %d calls, want stop after 1", err, calls)
	}

	// Malformed patterns (Redis would silently reinterpret them) and
	// over-long or over-complex ones are rejected before any scan.
	bad := []string{"", strings.Repeat("a", backend.MaxPatternLen+1), strings.Repeat("*a", backend.MaxPatternWildcards+1)}
	for _, m := range []string{"user:[", "user:[a", "user:[^", `user:\`, "user:[a-]", `user:[\]`} {
		bad = append(bad, backend.QuoteGlob(p)+m)
	}
	for _, bad := range bad {
		if err := backend.Scan(ctx, b, bad, func(string) error { return nil }); !errors.Is(err, backend.ErrInvalidPattern) {
			t.Fatalf("Scan(%.20q…) = %v, want ErrInvalidPattern", bad, err)
		}
		if _, err := backend.DeletePattern(ctx, b, bad); !errors.Is(err, backend.ErrInvalidPattern) {
			t.Fatalf("DeletePattern(%.20q…) = %v, want ErrInvalidPattern", bad, err)
		}
	}

	n, err := backend.DeletePattern(ctx, b, backend.QuoteGlob(p)+"user:1*")
	if err != nil || n != 3 {
		t.Fatalf("DeletePattern(user:1*) = %d, %v; want 3", n, err)
	}
	got := scanAll(t, b, backend.QuoteGlob(p)+"*")
	if len(got) != 3 || !got[p+"user:2:name"] || !got[p+"post:1"] || !got[p+"user:"] {
		t.Fatalf("keys left after DeletePattern = %v, want user:2:name, post:1, user:", got)
	}
	n, err = backend.DeletePattern(ctx, b, backend.QuoteGlob(p)+"*")
	if err != nil || n != 3 {
		t.Fatalf("DeletePattern(*) = %d, %v; want 3", n, err)
	}
}

func testScannerInjection(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.Scanner); !ok {
		t.Skip("backend does not implement backend.Scanner")
	}
	ctx := t.Context()
	// A user id "*" must only ever select its own keys.
	for _, id := range []string{"*", "1", "2", "[12]", "{tag}"} {
		mustSet(t, b, p+"u:"+backend.EscapeKeyPart(id)+":x", []byte(id), time.Minute)
	}
	for _, id := range []string{"*", "[12]", "{tag}", "1"} {
		got := scanAll(t, b, backend.QuoteGlob(p)+"u:"+backend.EscapeKeyPart(id)+":*")
		want := p + "u:" + backend.EscapeKeyPart(id) + ":x"
		if len(got) != 1 || !got[want] {
			t.Fatalf("Scan for escaped id %q = %v, want only %q", id, got, want)
		}
	}
	n, err := backend.DeletePattern(ctx, b, backend.QuoteGlob(p)+"u:"+backend.EscapeKeyPart("*")+":*")
	if err != nil || n != 1 {
		t.Fatalf("DeletePattern(escaped *) = %d, %v; want 1", n, err)
	}
	if got := mustGet(t, b, p+"u:1:x"); string(got) != "1" {
		t.Fatalf("an escaped '*' deleted another user's key")
	}
}

func testSwapper(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.Swapper); !ok {
		if _, err := backend.CompareAndSwap(t.Context(), b, p+"k", nil, nil, time.Minute); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("CompareAndSwap without Swapper = %v, want ErrUnsupported", err)
		}
		t.Skip("backend does not implement backend.Swapper")
	}
	ctx := t.Context()
	cas := func(old, val string, oldNil bool) bool {
		t.Helper()
		var o []byte
		if !oldNil {
			o = []byte(old)
		}
		ok, err := backend.CompareAndSwap(ctx, b, p+"k", o, []byte(val), time.Minute)
		if err != nil {
			t.Fatalf("CompareAndSwap(%q→%q) = %v", old, val, err)
		}
		return ok
	}
	if !cas("", "v1", true) {
		t.Fatalf("CompareAndSwap(absent→v1) = false, want true")
	}
	if cas("", "v2", true) {
		t.Fatalf("CompareAndSwap(absent→v2) on existing key = true, want false")
	}
	if cas("wrong", "v2", false) {
		t.Fatalf("CompareAndSwap(wrong→v2) = true, want false")
	}
	if got := mustGet(t, b, p+"k"); string(got) != "v1" {
		t.Fatalf("Get after failed swaps = %q, want v1", got)
	}
	if !cas("v1", "v2", false) {
		t.Fatalf("CompareAndSwap(v1→v2) = false, want true")
	}
	if got := mustGet(t, b, p+"k"); string(got) != "v2" {
		t.Fatalf("Get after swap = %q, want v2", got)
	}
	// An empty current value is not the same as absent.
	if ok, err := backend.CompareAndSwap(ctx, b, p+"e", nil, []byte{}, time.Minute); err != nil || !ok {
		t.Fatalf("CompareAndSwap(absent→empty) = %v, %v", ok, err)
	}
	if ok, _ := backend.CompareAndSwap(ctx, b, p+"e", nil, []byte("x"), time.Minute); ok {
		t.Fatalf("CompareAndSwap(nil old) on an empty value = true, want false")
	}
	if ok, err := backend.CompareAndSwap(ctx, b, p+"e", []byte{}, []byte("x"), time.Minute); err != nil || !ok {
		t.Fatalf("CompareAndSwap(empty→x) = %v, %v; want true", ok, err)
	}
	if e, ok := b.(backend.Expirer); ok {
		if ttl, err := e.TTL(ctx, p+"k"); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("TTL after swap = %v, %v; want (0, 1m]", ttl, err)
		}
	}
}

func testSwapperConcurrent(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.Swapper); !ok {
		t.Skip("backend does not implement backend.Swapper")
	}
	const workers, each = 8, 25
	mustSet(t, b, p+"n", []byte("0"), time.Minute)
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; {
				cur, err := b.Get(t.Context(), p+"n")
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(string(cur), &n)
				ok, err := backend.CompareAndSwap(t.Context(), b, p+"n", cur, []byte(fmt.Sprint(n+1)), time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					i++
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	if got := mustGet(t, b, p+"n"); string(got) != fmt.Sprint(workers*each) {
		t.Fatalf("CAS counter = %s, want %d (lost update)", got, workers*each)
	}
}

func testPubSub(t *testing.T, b backend.Backend, p string) {
	ps, ok := b.(backend.PubSub)
	if !ok {
		if err := backend.Publish(t.Context(), b, p+"ch", nil); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Publish without PubSub = %v, want ErrUnsupported", err)
		}
		if _, err := backend.Subscribe(t.Context(), b, p+"ch"); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Subscribe without PubSub = %v, want ErrUnsupported", err)
		}
		t.Skip("backend does not implement backend.PubSub")
	}
	ctx := t.Context()
	if err := ps.Publish(ctx, p+"nobody", []byte("x")); err != nil {
		t.Fatalf("Publish with no subscriber = %v", err)
	}
	sub, err := ps.Subscribe(ctx, p+"ch", p+"ch2")
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	const n = 20
	for i := 0; i < n; i++ {
		if err := ps.Publish(ctx, p+"ch", []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("Publish = %v", err)
		}
	}
	if err := ps.Publish(ctx, p+"other", []byte("no")); err != nil {
		t.Fatal(err)
	}
	if err := ps.Publish(ctx, p+"ch2", []byte("two")); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for i := 0; i <= n; i++ {
		select {
		case m, ok := <-sub.Messages():
			if !ok {
				t.Fatalf("Messages closed early")
			}
			if m.Gap {
				i--
				continue
			}
			want, wantCh := fmt.Sprint(i), p+"ch"
			if i == n {
				want, wantCh = "two", p+"ch2"
			}
			if m.Channel != wantCh || string(m.Payload) != want {
				t.Fatalf("message %d = %s/%q, want %s/%q", i, m.Channel, m.Payload, wantCh, want)
			}
		case <-timeout:
			t.Fatalf("received %d of %d messages", i, n+1)
		}
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-sub.Messages():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("Messages not closed after Close")
		}
	}
}

func testConcurrent(t *testing.T, b backend.Backend, p string) {
	const workers, each = 64, 40
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			ctx := t.Context()
			for i := 0; i < each; i++ {
				k := fmt.Sprintf("%sk%d", p, (w+i)%8)
				var err error
				switch i % 4 {
				case 0:
					err = b.Set(ctx, k, []byte(k), time.Minute)
				case 1:
					var v []byte
					v, err = b.Get(ctx, k)
					if err == nil && string(v) != k {
						err = fmt.Errorf("Get(%q) = %q, want the key itself", k, v)
					}
				case 2:
					_, err = backend.GetMany(ctx, b, []string{k, p + "k0", p + "k7"})
				case 3:
					err = b.Delete(ctx, k)
				}
				if err != nil && !errors.Is(err, backend.ErrNotFound) {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
}
