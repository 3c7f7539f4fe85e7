package glob

import "strconv"

// Validate reports the first malformation of pattern that Redis would
// silently reinterpret: a '[' set without its closing ']' (the set then
// runs to the end of the pattern, so "user:[" matches nothing and
// "user:[a" matches "user:a"), and a trailing lone '\' (which Redis
// matches as a literal '\'). It parses sets exactly as [Match] does: '\'
// escapes the next byte, and "x-y" is a range even when y is ']', so
// "[a-]" is unclosed. It returns nil for a well-formed pattern.
func Validate(pattern string) error {
	p := pattern
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i == len(p)-1 {
				return &Error{Pattern: pattern, Offset: i, Reason: "trailing '\\' escapes nothing"}
			}
			i++
		case '[':
			start := i
			i++
			if i < len(p) && p[i] == '^' {
				i++
			}
			for {
				switch {
				case i >= len(p):
					return &Error{Pattern: pattern, Offset: start, Reason: "'[' without a closing ']'"}
				case p[i] == '\\' && len(p)-i >= 2:
					i += 2
					continue
				case p[i] == ']':
				case len(p)-i >= 3 && p[i+1] == '-':
					i += 3
					continue
				default:
					i++
					continue
				}
				break
			}
		}
	}
	return nil
}

// Error describes a malformed pattern found by [Validate].
type Error struct {
	Pattern string // the whole pattern
	Offset  int    // byte offset of the offending '[' or '\'
	Reason  string // what is wrong
}

// Error implements error.
func (e *Error) Error() string {
	return "glob: " + e.Reason + " at offset " + strconv.Itoa(e.Offset) + " of pattern " + strconv.Quote(e.Pattern)
}
