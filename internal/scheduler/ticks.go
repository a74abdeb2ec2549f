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
// missing wall time runs shifted by the gap (02:30 runs at 03:30), a doubled one runs once.
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
	start := naive(after.In(zone))
	best := time.Time{}
	wall := start
	for i := 0; i < 8; i++ {
		wall = wallSpec.Next(wall)
		if wall.IsZero() {
			break
		}
		t := inZone(wall, zone)
		if t.After(after) {
			best = t
			break
		}
		// The wall time maps to an instant already past (the first pass of a doubled hour,
		// when after is in the second): that slot has been had; take the next.
	}
	// Shortly after clocks sprang forward, a wall time the gap skipped reads before the wall
	// clock but runs after after: 02:30 runs at 03:30, which is still ahead at 03:10. The
	// first such time is the first the spec names after after read with the offset before
	// the gap.
	_, offNow := after.In(zone).Zone()
	if _, offBefore := after.Add(-48 * time.Hour).In(zone).Zone(); offBefore < offNow {
		w := wallSpec.Next(naive(after.In(time.FixedZone("", offBefore))))
		if !w.IsZero() && !w.After(start) {
			if t := inZone(w, zone); t.After(after) && (best.IsZero() || t.Before(best)) {
				best = t
			}
		}
	}
	return best
}

// inZone is the instant at which zone's clock reads the wall time w (w's fields, read as
// UTC); a wall time inside a DST gap is shifted forward by the gap.
func inZone(w time.Time, zone *time.Location) time.Time {
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, zone)
}

// naive reads t's wall clock as if it were UTC.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}
