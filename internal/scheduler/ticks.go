package scheduler

import (
	"time"

	"github.com/robfig/cron/v3"
)

// nextTick returns the first tick of sched strictly after after, in loc unless the schedule
// carries its own zone (CRON_TZ=).
//
// robfig/cron evaluates a spec on real instants, which misbehaves on DST days: a tick at a wall
// time that does not exist (02:30 when clocks spring forward) is skipped for the whole day, and
// one at a wall time that happens twice (02:30 when they fall back) fires twice. papyrad
// evaluates the spec on the wall clock instead, then maps the wall time to an instant: a
// missing wall time runs shifted by the gap (02:30 runs at 03:30), a doubled one runs once, at
// its first pass.
func nextTick(sched cron.Schedule, loc *time.Location, after time.Time) time.Time {
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return sched.Next(after) // @every: a fixed interval of real time
	}
	zone := loc
	if spec.Location != nil && spec.Location != time.Local {
		zone = spec.Location
	}
	wallSpec := *spec
	wallSpec.Location = time.UTC
	var best time.Time
	// consider looks for the first wall time after from (a wall clock reading) that runs after
	// after, and keeps it if it is the earliest yet.
	consider := func(from time.Time) {
		wall := from
		for i := 0; i < 8; i++ {
			wall = wallSpec.Next(wall)
			if wall.IsZero() {
				return
			}
			if t := inZone(wall, zone); t.After(after) {
				if best.IsZero() || t.Before(best) {
					best = t
				}
				return
			}
			// The wall time maps to an instant already past (the first pass of a doubled
			// hour, when after is in the second): that slot has been had; take the next.
		}
	}
	consider(naive(after.In(zone)))
	// Near a DST change the clock reads differently on either side of it, and a wall time
	// can read before the clock and still run after after: one the gap skipped (02:30 runs
	// at 03:30, still ahead at 03:10). Read the clock with the other side's offset too.
	_, offNow := after.In(zone).Zone()
	for _, d := range []time.Duration{-48 * time.Hour, 48 * time.Hour} {
		if _, off := after.Add(d).In(zone).Zone(); off != offNow {
			consider(naive(after.In(time.FixedZone("", off))))
		}
	}
	return best
}

// inZone is the instant at which zone's clock reads the wall time w (w's fields, read as
// UTC). Near a change of offset the answer does not depend on the zone's sign, as
// time.Date's does: a wall time the clock reads twice is its first pass, and one the clock
// skips (inside a spring-forward gap) is shifted forward by the gap, 02:30 running at 03:30.
func inZone(w time.Time, zone *time.Location) time.Time {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, zone)
	_, before := t.Add(-24 * time.Hour).In(zone).Zone()
	_, after := t.Add(24 * time.Hour).In(zone).Zone()
	if before == after {
		return t
	}
	wall := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC)
	// Read with the larger offset, w is the earlier instant; with the smaller, the later.
	early := wall.Add(-time.Duration(max(before, after)) * time.Second).In(zone)
	if naive(early).Equal(wall) {
		return early
	}
	return wall.Add(-time.Duration(min(before, after)) * time.Second).In(zone)
}

// naive reads t's wall clock as if it were UTC.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}
