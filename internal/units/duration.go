package units

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Day and Week are the two units ParseDuration adds to Go's. A day is
// always 24 hours here: durations are elapsed time, not calendar days.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// durationUnits maps every accepted unit to its length in nanoseconds. The
// error messages only advertise the ones an operator needs; ns and µs are
// accepted because Go's own form has them.
var durationUnits = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond), // U+00B5 MICRO SIGN
	"μs": uint64(time.Microsecond), // U+03BC GREEK SMALL LETTER MU
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(Day),
	"w":  uint64(Week),
}

// durationHints suggests the right unit for spellings people often try.
var durationHints = map[string]string{
	"sec": "s", "secs": "s", "second": "s", "seconds": "s", "S": "s",
	"min": "m", "mins": "m", "minute": "m", "minutes": "m",
	"hr": "h", "hrs": "h", "hour": "h", "hours": "h", "H": "h",
	"day": "d", "days": "d", "D": "d",
	"wk": "w", "week": "w", "weeks": "w", "W": "w",
	"msec": "ms", "MS": "ms",
}

const durationUnitList = "use ms, s, m, h, d, w"

// ParseDuration parses a duration in Go's form ("90s", "12h", "1h30m",
// "250ms") extended with days ("d", 24h) and weeks ("w", 7d). Components
// combine in any order ("1w2d", "7d12h") and take fractions ("1.5d" is
// 36h). A leading '-' or '+' is accepted, as in Go; callers that need a
// positive duration check the result. Surrounding white space is ignored;
// white space inside is an error. A bare number is an error except "0".
//
// Fraction digits beyond the nanosecond are truncated. A result outside
// the range of time.Duration (about ±292 years) is an error.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	fail := func(format string, args ...any) (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q: "+format, append([]any{in}, args...)...)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return fail("empty")
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return fail("expected a number")
	}
	var total uint64
	for s != "" {
		d, n, ok := scanDecimal(s)
		if !ok {
			if s[0] == ' ' || s[0] == '\t' {
				return fail("unexpected white space (write components together, e.g. 1h30m)")
			}
			return fail("expected a number at %q", s)
		}
		num := s[:n]
		s = s[n:]
		i := 0
		for i < len(s) && !isDigit(s[i]) && s[i] != '.' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		u := s[:i]
		s = s[i:]
		if u == "" && s != "" && (s[0] == ' ' || s[0] == '\t') {
			return fail("unexpected white space (write the unit right after the number, e.g. 5d)")
		}
		if u == "" {
			return fail("missing unit after %q (%s)", num, durationUnitList)
		}
		unit, ok := durationUnits[u]
		if !ok {
			if hint, ok := durationHints[u]; ok {
				return fail("unknown unit %q (did you mean %q?)", u, hint)
			}
			return fail("unknown unit %q (%s)", u, durationUnitList)
		}
		v, ok := d.times(unit)
		if !ok {
			return fail("out of range (at most %s)", FormatDuration(math.MaxInt64))
		}
		if total += v; total < v {
			return fail("out of range (at most %s)", FormatDuration(math.MaxInt64))
		}
	}
	if neg {
		if total > 1<<63 {
			return fail("out of range (at least %s)", FormatDuration(math.MinInt64))
		}
		return time.Duration(-total), nil // wraps correctly for 1<<63
	}
	if total > math.MaxInt64 {
		return fail("out of range (at most %s)", FormatDuration(math.MaxInt64))
	}
	return time.Duration(total), nil
}

// FormatDuration prints d in the form ParseDuration reads, choosing the unit
// an operator would write: whole days as days ("7d", "14d"), anything else
// as hours, minutes and seconds without zero components ("36h", "1h30m",
// "1m30s", "2.5s"), and sub-second durations in ms, us or ns ("250ms").
// Weeks are never used: "7d" reads better than "1w". The result is exact:
// ParseDuration(FormatDuration(d)) == d for every d.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	u := uint64(d)
	sign := ""
	if d < 0 {
		sign = "-"
		u = -u // two's complement magnitude, exact even for math.MinInt64
	}
	const (
		second = uint64(time.Second)
		minute = uint64(time.Minute)
		hour   = uint64(time.Hour)
		day    = uint64(Day)
	)
	switch {
	case u%day == 0:
		return sign + utoa(u/day) + "d"
	case u < uint64(time.Microsecond):
		return sign + utoa(u) + "ns"
	case u < uint64(time.Millisecond):
		return sign + formatFixed(u, uint64(time.Microsecond)) + "us"
	case u < second:
		return sign + formatFixed(u, uint64(time.Millisecond)) + "ms"
	}
	var b strings.Builder
	b.WriteString(sign)
	if h := u / hour; h > 0 {
		b.WriteString(utoa(h))
		b.WriteByte('h')
	}
	if m := u % hour / minute; m > 0 {
		b.WriteString(utoa(m))
		b.WriteByte('m')
	}
	if s := u % minute; s > 0 {
		b.WriteString(formatFixed(s, second))
		b.WriteByte('s')
	}
	return b.String()
}
