package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/retention"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:hunter2@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"redis://app:hunter2@cache.internal:6380/3", "redis://app:xxxxx@cache.internal:6380/3"},
		{"rediss://app:p%40ss%3Aw0rd@cache:6380/0", "rediss://app:xxxxx@cache:6380/0"},
		{"redis://app@cache:6379/0", "redis://app@cache:6379/0"},
		{"unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=2"},
		{"unix://:hunter2@/run/redis.sock?db=2", "unix://:xxxxx@/run/redis.sock?db=2"},
		{"redis://127.0.0.1/0?password=hunter2", "redis://127.0.0.1/0?password=xxxxx"},
		{"redis://:hun ter2@host:bad port/0", "redis://(unparsable URL)"},
		{"::hunter2@", "(unparsable URL)"},
	} {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "hunter2") || strings.Contains(got, "p@ss") {
			t.Errorf("Redact(%q) = %q shows the password", tc.in, got)
		}
	}
}

func TestScrub(t *testing.T) {
	base := errors.New("dial redis://:hunter2@h:1: refused")
	err := scrub(fmt.Errorf("connect: %w", base), "hunter2")
	if strings.Contains(err.Error(), "hunter2") || !errors.Is(err, base) {
		t.Errorf("scrub: %v (errors.Is %v)", err, errors.Is(err, base))
	}
	if scrub(base, "") != base || scrub(nil, "x") != nil {
		t.Error("scrub changed an error it had nothing to hide in")
	}
	// A bad URL's parse error is reported redacted.
	_, err = clientOptions(&Config{URL: "redis://:hunter2@host:bad port/0"}, "")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad URL: %v", err)
	}
}

func TestIDs(t *testing.T) {
	for _, s := range []string{"0-1", "1-0", "1700000000000-12", "18446744073709551615-18446744073709551615"} {
		x, err := parseID(s)
		if err != nil || x.String() != s {
			t.Errorf("parseID(%q) = %v, %v", s, x, err)
		}
	}
	for _, s := range []string{"", "12", "a-1", "1-b", "-1", "1-"} {
		if _, err := parseID(s); err == nil {
			t.Errorf("parseID(%q) accepted", s)
		}
	}
	if n, ok := (id{5, math.MaxUint64}).next(); !ok || n != (id{6, 0}) {
		t.Errorf("next: %v", n)
	}
	if _, ok := maxID.next(); ok {
		t.Error("maxID has a next")
	}
	if p, ok := (id{6, 0}).prev(); !ok || p != (id{5, math.MaxUint64}) {
		t.Errorf("prev: %v", p)
	}
	if _, ok := (id{}).prev(); ok {
		t.Error("0-0 has a prev")
	}
}

func TestIDLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l idLog
	var want []id
	var sizes []int64
	x := id{1700000000000, 0}
	for range 5000 {
		switch rng.IntN(4) {
		case 0:
			x.seq++
		case 1:
			x = id{x.ms + uint64(rng.IntN(3)+1), 0}
		case 2:
			x = id{x.ms + uint64(rng.Int64N(1<<40)), uint64(rng.IntN(5))}
		default:
			x.seq += uint64(rng.IntN(1000)) + 1
		}
		sz := rng.Int64N(5000)
		l.add(x, sz)
		want = append(want, x)
		sizes = append(sizes, sz)
	}
	var before int64
	for i, w := range want {
		if got := l.at(i); got != w {
			t.Fatalf("at(%d) = %v, want %v", i, got, w)
		}
		if got := l.sizeBefore(i); got != before {
			t.Fatalf("sizeBefore(%d) = %d, want %d", i, got, before)
		}
		before += sizes[i]
		if got := l.search(w); got != i {
			t.Fatalf("search(%v) = %d, want %d", w, got, i)
		}
		if p, _ := w.prev(); i > 0 && want[i-1].less(p) {
			if got := l.search(p); got != i {
				t.Fatalf("search(just below %v) = %d, want %d", w, got, i)
			}
		}
	}
	if l.sizeBefore(l.len()) != before || l.search(maxID) != l.len() || l.search(id{}) != 0 {
		t.Error("ends of the log")
	}
}

func TestAgeTarget(t *testing.T) {
	for _, c := range []float64{1700000000, 1700000000.0005, 1700000000.1234567, 0.001, 1e-9} {
		x := ageTarget(c)
		if float64(x.ms)/1000 < c {
			t.Errorf("ageTarget(%v) = %v fails the cutoff", c, x)
		}
		if x.ms > 0 && float64(x.ms-1)/1000 >= c {
			t.Errorf("ageTarget(%v) = %v is not the first millisecond that passes", c, x)
		}
	}
	if ageTarget(-5) != (id{}) {
		t.Error("negative cutoff")
	}
}

// TestEntryLine: an entry is a record exactly when json.loads(fields["data"]) gives a dict.
func TestEntryLine(t *testing.T) {
	for _, tc := range []struct {
		values map[string]any
		record bool
	}{
		{map[string]any{"data": `{"timestamp": 1}`}, true},
		{map[string]any{"data": " \t\r\n{\"a\": 1}\n "}, true},
		{map[string]any{"data": `{"a": NaN}`}, true},
		{map[string]any{"data": `{"a": 1}`, "other": "x"}, true},
		{map[string]any{"data": "\v{\"a\": 1}"}, false},
		{map[string]any{"data": "{\"a\": 1}\u00a0"}, false},
		{map[string]any{"data": ""}, false},
		{map[string]any{"data": "   "}, false},
		{map[string]any{"data": `[{"a": 1}]`}, false},
		{map[string]any{"data": `"x"`}, false},
		{map[string]any{"data": `{"a": 1`}, false},
		{map[string]any{"data": "{\"a\": \"\xff\"}"}, false},
		{map[string]any{"payload": `{"a": 1}`}, false},
		{map[string]any{}, false},
	} {
		l, raw, _ := entryLine(nil, entryOf(tc.values), false)
		if got := l.Kind == retention.Record; got != tc.record {
			t.Errorf("%q: record %v, want %v (%s)", tc.values, got, tc.record, l.Reason)
		}
		if !tc.record && (l.Reason == "" || raw == nil && len(tc.values) > 0) {
			t.Errorf("%q: no reason or no bytes for quarantine", tc.values)
		}
	}
}

// TestPacer checks that the step converges on what takes its target, by at most a factor of
// two per step, within its bounds, shrinking at once after a slow step and growing back
// slowly, and that a pacing trim waits as long as each step took.
func TestPacer(t *testing.T) {
	var slept []time.Duration
	p := newPacer(100, 10000, 500*time.Microsecond, true)
	p.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}
	if p.step != firstStep {
		t.Fatalf("first step %d, want %d", p.step, firstStep)
	}
	// The server takes 1µs an entry: 500 entries take the target.
	ctx := context.Background()
	var steps []int64
	for range 8 {
		d := time.Duration(p.step) * time.Microsecond
		if err := p.took(ctx, p.step, p.step, d); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, p.step)
	}
	if want := []int64{400, 500, 500, 500, 500, 500, 500, 500}; !slices.Equal(steps, want) {
		t.Errorf("steps %v, want %v", steps, want)
	}
	if len(slept) != 8 || slept[0] != 200*time.Microsecond || slept[1] != 400*time.Microsecond {
		t.Errorf("pauses %v, want each step's duration", slept)
	}
	// A step that took twice as long per entry halves the step at once; fast steps after it
	// grow it back by a tenth of the estimate per step, not by the factor two allowed.
	p.took(ctx, 500, 500, time.Millisecond)
	if p.step != 250 {
		t.Errorf("after a slow step: %d, want 250", p.step)
	}
	p.took(ctx, 250, 250, 125*time.Microsecond)
	if p.step != 277 {
		t.Errorf("after a fast step: %d, want 277 (500µs over 0.9·2µs an entry)", p.step)
	}
	// A step that took far too long halves the step, no more; bounds hold.
	p.took(ctx, p.step, p.step, time.Second)
	if p.step != 138 {
		t.Errorf("after a very slow step: %d, want 138", p.step)
	}
	for range 20 {
		p.took(ctx, p.step, p.step, time.Second)
	}
	if p.step != 100 {
		t.Errorf("floor: %d, want 100", p.step)
	}
	for range 300 {
		p.took(ctx, p.step, p.step, time.Nanosecond)
	}
	if p.step != 10000 {
		t.Errorf("ceiling: %d, want 10000", p.step)
	}
	// A step that covered nothing says nothing about the time per entry.
	p.took(ctx, 10000, 0, time.Second)
	if p.step != 10000 {
		t.Errorf("after an empty step: %d, want 10000", p.step)
	}
	// Reads do not pause.
	r := newPacer(10, 1000, 500*time.Microsecond, false)
	r.sleep = func(context.Context, time.Duration) error { t.Fatal("a read paused"); return nil }
	r.took(ctx, 200, 200, time.Millisecond)
	if r.step != 100 {
		t.Errorf("read step %d, want 100", r.step)
	}
}
