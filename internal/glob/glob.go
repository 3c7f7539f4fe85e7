// Package glob implements Redis glob-style pattern matching, byte for byte
// the algorithm of Redis 7.0's stringmatchlen (util.c), case-sensitive.
//
// The syntax:
//
//   - '*' matches any sequence of bytes, including '/' and the empty one
//     (but see the note on empty strings below);
//   - '?' matches exactly one byte;
//   - '[abc]' matches one byte of the set, '[^abc]' one byte not in it,
//     'a-z' inside a set is a range (a reversed range 'z-a' is swapped;
//     bounds compare as C signed chars, so bytes ≥ 0x80 sort below 0x00);
//   - '\' escapes the next byte, inside and outside sets; a trailing lone
//     '\' matches a literal '\'.
//
// Malformed patterns behave exactly as in Redis: a '[' without a closing
// ']' treats the end of the pattern as the end of the set, so "user:[a"
// matches "user:a" while "user:[" matches nothing. Like Redis 7.0, a
// non-empty pattern never matches the empty string (not even "*").
//
// Matching is byte-wise, not rune-wise. Its cost is polynomial: like Redis
// ≥ 7.0.10 (the CVE-2022-36021 fix) a failed '*' expansion that reached the
// end of the subject stops all outer '*' from trying longer expansions.
// Recursion is bounded by [MaxNesting].
package glob

// MaxNesting bounds the number of '*' groups (runs of consecutive stars) a
// pattern may nest before matching gives up and reports no match. Redis
// 7.0 has no such bound; Redis 7.2.5 and later use the same limit. Patterns
// accepted by backend.CheckPattern (at most 8 stars) never reach it.
const MaxNesting = 1000

// Match reports whether s matches the Redis glob pattern.
func Match(pattern, s string) bool {
	skip := false
	return match(pattern, 0, s, 0, &skip, 0)
}

// at returns p[i], or 0 past the end of p: the C code reads the NUL
// terminator of the sds string there.
func at(p string, i int) byte {
	if i < len(p) {
		return p[i]
	}
	return 0
}

// match is stringmatchlen_impl. pi and si index pattern and s; the C
// pattern/string lengths are len(p)-pi and len(s)-si, which the C code keeps
// in step with its pointers everywhere.
func match(p string, pi int, s string, si int, skipLonger *bool, nesting int) bool {
	if nesting > MaxNesting {
		// Give up, and stop every outer '*' from retrying too.
		*skipLonger = true
		return false
	}
	for pi < len(p) && si < len(s) {
		switch p[pi] {
		case '*':
			for at(p, pi+1) == '*' {
				pi++
			}
			if len(p)-pi == 1 {
				return true
			}
			for si < len(s) {
				if match(p, pi+1, s, si, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
			}
			*skipLonger = true
			return false
		case '?':
			si++
		case '[':
			pi++
			not := at(p, pi) == '^'
			if not {
				pi++
			}
			c := s[si]
			matched := false
		set:
			for {
				switch {
				case at(p, pi) == '\\' && len(p)-pi >= 2:
					pi++
					if p[pi] == c {
						matched = true
					}
				case at(p, pi) == ']':
					break set
				case pi >= len(p):
					// End of pattern closes the set; step back so the
					// common pi++ below lands on the end again.
					pi--
					break set
				case len(p)-pi >= 3 && p[pi+1] == '-':
					// C compares plain (signed) chars here.
					start, end, cc := int8(p[pi]), int8(p[pi+2]), int8(c)
					if start > end {
						start, end = end, start
					}
					pi += 2
					if cc >= start && cc <= end {
						matched = true
					}
				default:
					if p[pi] == c {
						matched = true
					}
				}
				pi++
			}
			if not {
				matched = !matched
			}
			if !matched {
				return false
			}
			si++
		case '\\':
			if len(p)-pi >= 2 {
				pi++
			}
			fallthrough
		default:
			if p[pi] != s[si] {
				return false
			}
			si++
		}
		pi++
		if si == len(s) {
			for at(p, pi) == '*' {
				pi++
			}
			break
		}
	}
	return pi == len(p) && si == len(s)
}

// HasMeta reports whether pattern contains an unescaped metacharacter
// ('*', '?' or '['). A pattern without one matches exactly one string,
// [LiteralPrefix](pattern).
func HasMeta(pattern string) bool {
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*', '?', '[':
			return true
		case '\\':
			i++
		}
	}
	return false
}

// LiteralPrefix returns the literal text before the first unescaped
// metacharacter of pattern, with escapes removed. Every string that matches
// pattern starts with it.
func LiteralPrefix(pattern string) string {
	i := 0
	escaped := false
	for ; i < len(pattern); i++ {
		c := pattern[i]
		if c == '*' || c == '?' || c == '[' {
			break
		}
		if c == '\\' && i+1 < len(pattern) {
			escaped = true
			i++
		}
	}
	if !escaped {
		return pattern[:i]
	}
	b := make([]byte, 0, i)
	for j := 0; j < i; j++ {
		if pattern[j] == '\\' && j+1 < len(pattern) {
			j++
		}
		b = append(b, pattern[j])
	}
	return string(b)
}
