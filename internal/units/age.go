package units

import (
	"strconv"
	"time"
)

// FormatAge prints a duration for a person to read, not to parse back: its two largest
// non-zero units among days, hours, minutes and seconds, truncated ("29d 3h", "5h 3m",
// "3m 12s", "42s"), "0s" under a second. A negative duration is printed as its magnitude with
// a '-'. Exact values belong in --json and the metrics, where FormatDuration is not needed.
func FormatAge(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	parts := []struct {
		unit time.Duration
		sym  string
	}{{Day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for i, p := range parts {
		if d < p.unit {
			continue
		}
		out := sign + strconv.FormatInt(int64(d/p.unit), 10) + p.sym
		if i+1 < len(parts) {
			next := parts[i+1]
			out += " " + strconv.FormatInt(int64(d%p.unit/next.unit), 10) + next.sym
		}
		return out
	}
	return "0s"
}
