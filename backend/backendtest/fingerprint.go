package backendtest

import (
	"errors"
	"testing"
	"time"

	"github.com/cachekit/cachekit/backend"
)

// swapperOnly hides every capability but Swapper and PubSub, to test the
// fallback of backend.SwapFingerprint.
type swapperOnly struct {
	backend.Backend
	backend.Swapper
	backend.PubSub
}

func testFingerprintSwapper(t *testing.T, b backend.Backend, p string) {
	if _, ok := b.(backend.FingerprintSwapper); !ok {
		if _, ok := b.(backend.Swapper); !ok {
			if _, err := backend.SwapFingerprint(t.Context(), b, p+"k", nil, nil, time.Minute, nil); !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("SwapFingerprint without a swapper = %v, want ErrUnsupported", err)
			}
			t.Skip("backend implements neither FingerprintSwapper nor Swapper")
		}
	}
	t.Run("native", func(t *testing.T) { fingerprintContract(t, b, p+"n.") })
	if s, ok := b.(backend.Swapper); ok {
		ps, _ := b.(backend.PubSub)
		t.Run("fallback", func(t *testing.T) { fingerprintContract(t, swapperOnly{b, s, ps}, p+"f.") })
	}
}

// fingerprintContract checks the semantics of backend.SwapFingerprint
// on b, whichever way b provides it.
func fingerprintContract(t *testing.T, b backend.Backend, p string) {
	ctx := t.Context()
	swap := func(old *backend.Fingerprint, val string, notice *backend.Notice) bool {
		t.Helper()
		ok, err := backend.SwapFingerprint(ctx, b, p+"k", old, []byte(val), time.Minute, notice)
		if err != nil {
			t.Fatalf("SwapFingerprint(→%q) = %v", val, err)
		}
		return ok
	}
	fp := func(v string, n int) *backend.Fingerprint {
		f := backend.FingerprintOf([]byte(v), n)
		return &f
	}
	if _, err := backend.SwapFingerprint(ctx, b, p+"k", &backend.Fingerprint{Len: 1, Tail: []byte("ab")}, []byte("x"), time.Minute, nil); !errors.Is(err, backend.ErrFingerprint) {
		t.Fatalf("SwapFingerprint(tail longer than value) = %v, want ErrFingerprint", err)
	}
	if swap(fp("v1-aaaa", 4), "x", nil) {
		t.Fatalf("SwapFingerprint(fingerprint) on an absent key = true, want false")
	}
	if !swap(nil, "v1-aaaa", nil) {
		t.Fatalf("SwapFingerprint(absent→v1) = false, want true")
	}
	if e, ok := b.(backend.Expirer); ok {
		if ttl, err := e.TTL(ctx, p+"k"); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("TTL after swap from absent = %v, %v; want (0, 1m]", ttl, err)
		}
	}
	if swap(nil, "v2", nil) {
		t.Fatalf("SwapFingerprint(absent→v2) on an existing key = true, want false")
	}
	if swap(fp("v1-aaaab", 4), "v2", nil) || swap(fp("v1-aaab", 4), "v2", nil) || swap(fp("v1-bbbb", 4), "v2", nil) {
		t.Fatalf("SwapFingerprint with a wrong length or tail = true, want false")
	}
	if got := mustGet(t, b, p+"k"); string(got) != "v1-aaaa" {
		t.Fatalf("Get after refused swaps = %q, want v1-aaaa", got)
	}
	// The notice is published when, and only when, the swap stored.
	var sub backend.Subscription
	if ps, ok := b.(backend.PubSub); ok {
		var err error
		if sub, err = ps.Subscribe(ctx, p+"ch"); err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}
	if swap(fp("v1-aaab", 4), "no", &backend.Notice{Channel: p + "ch", Payload: []byte("refused")}) {
		t.Fatalf("SwapFingerprint(wrong tail) = true, want false")
	}
	if !swap(fp("v1-aaaa", 4), "v2", &backend.Notice{Channel: p + "ch", Payload: []byte("landed")}) {
		t.Fatalf("SwapFingerprint(v1→v2) = false, want true")
	}
	if got := mustGet(t, b, p+"k"); string(got) != "v2" {
		t.Fatalf("Get after swap = %q, want v2", got)
	}
	if sub != nil {
		select {
		case m := <-sub.Messages():
			if m.Gap || string(m.Payload) != "landed" {
				t.Fatalf("notice = %+v, want the payload of the stored swap only", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no notice after a stored swap")
		}
	}
	if e, ok := b.(backend.Expirer); ok {
		if ttl, err := e.TTL(ctx, p+"k"); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("TTL after swap = %v, %v; want (0, 1m]", ttl, err)
		}
	}
	// An empty value is present, not absent.
	if ok, err := backend.SwapFingerprint(ctx, b, p+"e", nil, []byte{}, time.Minute, nil); err != nil || !ok {
		t.Fatalf("SwapFingerprint(absent→empty) = %v, %v", ok, err)
	}
	if ok, _ := backend.SwapFingerprint(ctx, b, p+"e", nil, []byte("x"), time.Minute, nil); ok {
		t.Fatalf("SwapFingerprint(absent) on an empty value = true, want false")
	}
	if ok, err := backend.SwapFingerprint(ctx, b, p+"e", &backend.Fingerprint{}, []byte("x"), time.Minute, nil); err != nil || !ok {
		t.Fatalf("SwapFingerprint(empty→x) = %v, %v; want true", ok, err)
	}
}
