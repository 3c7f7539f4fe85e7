package memo

import (
	"strconv"
	"strings"

	"github.com/cachekit/cachekit/backend"
)

// StoredKey is a backend key written by a [Cache], taken apart by
// [ParseStoredKey]. Operators' tools use it to show cached entries under
// the names their application used.
type StoredKey struct {
	Namespace string        // the Options.Namespace, unescaped
	Version   int           // the Options.Version
	Role      StoredKeyRole // what the key holds
	// Generation is the namespace generation a data key was written
	// under (only keys of the current generation are read; see
	// [Cache.Clear]).
	Generation uint64
	// Key is the user key of a data or counter key, unescaped; empty when
	// Hashed.
	Key string
	// Hashed is true for a data key whose escaped user key was longer than
	// 200 bytes and is stored as its SHA-256: the user key is not
	// recoverable.
	Hashed bool
}

// StoredKeyRole says what a stored key holds.
type StoredKeyRole uint8

const (
	// RoleData holds a cached entry (a codec envelope).
	RoleData StoredKeyRole = iota + 1
	// RoleGeneration holds the namespace generation, in decimal.
	RoleGeneration
	// RoleCounter holds a counter.
	RoleCounter
)

// String returns "data", "generation" or "counter".
func (r StoredKeyRole) String() string {
	switch r {
	case RoleData:
		return "data"
	case RoleGeneration:
		return "generation"
	case RoleCounter:
		return "counter"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// ParseStoredKey takes apart a backend key written by a Cache:
// "<ns>:v<version>:<generation base 36>:<escaped key>" for data,
// "<ns>:v<version>:gen" for the generation and "<ns>:v<version>:n:<key>"
// for counters. It reports false for any other key. (A data key of
// generation 23, "n" in base 36, reads as a counter; generations after a
// Clear are random 64-bit numbers, so this does not happen in practice.)
func ParseStoredKey(s string) (StoredKey, bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 3 || len(parts) > 4 || parts[0] == "" || !strings.HasPrefix(parts[1], "v") {
		return StoredKey{}, false
	}
	v, err := strconv.Atoi(parts[1][1:])
	if err != nil || v <= 0 || strconv.Itoa(v) != parts[1][1:] {
		return StoredKey{}, false
	}
	k := StoredKey{Namespace: backend.UnescapeKeyPart(parts[0]), Version: v}
	if len(parts) == 3 {
		if parts[2] != "gen" {
			return StoredKey{}, false
		}
		k.Role = RoleGeneration
		return k, true
	}
	if parts[2] == "n" {
		k.Role, k.Key = RoleCounter, backend.UnescapeKeyPart(parts[3])
		return k, true
	}
	gen, err := strconv.ParseUint(parts[2], 36, 64)
	if err != nil || strconv.FormatUint(gen, 36) != parts[2] {
		return StoredKey{}, false
	}
	k.Role, k.Generation = RoleData, gen
	if h, ok := strings.CutPrefix(parts[3], "%#"); ok {
		if len(h) != 64 {
			return StoredKey{}, false
		}
		k.Hashed = true
		return k, true
	}
	k.Key = backend.UnescapeKeyPart(parts[3])
	return k, true
}

// DataKey returns the backend key under which a Cache with namespace and
// version stores key during generation gen (see [GenerationKey]).
func DataKey(namespace string, version int, gen uint64, key string) string {
	return newKeyspace(namespace, version).data(gen, key)
}

// DataPattern returns the Redis glob matching every data key of
// namespace, version and generation gen.
func DataPattern(namespace string, version int, gen uint64) string {
	ks := newKeyspace(namespace, version)
	return backend.QuoteGlob(ks.prefix+strconv.FormatUint(gen, 36)) + ":*"
}

// NamespacePattern returns the Redis glob matching every key of
// namespace, all versions and generations (and nothing of another
// namespace).
func NamespacePattern(namespace string) string {
	return backend.QuoteGlob(backend.EscapeKeyPart(namespace)) + ":v*"
}

// GenerationKey returns the backend key holding the current generation of
// namespace and version. A missing key means generation 0; its value is
// decimal (see [ParseGeneration]).
func GenerationKey(namespace string, version int) string {
	return newKeyspace(namespace, version).gen()
}

// ParseGeneration reads the value of a [GenerationKey].
func ParseGeneration(raw []byte) (uint64, error) {
	return strconv.ParseUint(string(raw), 10, 64)
}
