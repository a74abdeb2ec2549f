package scheduler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the host has installed

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// FuzzNextTick runs any spec robfig/cron accepts through the wall-clock tick computation,
// around DST transitions of zones that move by an hour, by half an hour and at midnight. The
// ticks must be strictly increasing instants, never a wall time twice (a doubled hour runs
// once), each on a wall time the spec names unless a DST gap moved it, and a tick asked for
// from any instant between two ticks must be the second.
func FuzzNextTick(f *testing.F) {
	for _, s := range []string{"15 2 * * *", "0 15 2 * * *", "@daily", "@hourly", "30 2 * * *", "0 * * * *",
		"*/7 * * * * *", "CRON_TZ=UTC 0 3 * * *", "TZ=Asia/Kolkata 30 1 * * *", "0 0 29 2 *", "0 0 30 2 *",
		"1-2/3,4 * * JAN-MAR SUN", "@every 90m", "0 0 * * 0", "59 23 31 12 *", "*/0 * * * *", "0 0 0 0 0"} {
		f.Add(s, uint8(0), int64(0))
	}
	f.Add("30 2 * * *", uint8(1), int64(-3600))
	f.Add("0 * * * *", uint8(2), int64(7200))
	f.Add("0,30 1,2 * * *", uint8(3), int64(-1800))
	f.Add("0 0 * * *", uint8(4), int64(100))
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC"}
	// Instants just before a transition of each zone (2026).
	bases := []time.Time{
		time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC),
		time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC),
		time.Date(2026, 4, 4, 14, 30, 0, 0, time.UTC), time.Date(2026, 10, 3, 15, 30, 0, 0, time.UTC),
		time.Date(2026, 4, 5, 2, 30, 0, 0, time.UTC), time.Date(2026, 9, 6, 3, 30, 0, 0, time.UTC),
	}
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			f.Fatal(err)
		}
		locs[i] = loc
	}
	f.Fuzz(func(t *testing.T, spec string, which uint8, offset int64) {
		sched, ok := parseCron(spec)
		if !ok {
			return
		}
		loc := locs[int(which)%len(locs)]
		after := bases[int(which/8)%len(bases)].Add(time.Duration(offset%(3*86400)) * time.Second)
		zone := loc
		wall, isSpec := sched.(*cron.SpecSchedule)
		if isSpec && wall.Location != nil && wall.Location != time.Local {
			zone = wall.Location
		}
		prev := after
		var prevWall time.Time
		for i := 0; i < 12; i++ {
			next := nextTick(sched, loc, prev)
			if next.IsZero() {
				return // no such date within robfig's five-year horizon
			}
			if !next.After(prev) {
				t.Fatalf("%q in %v: tick after %v is %v, not later", spec, loc, prev, next)
			}
			if next.Sub(prev) > 5*366*24*time.Hour {
				t.Fatalf("%q: tick after %v is %v, past the horizon", spec, prev, next)
			}
			if mid := prev.Add(next.Sub(prev) / 2); isSpec && mid.After(prev) {
				if again := nextTick(sched, loc, mid); !again.Equal(next) {
					t.Fatalf("%q in %v: tick after %v is %v, but after %v (between) it is %v", spec, loc, prev, next, mid, again)
				}
			}
			if isSpec {
				w := naive(next.In(zone))
				if !prevWall.IsZero() && !w.After(prevWall) {
					t.Fatalf("%q in %v: wall time %v ran again (or went back) after %v", spec, zone, w, prevWall)
				}
				prevWall = w
				specWall := *wall
				specWall.Location = time.UTC
				_, off := next.In(zone).Zone()
				_, offBefore := next.Add(-3 * time.Hour).In(zone).Zone()
				if !specWall.Next(w.Add(-time.Second)).Equal(w) && off == offBefore {
					t.Fatalf("%q in %v: tick %v (wall %v) is not a time the spec names, and no DST gap is near", spec, zone, next, w)
				}
			}
			prev = next
		}
	})
}

// parseCron parses spec as the config does for the scheduler, turning a panic in the parser
// into a refusal.
func parseCron(spec string) (s cron.Schedule, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = nil, false
		}
	}()
	s, err := parser.Parse(spec)
	return s, err == nil
}

// FuzzStateFile starts a scheduler on whatever runs.json holds. A file that is not the state
// is logged, naming the file, and no store is caught up; a valid one catches up exactly the
// configured stores whose recorded run is older than a tick that has passed, and shows their
// last run. Nothing in the file can make it panic.
func FuzzStateFile(f *testing.F) {
	for _, s := range []string{
		`{"last_run":{"a":"2020-05-01T02:15:00Z","b":"2099-01-01T00:00:00Z"}}`,
		`{"last_run":{"a":"2026-01-01T00:00:00+14:00","zz":"1999-01-01T00:00:00Z"}}`,
		`{"last_run":{"a":null,"b":"0001-01-01T00:00:00Z"}}`,
		`{"last_run":{"a":"9999-12-31T23:59:59.999999999Z"}}`,
		`{"last_run":null}`, `{"last_run":[]}`, `{"last_run":{"a":5}}`, `{}`, `[null]`, `null`, ``, "\xef\xbb\xbf{}",
		`{"last_run":{"a":"2026-13-01T00:00:00Z"}}`, `{"last_run":{"a":"2026-01-01T00:00:00+25:00"}}`,
		`{"last_run":{"a":"2020-05-01T02:15:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	sched, err := parser.Parse("0 0 1 1 *") // once a year: the answer only changes at New Year
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "runs.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.DebugLevel)
		plan := Plan{Schedule: sched, MaxDeferral: time.Hour}
		s := New(Config{Location: time.UTC, StateFile: file, Log: zap.New(core)},
			[]Job{{Name: "a", Plan: plan}, {Name: "b", Plan: plan}})
		now := time.Now()
		var st state
		jsonErr := json.Unmarshal(data, &st)
		warned := logs.FilterMessage("state file unreadable; no catch-up").All()
		if jsonErr != nil {
			if len(warned) != 1 || warned[0].ContextMap()["file"] != file {
				t.Fatalf("corrupt state %q: want one warning naming %s, got %v", data, file, logs.All())
			}
		} else if len(warned) != 0 {
			t.Fatalf("valid state %q logged as unreadable", data)
		}
		for _, status := range s.Status() {
			last := st.LastRun[status.Store]
			if jsonErr != nil {
				last = time.Time{}
			}
			caughtUp := !last.IsZero() && !nextTick(sched, time.UTC, last).After(now)
			if (status.State == "pending") != caughtUp {
				t.Fatalf("state %q: store %s is %q, last run %v, want caught up = %v", data, status.Store, status.State, last, caughtUp)
			}
			if !status.LastRun.Equal(last) {
				t.Fatalf("state %q: store %s shows last run %v, want %v", data, status.Store, status.LastRun, last)
			}
		}
	})
}
