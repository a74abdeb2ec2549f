package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/errs"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every
// failure must be reported as invalid configuration, and every success
// must print an effective configuration that parses back to the same.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/spec-example.yaml", "testdata/errors.yaml", "testdata/relative.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"stores: [{name: a, backend: memory, retention: none}]",
		"stores: [{name: a, backend: json, path: x, retention: {max_age: 1d}, schedule: 'TZ=UTC'}]",
		"stores: [{name: a, backend: redis, redis: {url: 'redis://h'}, retention: none, schedule: '@every 1w'}]",
		"defaults: {windows: ['22:00-02:00'], retention: {max_records: 1}}\nstores: [{name: a, backend: rotating, path: /a, windows: []}]",
		"a: &a [*a]",
		"stores: &s [*s]",
		"- 1",
		"{1: 2}",
		"daemon: {log: 5}",
		"stores:\n  - <<: [{name: a}, {backend: memory}]\n    retention: none",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, nil)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("error is not errs.ErrInvalid: %v", err)
			}
			return
		}
		out, err := c.Effective()
		if err != nil {
			t.Fatalf("Effective: %v", err)
		}
		back, err := Parse(out, nil)
		if err != nil {
			t.Fatalf("effective config does not parse:\n%s\n%v", out, err)
		}
		if !sameConfig(c, back) {
			t.Fatalf("effective config parses differently:\n%s", out)
		}
	})
}

// FuzzSchedule checks that no cron spec panics, that a refused spec's error quotes it, and
// that every accepted spec fires (the daemon's wall-clock ticks are fuzzed by the scheduler's
// FuzzNextTick).
func FuzzSchedule(f *testing.F) {
	for _, s := range []string{"15 2 * * *", "0 15 2 * * *", "@daily", "@every 1d", "TZ=UTC", "CRON_TZ=Europe/Berlin 0 * * * *", "*/0 * * * *", "0 0 30 2 *", "1-2/3,4 * * JAN-MAR SUN", "TZ= ", "@every 1h  ", "0 0 29 2 *", "@every 1.5s", "CRON_TZ=Mars/Olympus 0 * * * *"} {
		f.Add(s)
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := parseSchedule(spec)
		if err != nil {
			if want := fmt.Sprintf("invalid schedule %q", spec); !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("parseSchedule(%q): error %q does not start with %s", spec, err, want)
			}
			return
		}
		if s == nil {
			t.Fatalf("parseSchedule(%q) returned no schedule and no error", spec)
		}
		if next := s.Next(from); !next.After(from) {
			t.Fatalf("accepted schedule %q does not fire after %v (Next = %v)", spec, from, next)
		}
	})
}
