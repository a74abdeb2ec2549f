// Package window parses and evaluates compaction windows: daily wall-clock
// intervals such as "01:00-05:00" or "22:00-02:00" during which a store may
// be compacted.
//
// A window is a pair of wall-clock times, start inclusive and end
// exclusive. A window whose end is earlier than its start spans midnight:
// "22:00-02:00" is open from 22:00 to midnight and from midnight to 02:00.
// A window whose start equals its end ("00:00-00:00", "03:00-03:00") is
// open the whole day, as is "00:00-24:00"; "24:00" is accepted only as an
// end.
//
// Windows are evaluated on the wall clock of the time they are given: the
// caller passes times in the configured zone (t.In(loc)) and a window is
// open whenever the clock on the wall reads a time inside it. That rule
// decides what happens on daylight-saving days:
//
//   - Spring forward (Europe/Berlin's 02:00 CET → 03:00 CEST, America/New_York's
//     02:00 EST → 03:00 EDT): wall-clock times in the gap never happen. A window
//     whose start falls in the gap opens at the first instant after the gap,
//     because that is the first wall-clock reading inside it ("02:30-04:00"
//     opens at 03:00). A window that lies wholly inside the gap, end included
//     ("02:00-03:00" in New York, "02:10-02:50" in Berlin), does not open that
//     day; the next opening is the following day.
//   - Fall back (Berlin's 03:00 CEST → 02:00 CET, New York's 02:00 EDT →
//     01:00 EST): wall-clock times in the repeated hour happen twice, and a
//     window covering them is open both times. "02:00-02:30" in Berlin is open
//     from 02:00 to 02:30 CEST and again from 02:00 to 02:30 CET; a window
//     that ends inside the repeated hour ("01:00-02:15") closes at 02:15 CEST
//     and reopens at the transition (02:00 CET) until 02:15 CET.
//
// In short, time spent inside a window on those days can be shorter or
// longer than its nominal length, never shifted to other wall-clock times.
package window

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// minutesPerDay is the number of minutes in a wall-clock day.
const minutesPerDay = 24 * 60

// Window is one daily interval of wall-clock time, in minutes after
// midnight. The zero Window ("00:00-00:00") is open the whole day.
type Window struct {
	// Start is the minute of the day at which the window opens, 0–1439,
	// inclusive.
	Start int
	// End is the minute of the day at which it closes, 0–1440 (1440 is
	// "24:00"), exclusive. End < Start spans midnight; End == Start means
	// the whole day.
	End int
}

// Parse reads a window written "HH:MM-HH:MM" in 24-hour time, e.g.
// "01:00-05:00" or "22:00-02:00". Hours may have one digit ("1:00"),
// minutes always have two; spaces around the dash and at the ends are
// ignored. "24:00" is accepted as an end only. Start == end means the
// whole day.
func Parse(s string) (Window, error) {
	fail := func(format string, args ...any) (Window, error) {
		return Window{}, fmt.Errorf("window %q: "+format, append([]any{s}, args...)...)
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok || strings.Contains(b, "-") {
		return fail("want HH:MM-HH:MM (e.g. 01:00-05:00)")
	}
	start, err := parseClock(strings.TrimSpace(a))
	if err != nil {
		return fail("%v", err)
	}
	end, err := parseClock(strings.TrimSpace(b))
	if err != nil {
		return fail("%v", err)
	}
	if start == minutesPerDay {
		return fail("24:00 can only end a window (write 00:00)")
	}
	return Window{Start: start, End: end}, nil
}

// parseClock reads "HH:MM" or "H:MM" into minutes after midnight, allowing
// "24:00" (1440).
func parseClock(s string) (int, error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || !digits(hs) || !digits(ms) {
		return 0, fmt.Errorf("%q is not a time (want HH:MM)", s)
	}
	h, m := atoi(hs), atoi(ms)
	switch {
	case h > 24 || h == 24 && m != 0:
		if h == 24 {
			return 0, fmt.Errorf("%s is past the end of the day (24:00 is the latest)", s)
		}
		return 0, fmt.Errorf("hour %d out of range", h)
	case m > 59:
		return 0, fmt.Errorf("minute %d out of range", m)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// String returns the window as "HH:MM-HH:MM"; Parse reads it back to the
// same Window.
func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// AllDay reports whether the window is open the whole day.
func (w Window) AllDay() bool {
	return w.Start == w.End || w.Start == 0 && w.End == minutesPerDay
}

// containsMinute reports whether minute m of the day (0–1439) is inside.
func (w Window) containsMinute(m int) bool {
	switch {
	case w.AllDay():
		return true
	case w.Start < w.End:
		return w.Start <= m && m < w.End
	default: // spans midnight
		return m >= w.Start || m < w.End
	}
}

// Contains reports whether the wall clock of t, in t's location, reads a
// time inside the window.
func (w Window) Contains(t time.Time) bool {
	return w.containsMinute(t.Hour()*60 + t.Minute())
}

// Set is a list of windows; a time is allowed when any of them contains it.
// An empty Set allows any time.
type Set []Window

// Contains reports whether t, read on the wall clock of its location, is
// inside some window of s. An empty Set contains every time.
func (s Set) Contains(t time.Time) bool {
	if len(s) == 0 {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	for _, w := range s {
		if w.containsMinute(m) {
			return true
		}
	}
	return false
}

// String lists the windows separated by commas, or "any time" for an empty
// Set. It is meant for logs.
func (s Set) String() string {
	if len(s) == 0 {
		return "any time"
	}
	parts := make([]string, len(s))
	for i, w := range s {
		parts[i] = w.String()
	}
	return strings.Join(parts, ",")
}

// searchChunk and searchLimit bound Next's search. Every real zone opens a
// non-empty Set within two days; the limit only guards against a Set whose
// windows all lie inside a daily gap, which no zone has.
const (
	searchChunk = 8 * 24 * time.Hour
	searchLimit = 400 * 24 * time.Hour
)

// Next returns the earliest instant at or after t at which s contains the
// time: t itself if s contains t (or s is empty), otherwise the next
// opening of a window, in t's location. Openings are found exactly on
// daylight-saving days (see the package documentation). Next returns the
// zero Time if no window opens within a year, which no real zone causes.
func (s Set) Next(t time.Time) time.Time {
	if s.Contains(t) {
		return t
	}
	loc := t.Location()
	for from := t; from.Sub(t) < searchLimit; from = from.Add(searchChunk) {
		to := from.Add(searchChunk)
		if best, ok := s.firstOpening(from, to, loc); ok {
			return best
		}
	}
	return time.Time{}
}

// firstOpening returns the earliest instant in (from, to] at which s
// contains the wall-clock time. The wall clock only enters a window when it
// reaches the window's start or when a zone transition makes it jump, so
// those instants are the only candidates.
func (s Set) firstOpening(from, to time.Time, loc *time.Location) (time.Time, bool) {
	var best time.Time
	found := false
	consider := func(c time.Time) {
		if c.After(from) && !c.After(to) && (!found || c.Before(best)) && s.Contains(c) {
			best, found = c, true
		}
	}
	// Window starts, on every calendar date that can hold an instant in range.
	y, m, d := from.In(loc).Date()
	days := int(to.Sub(from)/(24*time.Hour)) + 3
	for i := -1; i < days; i++ {
		for _, w := range s {
			for _, c := range wallInstants(y, m, d+i, w.Start, loc) {
				consider(c)
			}
		}
	}
	// Zone transitions, where the wall clock jumps.
	for _, end := from.In(loc).ZoneBounds(); !end.IsZero() && !end.After(to); _, end = end.ZoneBounds() {
		consider(end)
	}
	return best, found
}

// wallInstants returns, in ascending order, every instant whose wall clock
// in loc reads the given date (normalised like time.Date) at minute min of
// the day, 0 seconds: none in a spring-forward gap, two in a fall-back
// overlap, one otherwise.
func wallInstants(year int, month time.Month, day, min int, loc *time.Location) []time.Time {
	// The wall reading as if it were UTC; the instants sought are
	// wall − offset for each offset the zone uses around that time.
	wall := time.Date(year, month, day, min/60, min%60, 0, 0, time.UTC)
	const span = 15 * time.Hour // beyond any UTC offset
	var out []time.Time
	probe := wall.Add(-span).In(loc)
	for {
		_, off := probe.Zone()
		c := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if _, o := c.Zone(); o == off && !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
		_, end := probe.ZoneBounds()
		if end.IsZero() || end.After(wall.Add(span)) {
			break
		}
		probe = end
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}
