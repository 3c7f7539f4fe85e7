package glob_test

import (
	"errors"
	"testing"

	"github.com/cachekit/cachekit/internal/glob"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := []string{
		"a", "user:*", "*", "?", "[abc]", "[^a]", "[]", "[^]", "[a-z]x", `[\]]`, `\[`, `a\\`,
		"[a-]]", "[-]", `\*\?`, "[[]", "a]b", "user:[12]:name",
	}
	for _, p := range valid {
		if err := glob.Validate(p); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", p, err)
		}
	}
	invalid := []struct {
		pattern string
		offset  int
	}{
		{"user:[", 5},
		{"user:[a", 5},
		{"user:[^", 5},
		{`user:\`, 5},
		{`a\\\`, 3},
		{"[a-]", 0},  // "a-]" is a range up to ']', so the set never closes
		{`[\]`, 0},   // the ']' is escaped
		{`[a\]`, 0},  // likewise
		{"x[]y[", 4}, // a closed set, then an unclosed one
		{`[\`, 0},    // a lone '\' inside a set is literal; still unclosed
		{"ok*[b", 3},
	}
	for _, c := range invalid {
		err := glob.Validate(c.pattern)
		var ge *glob.Error
		if !errors.As(err, &ge) || ge.Offset != c.offset || ge.Pattern != c.pattern {
			t.Errorf("Validate(%q) = %v, want a *glob.Error at offset %d", c.pattern, err, c.offset)
		}
	}
}

// FuzzValidate checks that Validate never panics and that a pattern it
// accepts never makes the matcher fall off the end of a set: appending a
// byte after a valid pattern cannot change whether a set closed.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"", "user:[", "[a-]", `\`, "[^", "[]]", `[\]]`, "a*b?[c-d]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := glob.Validate(p)
		if err != nil {
			return
		}
		// A valid pattern followed by a literal "\x01" matches s+"\x01"
		// exactly when the pattern matches s (sets and escapes ended
		// inside p).
		for _, s := range []string{"a", "ab", "\x01", "[", "]", "-"} {
			if glob.Match(p, s) != glob.Match(p+"\x01", s+"\x01") {
				t.Fatalf("valid pattern %q: Match(%q) and Match with a literal suffix disagree", p, s)
			}
		}
	})
}
