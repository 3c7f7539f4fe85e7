package memo

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/cachekit/cachekit/backend"
)

// TestDataKey: a data key is the generation's prefix and the escaped user
// key, or "%#" and the key's SHA-256 when the escaped key is too long;
// built in one allocation.
func TestDataKey(t *testing.T) {
	k := newKeyspace("ns:x", 3)
	long := strings.Repeat("a:", maxKeyLen/3+1) // escapes past maxKeyLen
	for _, key := range []string{"", "post:42", "plain", "{tag}*", strings.Repeat("b", maxKeyLen), strings.Repeat("b", maxKeyLen+1), long} {
		for _, gen := range []uint64{0, 7, 1 << 60} {
			e := backend.EscapeKeyPart(key)
			if len(e) > maxKeyLen {
				sum := sha256.Sum256([]byte(key))
				e = "%#" + hex.EncodeToString(sum[:])
			}
			want := k.prefix + strconv.FormatUint(gen, 36) + ":" + e
			if got := k.data(gen, key); got != want {
				t.Errorf("data(%d, %q) = %q, want %q", gen, key, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = k.data(7, "post:42") }); n != 1 {
		t.Errorf("data allocates %.0f times, want 1", n)
	}
}

// TestDataKeysAllocs: dataAll builds what data builds for every key (plain,
// escaped, empty, hashed), the kept keys in one allocation.
func TestDataKeysAllocs(t *testing.T) {
	k := newKeyspace("ns:x", 3)
	keys := []string{"post:42", "plain", "", "{tag}*", strings.Repeat("a:", maxKeyLen/3+1), strings.Repeat("b", maxKeyLen), "last"}
	got := make([]string, len(keys))
	k.dataAll(9, keys, got)
	for i, key := range keys {
		if want := k.data(9, key); got[i] != want {
			t.Errorf("dataAll[%d] = %q, want %q", i, got[i], want)
		}
	}
	plain := keys[:4]
	if n := testing.AllocsPerRun(100, func() { k.dataAll(9, plain, got) }); n != 1 {
		t.Errorf("dataAll of %d keys allocates %.0f times, want 1", len(plain), n)
	}
}
