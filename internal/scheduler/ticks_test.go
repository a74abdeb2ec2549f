package scheduler

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func ticks(t *testing.T, spec string, loc *time.Location, from time.Time, n int) []time.Time {
	t.Helper()
	s, err := parser.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for i := 0; i < n; i++ {
		from = nextTick(s, loc, from)
		out = append(out, from)
	}
	return out
}

func TestDSTDays(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		name string
		spec string
		loc  *time.Location
		from time.Time
		want []string // RFC3339 in loc, or only the wall clock where either instant is right
	}{
		{"berlin spring forward: 02:30 does not exist, runs once right after the gap", "30 2 * * *", berlin,
			time.Date(2026, 3, 28, 12, 0, 0, 0, berlin),
			[]string{"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin spring forward, asked from inside the shifted half hour: the skipped 02:30 still runs at 03:30", "30 2 * * *", berlin,
			time.Date(2026, 3, 29, 3, 10, 0, 0, berlin),
			[]string{"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin fall back: 02:30 happens twice, runs once", "30 2 * * *", berlin,
			time.Date(2026, 10, 24, 12, 0, 0, 0, berlin),
			[]string{"2026-10-25T02:30", "2026-10-26T02:30"}},
		{"berlin fall back: a doubled wall time runs at its first pass", "0 2 * * *", berlin,
			time.Date(2026, 10, 24, 23, 59, 0, 0, time.UTC),
			[]string{"2026-10-25T02:00:00+02:00", "2026-10-26T02:00:00+01:00"}},
		{"berlin fall back, asked in the first pass after 02:00: the day's run is done", "0 2 * * *", berlin,
			time.Date(2026, 10, 25, 0, 29, 0, 0, time.UTC),
			[]string{"2026-10-26T02:00:00+01:00"}},
		{"new york spring forward: 02:30 does not exist, runs at 03:30 as in Berlin", "30 2 * * *", ny,
			time.Date(2026, 3, 7, 12, 0, 0, 0, ny),
			[]string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"new york spring forward, asked from inside the shifted half hour", "30 2 * * *", ny,
			time.Date(2026, 3, 8, 3, 10, 0, 0, ny),
			[]string{"2026-03-08T03:30:00-04:00"}},
		{"new york spring forward, hourly: 02:00 is missing, 03:00 runs once", "0 * * * *", ny,
			time.Date(2026, 3, 8, 0, 30, 0, 0, ny),
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{"new york fall back, hourly: the repeated 01:00 runs once", "0 * * * *", ny,
			time.Date(2026, 11, 1, 0, 30, 0, 0, ny),
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"}},
		{"CRON_TZ wins over the daemon's zone", "CRON_TZ=UTC 0 3 * * *", berlin,
			time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
			[]string{"2026-06-01T05:00:00+02:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ticks(t, tc.spec, tc.loc, tc.from, len(tc.want))
			for i := range tc.want {
				layout := time.RFC3339
				if len(tc.want[i]) == len("2006-01-02T15:04") {
					layout = "2006-01-02T15:04" // a doubled wall time: either of its instants
				}
				if s := got[i].In(tc.loc).Format(layout); s != tc.want[i] {
					t.Errorf("tick %d = %s, want %s", i, s, tc.want[i])
				}
			}
		})
	}
}

func TestEveryIsRealTime(t *testing.T) {
	got := ticks(t, "@every 1h", mustLoc(t, "Europe/Berlin"), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), 3)
	for i := 1; i < len(got); i++ {
		if d := got[i].Sub(got[i-1]); d != time.Hour {
			t.Errorf("interval %d = %v", i, d)
		}
	}
}
