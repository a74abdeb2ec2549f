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
// missing wall time runs at the first instant after the gap, a doubled one runs once.
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
	wall := naive(after.In(zone))
	for i := 0; i < 8; i++ {
		wall = wallSpec.Next(wall)
		if wall.IsZero() {
			return wall
		}
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, zone)
		if t.After(after) {
			return t
		}
		// The wall time maps to an instant already past (the first pass of a doubled hour,
		// when after is in the second): that slot has been had; take the next.
	}
	return time.Time{}
}

// naive reads t's wall clock as if it were UTC.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}
