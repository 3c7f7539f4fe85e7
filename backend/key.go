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
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
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
func EscapedKeyPartLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n += 2
		}
	}
	return n
}

// AppendEscapedKeyPart appends EscapeKeyPart(s) to dst and returns the
// extended slice: for a caller that builds a whole key in one buffer.
func AppendEscapedKeyPart(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
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

func needsEscape(c byte) bool {
	switch c {
	case '%', ':', '*', '?', '[', ']', '\\', '{', '}', ' ', 0x7f:
		return true
	}
	return c < 0x20
}

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
