package window

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the host has installed
)

func TestParse(t *testing.T) {
	tests := []struct {
		in     string
		want   Window
		str    string
		allDay bool
	}{
		{"01:00-05:00", Window{60, 300}, "01:00-05:00", false},
		{"22:00-02:00", Window{1320, 120}, "22:00-02:00", false},
		{"1:00-5:30", Window{60, 330}, "01:00-05:30", false},
		{" 01:00 - 05:00 ", Window{60, 300}, "01:00-05:00", false},
		{"00:00-00:00", Window{0, 0}, "00:00-00:00", true},
		{"03:15-03:15", Window{195, 195}, "03:15-03:15", true},
		{"00:00-24:00", Window{0, 1440}, "00:00-24:00", true},
		{"22:00-24:00", Window{1320, 1440}, "22:00-24:00", false},
		{"23:59-00:00", Window{1439, 0}, "23:59-00:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			w, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if w != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, w, tt.want)
			}
			if w.String() != tt.str {
				t.Fatalf("String() = %q, want %q", w.String(), tt.str)
			}
			if w.AllDay() != tt.allDay {
				t.Fatalf("AllDay() = %v, want %v", w.AllDay(), tt.allDay)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"25:00-02:00", `window "25:00-02:00": hour 25 out of range`},
		{"01:60-02:00", `window "01:60-02:00": minute 60 out of range`},
		{"01:00-02:99", `minute 99 out of range`},
		{"24:00-02:00", `window "24:00-02:00": 24:00 can only end a window (write 00:00)`},
		{"22:00-24:30", `24:30 is past the end of the day`},
		{"01:00", `want HH:MM-HH:MM`},
		{"", `want HH:MM-HH:MM`},
		{"01:00-02:00-03:00", `want HH:MM-HH:MM`},
		{"1-5", `"1" is not a time (want HH:MM)`},
		{"01:0-02:00", `"01:0" is not a time`},
		{"001:00-02:00", `"001:00" is not a time`},
		{"+1:00-02:00", `"+1:00" is not a time`},
		{"01:00-", `"" is not a time`},
		{"1am-5am", `not a time`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func mustSet(t testing.TB, specs ...string) Set {
	t.Helper()
	var s Set
	for _, spec := range specs {
		w, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		s = append(s, w)
	}
	return s
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestContains(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		windows []string
		at      string // UTC
		want    bool
	}{
		{"start inclusive", "UTC", []string{"01:00-05:00"}, "2024-06-01 01:00:00", true},
		{"before start", "UTC", []string{"01:00-05:00"}, "2024-06-01 00:59:59", false},
		{"end exclusive", "UTC", []string{"01:00-05:00"}, "2024-06-01 05:00:00", false},
		{"just before end", "UTC", []string{"01:00-05:00"}, "2024-06-01 04:59:59", true},
		{"spanning: start", "UTC", []string{"22:00-02:00"}, "2024-06-01 22:00:00", true},
		{"spanning: before start", "UTC", []string{"22:00-02:00"}, "2024-06-01 21:59:59", false},
		{"spanning: midnight", "UTC", []string{"22:00-02:00"}, "2024-06-02 00:00:00", true},
		{"spanning: before end", "UTC", []string{"22:00-02:00"}, "2024-06-02 01:59:59", true},
		{"spanning: end", "UTC", []string{"22:00-02:00"}, "2024-06-02 02:00:00", false},
		{"to 24:00: last minute", "UTC", []string{"22:00-24:00"}, "2024-06-01 23:59:59", true},
		{"to 24:00: midnight", "UTC", []string{"22:00-24:00"}, "2024-06-02 00:00:00", false},
		{"all day", "UTC", []string{"04:00-04:00"}, "2024-06-01 17:00:00", true},
		{"empty set", "UTC", nil, "2024-06-01 17:00:00", true},
		{"second window", "UTC", []string{"01:00-02:00", "04:00-05:00"}, "2024-06-01 04:30:00", true},
		{"between windows", "UTC", []string{"01:00-02:00", "04:00-05:00"}, "2024-06-01 03:00:00", false},
		{"zone is the caller's", "Europe/Berlin", []string{"01:00-05:00"}, "2024-06-01 00:00:00", true}, // 02:00 CEST is inside
		// Berlin spring forward: 2024-03-31 01:00 UTC, 02:00 CET → 03:00 CEST.
		{"berlin spring: last CET minute", "Europe/Berlin", []string{"01:30-02:30"}, "2024-03-31 00:59:59", true},
		{"berlin spring: after gap", "Europe/Berlin", []string{"01:30-02:30"}, "2024-03-31 01:00:00", false},
		{"berlin spring: start in gap", "Europe/Berlin", []string{"02:30-04:00"}, "2024-03-31 01:00:00", true},
		// Berlin fall back: 2024-10-27 01:00 UTC, 03:00 CEST → 02:00 CET.
		{"berlin fall: first pass", "Europe/Berlin", []string{"02:00-02:30"}, "2024-10-27 00:10:00", true},
		{"berlin fall: between passes", "Europe/Berlin", []string{"02:00-02:30"}, "2024-10-27 00:40:00", false},
		{"berlin fall: second pass", "Europe/Berlin", []string{"02:00-02:30"}, "2024-10-27 01:10:00", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := utc(tt.at).In(mustZone(t, tt.zone))
			if got := mustSet(t, tt.windows...).Contains(at); got != tt.want {
				t.Fatalf("Contains(%v) = %v, want %v", at, got, tt.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		windows []string
		from    string // UTC
		want    string // UTC
	}{
		{"inside returns t", "UTC", []string{"01:00-05:00"}, "2024-06-01 03:17:42", "2024-06-01 03:17:42"},
		{"before start", "UTC", []string{"01:00-05:00"}, "2024-06-01 00:59:30", "2024-06-01 01:00:00"},
		{"at end: tomorrow", "UTC", []string{"01:00-05:00"}, "2024-06-01 05:00:00", "2024-06-02 01:00:00"},
		{"empty set", "UTC", nil, "2024-06-01 05:00:00", "2024-06-01 05:00:00"},
		{"spanning: at end", "UTC", []string{"22:00-02:00"}, "2024-06-01 02:00:00", "2024-06-01 22:00:00"},
		{"spanning: inside after midnight", "UTC", []string{"22:00-02:00"}, "2024-06-02 01:59:59", "2024-06-02 01:59:59"},
		{"to 24:00 at midnight", "UTC", []string{"22:00-24:00"}, "2024-06-02 00:00:00", "2024-06-02 22:00:00"},
		{"nearest of two", "UTC", []string{"04:00-05:00", "01:00-02:00"}, "2024-06-01 02:30:00", "2024-06-01 04:00:00"},
		{"wraps to first tomorrow", "UTC", []string{"04:00-05:00", "01:00-02:00"}, "2024-06-01 05:00:00", "2024-06-02 01:00:00"},
		{"in the zone", "Europe/Berlin", []string{"01:00-05:00"}, "2024-06-01 05:00:00", "2024-06-01 23:00:00"},

		// Europe/Berlin spring forward: 2024-03-31 01:00 UTC (02:00 CET → 03:00 CEST).
		{"berlin spring: start in gap opens after it", "Europe/Berlin", []string{"02:30-04:00"}, "2024-03-31 00:00:00", "2024-03-31 01:00:00"},
		{"berlin spring: window in gap skips the day", "Europe/Berlin", []string{"02:00-02:30"}, "2024-03-31 00:00:00", "2024-04-01 00:00:00"},
		{"berlin spring: start before gap", "Europe/Berlin", []string{"01:30-02:30"}, "2024-03-31 00:00:00", "2024-03-31 00:30:00"},
		{"berlin spring: closed by gap", "Europe/Berlin", []string{"01:30-02:30"}, "2024-03-31 01:00:00", "2024-03-31 23:30:00"},
		{"berlin spring: spanning midnight", "Europe/Berlin", []string{"22:00-02:30"}, "2024-03-31 01:00:00", "2024-03-31 20:00:00"},
		{"berlin spring: start after gap", "Europe/Berlin", []string{"03:00-04:00"}, "2024-03-31 00:00:00", "2024-03-31 01:00:00"},

		// Europe/Berlin fall back: 2024-10-27 01:00 UTC (03:00 CEST → 02:00 CET).
		{"berlin fall: first pass", "Europe/Berlin", []string{"02:00-02:30"}, "2024-10-26 23:00:00", "2024-10-27 00:00:00"},
		{"berlin fall: second pass", "Europe/Berlin", []string{"02:00-02:30"}, "2024-10-27 00:30:00", "2024-10-27 01:00:00"},
		{"berlin fall: after both passes", "Europe/Berlin", []string{"02:00-02:30"}, "2024-10-27 01:30:00", "2024-10-28 01:00:00"},
		{"berlin fall: reopens at the transition", "Europe/Berlin", []string{"01:00-02:15"}, "2024-10-27 00:15:00", "2024-10-27 01:00:00"},
		{"berlin fall: second start", "Europe/Berlin", []string{"02:30-03:00"}, "2024-10-27 01:00:00", "2024-10-27 01:30:00"},
		{"berlin fall: start after overlap", "Europe/Berlin", []string{"03:00-04:00"}, "2024-10-27 00:30:00", "2024-10-27 02:00:00"},

		// America/New_York spring forward: 2024-03-10 07:00 UTC (02:00 EST → 03:00 EDT).
		{"new york spring: window is the gap", "America/New_York", []string{"02:00-03:00"}, "2024-03-10 06:00:00", "2024-03-11 06:00:00"},
		{"new york spring: start in gap", "America/New_York", []string{"02:30-05:00"}, "2024-03-10 06:00:00", "2024-03-10 07:00:00"},
		{"new york spring: spanning midnight into gap", "America/New_York", []string{"23:00-02:30"}, "2024-03-10 07:00:00", "2024-03-11 03:00:00"},

		// America/New_York fall back: 2024-11-03 06:00 UTC (02:00 EDT → 01:00 EST).
		{"new york fall: first pass", "America/New_York", []string{"01:00-01:30"}, "2024-11-03 04:00:00", "2024-11-03 05:00:00"},
		{"new york fall: second pass", "America/New_York", []string{"01:00-01:30"}, "2024-11-03 05:30:00", "2024-11-03 06:00:00"},
		{"new york fall: next day", "America/New_York", []string{"01:00-01:30"}, "2024-11-03 06:30:00", "2024-11-04 06:00:00"},
		{"new york fall: spanning, reopens at transition", "America/New_York", []string{"23:00-01:30"}, "2024-11-03 05:45:00", "2024-11-03 06:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustZone(t, tt.zone)
			s := mustSet(t, tt.windows...)
			from := utc(tt.from).In(loc)
			got := s.Next(from)
			want := utc(tt.want)
			if !got.Equal(want) {
				t.Fatalf("Next(%v) = %v, want %v (%v)", from, got, want.In(loc), want)
			}
			if got.Location() != loc {
				t.Fatalf("Next returned a time in %v, want %v", got.Location(), loc)
			}
			if !s.Contains(got) {
				t.Fatalf("Next(%v) = %v, which Contains rejects", from, got)
			}
		})
	}
}

// bruteNext finds Next by stepping over every whole UTC minute, which is
// exact for zones whose offsets are whole minutes: windows open only at
// wall-clock minutes or at zone transitions, both on UTC minute boundaries.
func bruteNext(s Set, t time.Time) (time.Time, bool) {
	if s.Contains(t) {
		return t, true
	}
	c := t.Truncate(time.Minute)
	for i := 0; i < 4*24*60; i++ {
		c = c.Add(time.Minute)
		if s.Contains(c) {
			return c, true
		}
	}
	return time.Time{}, false
}

// TestNextBruteForce compares Next with a minute-by-minute search across
// daylight-saving days in zones with different rules: one-hour jumps at
// 02:00/03:00 (Berlin, New York), a jump at midnight (Santiago, Havana),
// a 30-minute shift (Lord Howe) and no DST at all (Kolkata).
func TestNextBruteForce(t *testing.T) {
	sets := [][]string{
		{"01:00-05:00"},
		{"02:00-03:00"},
		{"02:30-02:45"},
		{"02:15-03:30"},
		{"01:00-02:15"},
		{"22:00-02:00"},
		{"23:30-00:30"},
		{"00:00-00:30"},
		{"00:30-01:00"},
		{"23:00-24:00"},
		{"03:00-03:00"},
		{"01:10-01:20", "02:40-02:50", "13:00-14:00"},
	}
	days := map[string][]string{
		"Europe/Berlin":       {"2024-03-31", "2024-10-27"},
		"America/New_York":    {"2024-03-10", "2024-11-03"},
		"America/Santiago":    {"2024-09-08", "2024-04-07"},
		"America/Havana":      {"2024-03-10", "2024-11-03"},
		"Australia/Lord_Howe": {"2024-10-06", "2024-04-07"},
		"Asia/Kolkata":        {"2024-03-31"},
	}
	for zone, dates := range days {
		loc := mustZone(t, zone)
		for _, date := range dates {
			d, err := time.ParseInLocation("2006-01-02", date, loc)
			if err != nil {
				t.Fatal(err)
			}
			for _, specs := range sets {
				s := mustSet(t, specs...)
				start := d.Add(-6 * time.Hour)
				for at := start; at.Before(start.Add(36 * time.Hour)); at = at.Add(19*time.Minute + 7*time.Second) {
					want, ok := bruteNext(s, at)
					if !ok {
						t.Fatalf("%s %v: brute force found nothing from %v", zone, specs, at)
					}
					if got := s.Next(at); !got.Equal(want) {
						t.Errorf("%s %v: Next(%v) = %v, want %v", zone, specs, at, got, want)
					}
				}
			}
		}
	}
}

func TestSetString(t *testing.T) {
	if got := Set(nil).String(); got != "any time" {
		t.Fatalf("empty Set String() = %q", got)
	}
	if got := mustSet(t, "1:00-5:00", "22:00-02:00").String(); got != "01:00-05:00,22:00-02:00" {
		t.Fatalf("String() = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"01:00-05:00", "22:00-02:00", "00:00-24:00", "24:00-01:00", "25:00-02:00", "1:00-5:00", "", "-", "::-::", " 01:00 - 02:00 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "window ") {
				t.Fatalf("error %q does not name the window", err)
			}
			return
		}
		if w.Start < 0 || w.Start >= minutesPerDay || w.End < 0 || w.End > minutesPerDay {
			t.Fatalf("Parse(%q) = %+v, out of range", s, w)
		}
		back, err := Parse(w.String())
		if err != nil || back != w {
			t.Fatalf("Parse(%q) = %+v; String %q parses to %+v, %v", s, w, w.String(), back, err)
		}
	})
}

// FuzzNext checks Next's contract on arbitrary windows and instants around
// Berlin's and New York's transitions: the result is not before t, is
// inside the set, and no earlier minute is.
func FuzzNext(f *testing.F) {
	f.Add(uint16(120), uint16(180), int64(0), false)
	f.Add(uint16(1320), uint16(120), int64(3600), true)
	f.Add(uint16(150), uint16(165), int64(-7200), false)
	berlin, ny := mustZone(f, "Europe/Berlin"), mustZone(f, "America/New_York")
	bases := []time.Time{utc("2024-03-31 01:00:00"), utc("2024-10-27 01:00:00"), utc("2024-03-10 07:00:00"), utc("2024-11-03 06:00:00")}
	f.Fuzz(func(t *testing.T, start, end uint16, offset int64, newYork bool) {
		w := Window{Start: int(start) % minutesPerDay, End: int(end) % (minutesPerDay + 1)}
		loc := berlin
		if newYork {
			loc = ny
		}
		base := bases[int(uint64(offset)%uint64(len(bases)))]
		at := base.Add(time.Duration(offset%(2*86400)) * time.Second).In(loc)
		s := Set{w}
		got := s.Next(at)
		want, ok := bruteNext(s, at)
		if !ok || !got.Equal(want) {
			t.Fatalf("%v in %v: Next(%v) = %v, want %v", w, loc, at, got, want)
		}
	})
}
