package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/papyrad/papyrad/internal/units"
)

// cronParser reads five-field specs with an optional leading seconds field,
// and descriptors such as @daily and @every 6h.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseSchedule validates a cron spec. It accepts robfig/cron's syntax
// with optional seconds, descriptors and a CRON_TZ= or TZ= prefix, and in
// "@every" also papyrad's durations ("@every 1d"). A spec that can never
// fire ("0 0 30 2 *") is an error. Panics inside the cron parser are
// turned into errors.
func parseSchedule(spec string) (sched cron.Schedule, err error) {
	fail := func(format string, args ...any) (cron.Schedule, error) {
		return nil, fmt.Errorf("invalid schedule %q: "+format, append([]any{spec}, args...)...)
	}
	s := strings.TrimSpace(spec)
	if s == "" {
		return fail("empty")
	}
	rest := s
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		prefix, after, ok := strings.Cut(s, " ")
		_, zone, _ := strings.Cut(prefix, "=")
		if !ok || strings.TrimSpace(after) == "" {
			return fail("nothing after %s (write e.g. CRON_TZ=Europe/Berlin 15 2 * * *)", prefix)
		}
		if zone == "" {
			return fail("empty time zone in %s", prefix)
		}
		if _, err := time.LoadLocation(zone); err != nil {
			return fail("unknown time zone %q", zone)
		}
		rest = strings.TrimSpace(after)
	}
	if d, ok := strings.CutPrefix(rest, "@every"); ok && (d == "" || d[0] == ' ' || d[0] == '\t') {
		every, err := units.ParseDuration(d)
		if err != nil {
			return fail("@every: %v", err)
		}
		if every < time.Second {
			return fail("@every: interval must be at least 1s")
		}
		if every%time.Second != 0 {
			return fail("@every: interval must be a whole number of seconds")
		}
		return cron.Every(every), nil
	}
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, fmt.Errorf("invalid schedule %q: %v", spec, p)
		}
	}()
	sched, err = cronParser.Parse(s)
	if err != nil {
		return fail("%v", err)
	}
	// robfig gives up after five years and returns the zero time; four
	// years cover every date that exists (29 February included).
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return fail("never fires (no such date)")
	}
	return sched, nil
}
