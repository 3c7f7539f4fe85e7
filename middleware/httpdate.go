package middleware

import (
	"strings"
	"time"
)

// parseHTTPDate parses an HTTP-date strictly (RFC 9110 §5.6.7): exactly
// one of IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC
// 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime ("Sun Nov  6
// 08:49:37 1994"), with single spaces, two-digit hours, minutes and
// seconds, a four-digit year (two in RFC 850) and the zone GMT. Anything
// else (another zone such as UTC, a missing comma, doubled spaces,
// periods, a one-digit hour) is invalid, which is what net/http's lenient
// http.ParseTime does not say.
//
// The grammar is case-sensitive, but the weekday, month and "GMT" are
// matched case-insensitively: the value is unambiguous, the public
// cache-tests suite expects it (freshness-expires-wrong-case-*, optional),
// and RFC 9110 §5.6.7 asks recipients to be robust with dates. The
// weekday is checked to be a weekday name, not against the date.
func parseHTTPDate(s string) (time.Time, bool) {
	var (
		day, year, hms string
		mon            string
		twoDigitYear   bool
	)
	switch {
	case len(s) == 29 && s[3] == ',':
		// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
		if !shortDay(s[:3]) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' || !strings.EqualFold(s[26:], "GMT") {
			return time.Time{}, false
		}
		day, mon, year, hms = s[5:7], s[8:11], s[12:16], s[17:25]
	case len(s) == 24 && s[3] == ' ':
		// asctime: Sun Nov  6 08:49:37 1994
		if !shortDay(s[:3]) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' {
			return time.Time{}, false
		}
		mon, hms, year = s[4:7], s[11:19], s[20:]
		day = s[8:10]
		if day[0] == ' ' {
			day = "0" + day[1:]
		}
	default:
		// RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
		name, rest, ok := strings.Cut(s, ", ")
		if !ok || !longDay(name) || len(rest) != 22 || rest[2] != '-' || rest[6] != '-' || rest[9] != ' ' || rest[18] != ' ' || !strings.EqualFold(rest[19:], "GMT") {
			return time.Time{}, false
		}
		day, mon, year, hms = rest[:2], rest[3:6], rest[7:9], rest[10:18]
		twoDigitYear = true
	}
	d, ok1 := digits(day)
	y, ok2 := digits(year)
	m := month(mon)
	if !ok1 || !ok2 || m == 0 || len(hms) != 8 || hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	hh, ok3 := digits(hms[:2])
	mm, ok4 := digits(hms[3:5])
	ss, ok5 := digits(hms[6:])
	if !ok3 || !ok4 || !ok5 || hh > 23 || mm > 59 || ss > 60 || d < 1 {
		return time.Time{}, false
	}
	if twoDigitYear {
		// RFC 9110 §5.6.7: a two-digit year more than 50 years in the
		// future is the most recent past year with those digits.
		now := time.Now().UTC().Year()
		y += now - now%100
		if y > now+50 {
			y -= 100
		}
	}
	t := time.Date(y, m, d, hh, mm, min(ss, 59), 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, false // 31 Feb and the like
	}
	if ss == 60 {
		t = t.Add(time.Second) // a leap second: the next second
	}
	return t, true
}

// digits parses a run of ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

var shortDays = [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

var longDays = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func shortDay(s string) bool {
	for _, d := range shortDays {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

func longDay(s string) bool {
	for _, d := range longDays {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

// month returns the month named s, or 0.
func month(s string) time.Month {
	for i, m := range months {
		if strings.EqualFold(s, m) {
			return time.Month(i + 1)
		}
	}
	return 0
}
