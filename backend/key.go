package backend

import "strings"

// EscapeKeyPart makes a user-supplied string safe to embed in a key built
// by joining parts with ':'. It percent-encodes '%', ':', the glob
// metacharacters '*', '?', '[', ']', '\', the Redis Cluster hash-tag braces
// '{' and '}', and ASCII control characters and space. The result:
//
//   - cannot move the key to another Cluster slot (no braces survive),
//   - matches itself literally inside a glob pattern, so
//     "user:" + EscapeKeyPart(id) + ":*" selects exactly that user's keys,
//   - cannot collide with another split of the same parts ("a:b","c" and
//     "a","b:c" escape differently).
//
// Strings without any of those bytes are returned unchanged (no
// allocation). The encoding is reversible with [UnescapeKeyPart].
func EscapeKeyPart(s string) string {
	n := escapes(s)
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// EscapedKeyPartLen returns len(EscapeKeyPart(s)) without building it.
func EscapedKeyPartLen(s string) int { return len(s) + 2*escapes(s) }

// AppendEscapeKeyPart appends [EscapeKeyPart](s) to dst and returns the
// extended buffer: a key of several parts is built in one allocation when
// dst has room.
func AppendEscapeKeyPart(dst []byte, s string) []byte {
	for {
		i := 0
		for i < len(s) && !escaped[s[i]] {
			i++
		}
		dst = append(dst, s[:i]...)
		if i == len(s) {
			return dst
		}
		c := s[i]
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xf])
		s = s[i+1:]
	}
}

// escapes counts the bytes of s that EscapeKeyPart encodes.
func escapes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	return n
}

// UnescapeKeyPart reverses [EscapeKeyPart]. Malformed escapes are kept as
// they are.
func UnescapeKeyPart(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// QuoteGlob backslash-escapes the Redis glob metacharacters in s ('*', '?',
// '[', ']', '\'), so the result, used as a pattern, matches s literally.
// Use it for a literal prefix of a pattern built from an existing key; it
// does not remove hash tags (use [EscapeKeyPart] on user input).
func QuoteGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

const hexDigits = "0123456789ABCDEF"

func needsEscape(c byte) bool { return escaped[c] }

// escaped[c] says whether EscapeKeyPart encodes byte c: '%', ':', the glob
// metacharacters, the hash-tag braces, space, DEL and the control bytes.
var escaped = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for _, c := range []byte{'%', ':', '*', '?', '[', ']', '\\', '{', '}', ' ', 0x7f} {
		t[c] = true
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
