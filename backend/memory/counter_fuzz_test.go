package memory

import (
	"strconv"
	"testing"
)

// FuzzParseInt checks parseInt against Redis' rule: a value counts as an
// integer exactly when it is the canonical decimal form of an int64.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "7", "-7", "007", "+1", " 1", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "18446744073709551616", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := parseInt(b)
		std, err := strconv.ParseInt(string(b), 10, 64)
		canonical := err == nil && strconv.FormatInt(std, 10) == string(b)
		if ok != canonical || (ok && n != std) {
			t.Fatalf("parseInt(%q) = %d, %v; canonical int64: %v (%d)", b, n, ok, canonical, std)
		}
	})
}
