package scheduler

import (
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/window"
)

func mustSched(t *testing.T, spec string) Plan {
	t.Helper()
	s, err := parser.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return Plan{Schedule: s, MaxDeferral: 72 * time.Hour, MinInterval: time.Minute}
}

func windows(t *testing.T, specs ...string) window.Set {
	t.Helper()
	var set window.Set
	for _, s := range specs {
		w, err := window.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, w)
	}
	return set
}

// sim drives a core through time, starting every run it asks for and finishing it at once
// unless told otherwise, and records when each store ran.
type sim struct {
	t    *testing.T
	c    *core
	now  time.Time
	runs map[string][]time.Time
	// hold keeps runs going until released; outcome decides how they end.
	hold    bool
	held    []string
	outcome func(job string) Outcome
	busy    func(job string, now time.Time) bool
	samples int
}

func newSim(t *testing.T, loc *time.Location, start time.Time, plans map[string]Plan) *sim {
	c := newCore(loc, 1)
	c.rand = func(n int64) int64 { return n / 2 }
	s := &sim{t: t, c: c, now: start, runs: map[string][]time.Time{},
		outcome: func(string) Outcome { return Done }, busy: func(string, time.Time) bool { return false }}
	c.set(plans, start)
	return s
}

func (s *sim) do(acts []action) {
	for len(acts) > 0 {
		var next []action
		for _, a := range acts {
			switch a.kind {
			case startRun:
				s.runs[a.job] = append(s.runs[a.job], s.now)
				if s.hold {
					s.held = append(s.held, a.job)
					continue
				}
				s.c.finished(a.job, s.outcome(a.job), "", s.now, s.now)
			case startSample:
				s.samples++
				s.c.sampled(a.job, s.busy(a.job, s.now), s.now)
			}
			next = append(next, s.c.advance(s.now)...)
		}
		acts = next
	}
}

// until moves the clock to end, waking the core whenever it asks to be woken.
func (s *sim) until(end time.Time) {
	for i := 0; i < 100000; i++ {
		s.do(s.c.advance(s.now))
		w := s.c.wake()
		if w.IsZero() || w.After(end) {
			s.now = end
			s.do(s.c.advance(s.now))
			return
		}
		if w.After(s.now) {
			s.now = w
		} else {
			s.now = s.now.Add(time.Second)
		}
	}
	s.t.Fatal("simulation did not settle")
}

func TestWindowSpanningMidnightDefersToItsStart(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	p := mustSched(t, "0 12 * * *") // noon: outside the window
	p.Windows = windows(t, "22:00-02:00")
	s := newSim(t, loc, time.Date(2026, 5, 1, 0, 0, 0, 0, loc), map[string]Plan{"a": p})
	s.until(time.Date(2026, 5, 3, 0, 0, 0, 0, loc))
	want := []time.Time{time.Date(2026, 5, 1, 22, 0, 0, 0, loc), time.Date(2026, 5, 2, 22, 0, 0, 0, loc)}
	if len(s.runs["a"]) != 2 || !s.runs["a"][0].Equal(want[0]) || !s.runs["a"][1].Equal(want[1]) {
		t.Errorf("runs %v, want %v", s.runs["a"], want)
	}
	if st := s.c.jobs["a"]; st.pending != nil {
		t.Error("a request is left over")
	}
}

func TestWindowEdges(t *testing.T) {
	loc := time.UTC
	p := mustSched(t, "0 1 * * *")
	p.Windows = windows(t, "01:00-02:00")
	s := newSim(t, loc, time.Date(2026, 5, 1, 0, 30, 0, 0, loc), map[string]Plan{"a": p})
	s.until(time.Date(2026, 5, 1, 3, 0, 0, 0, loc))
	if len(s.runs["a"]) != 1 || !s.runs["a"][0].Equal(time.Date(2026, 5, 1, 1, 0, 0, 0, loc)) {
		t.Errorf("a tick at a window's start runs at once: %v", s.runs["a"])
	}
	// A tick exactly at the end of a window waits for the next day's window.
	p2 := mustSched(t, "0 2 * * *")
	p2.Windows = windows(t, "01:00-02:00")
	s = newSim(t, loc, time.Date(2026, 5, 1, 0, 30, 0, 0, loc), map[string]Plan{"b": p2})
	s.until(time.Date(2026, 5, 2, 3, 0, 0, 0, loc))
	if len(s.runs["b"]) != 1 || !s.runs["b"][0].Equal(time.Date(2026, 5, 2, 1, 0, 0, 0, loc)) {
		t.Errorf("the window's end is exclusive: %v", s.runs["b"])
	}
}

func TestStartEqualsEndIsAllDay(t *testing.T) {
	p := mustSched(t, "0 13 * * *")
	p.Windows = windows(t, "05:00-05:00")
	s := newSim(t, time.UTC, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), map[string]Plan{"a": p})
	s.until(time.Date(2026, 5, 1, 14, 0, 0, 0, time.UTC))
	if len(s.runs["a"]) != 1 || s.runs["a"][0].Hour() != 13 {
		t.Errorf("runs %v", s.runs["a"])
	}
}

func TestTriggersCoalesceAndForceBypassesWindows(t *testing.T) {
	p := mustSched(t, "0 3 * * *")
	p.Windows = windows(t, "01:00-02:00")
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p})
	s.hold = true
	for i := 0; i < 50; i++ { // SIGUSR1 spam
		s.c.trigger(nil, true, s.now)
		s.do(s.c.advance(s.now))
	}
	if len(s.runs["a"]) != 1 {
		t.Fatalf("50 triggers while running started %d runs, want 1", len(s.runs["a"]))
	}
	s.hold = false
	s.c.finished("a", Done, "", start, s.now)
	s.do(s.c.advance(s.now))
	if len(s.runs["a"]) != 2 {
		t.Errorf("triggers during a run coalesce into exactly one more run, got %d runs", len(s.runs["a"]))
	}
	// A plain trigger outside the window waits for it.
	s.c.trigger([]string{"a"}, false, s.now)
	s.do(s.c.advance(s.now))
	if len(s.runs["a"]) != 2 || s.c.jobs["a"].reason != ReasonWindow {
		t.Errorf("an unforced trigger outside the window ran: %v (%s)", s.runs["a"], s.c.jobs["a"].reason)
	}
}

func TestCatchUpAfterThreeDaysDownIsOneRun(t *testing.T) {
	p := mustSched(t, "15 2 * * *")
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	s := newSim(t, time.UTC, now, map[string]Plan{"a": p, "never": p})
	s.c.catchUp("a", time.Date(2026, 5, 1, 2, 15, 0, 0, time.UTC), now)
	s.c.catchUp("never", time.Time{}, now)
	s.do(s.c.advance(now))
	if len(s.runs["a"]) != 1 || len(s.runs["never"]) != 0 {
		t.Errorf("catch-up runs: a=%d never=%d, want 1 and 0", len(s.runs["a"]), len(s.runs["never"]))
	}
}

func TestClockJumps(t *testing.T) {
	p := mustSched(t, "0 * * * *")
	start := time.Date(2026, 5, 1, 0, 30, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p})
	s.until(start.Add(time.Hour)) // one tick at 01:00
	// Forward three days at once: the missed ticks are one run, not 72.
	s.now = s.now.Add(72 * time.Hour)
	s.do(s.c.advance(s.now))
	if n := len(s.runs["a"]); n != 2 {
		t.Errorf("after a forward jump: %d runs, want 2", n)
	}
	// Back two hours: ticks already fired are not fired again.
	s.now = s.now.Add(-2 * time.Hour)
	s.until(s.now.Add(90 * time.Minute))
	if n := len(s.runs["a"]); n != 2 {
		t.Errorf("after a backward jump: %d runs, want still 2", n)
	}
}

func TestMaxDeferralUnderConstantTraffic(t *testing.T) {
	p := mustSched(t, "0 0 * * *")
	p.MaxDeferral = 6 * time.Hour
	p.Traffic = Traffic{Sample: 30 * time.Second, MaxRecordsPerSecond: 50}
	start := time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p})
	s.busy = func(string, time.Time) bool { return true }
	s.until(time.Date(2026, 5, 2, 7, 0, 0, 0, time.UTC))
	if len(s.runs["a"]) != 1 || !s.runs["a"][0].Equal(time.Date(2026, 5, 2, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("under constant traffic the run must happen once, at max_deferral: %v", s.runs["a"])
	}
	if s.samples < 10 {
		t.Errorf("traffic was sampled %d times; it should be re-checked while deferred", s.samples)
	}
}

func TestDiskRefusalIsNeverForced(t *testing.T) {
	p := mustSched(t, "0 0 * * *")
	p.MaxDeferral = time.Hour
	start := time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p})
	s.outcome = func(string) Outcome { return RefusedDisk }
	s.c.trigger(nil, true, s.now) // even forced
	s.until(start.Add(5 * time.Hour))
	j := s.c.jobs["a"]
	if j.pending == nil || j.reason != ReasonDisk || !j.lastRun.IsZero() {
		t.Errorf("a disk refusal must leave the request pending (reason %q, last run %v)", j.reason, j.lastRun)
	}
	if n := len(s.runs["a"]); n < 100 {
		t.Errorf("only %d attempts in 5h: a refused run must be retried", n)
	}
	s.outcome = func(string) Outcome { return Done }
	s.until(s.now.Add(2 * time.Minute))
	if j := s.c.jobs["a"]; j.pending != nil || j.lastRun.IsZero() {
		t.Errorf("once the disk has room the run happens")
	}
}

func TestMaxConcurrentAndReloadDuringARun(t *testing.T) {
	p := mustSched(t, "0 0 * * *")
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p, "b": p})
	s.hold = true
	s.c.trigger(nil, true, s.now)
	s.do(s.c.advance(s.now))
	if len(s.held) != 1 {
		t.Fatalf("max_concurrent 1 started %d runs", len(s.held))
	}
	// Reload removes the running store and adds another: the run ends normally, the removed
	// store is then forgotten, the new one is scheduled.
	running := s.held[0]
	other := map[string]string{"a": "b", "b": "a"}[running]
	s.c.set(map[string]Plan{other: p, "c": p}, s.now)
	s.c.finished(running, Done, "", start, s.now)
	if _, ok := s.c.jobs[running]; ok {
		t.Error("a store removed by a reload is kept after its run")
	}
	s.hold = false
	s.do(s.c.advance(s.now))
	if len(s.runs[other]) != 1 {
		t.Errorf("the waiting store did not run after the slot freed: %v", s.runs)
	}
	if _, ok := s.c.jobs["c"]; !ok {
		t.Error("a store added by a reload is not scheduled")
	}
}

// TestSlotsGoToTheOldestRequest: more stores ask to run than max_concurrent allows, every
// second, and every run lasts a second. Each free slot must go to the request that has waited
// longest: by name order, "a", asked for again at every tick, would take every slot and "b"
// and "c" would wait forever.
func TestSlotsGoToTheOldestRequest(t *testing.T) {
	p := mustSched(t, "* * * * * *")
	p.MinInterval = 0
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p, "b": p, "c": p})
	s.hold = true
	for range 30 {
		s.now = s.now.Add(time.Second)
		for _, job := range s.held {
			s.c.finished(job, Done, "", s.now, s.now)
		}
		s.held = nil
		s.do(s.c.advance(s.now))
	}
	for _, job := range []string{"a", "b", "c"} {
		runs := s.runs[job]
		if len(runs) < 9 {
			t.Errorf("store %s ran %d times in 30 one-second slots shared by 3 stores, want 10 (a %d, b %d, c %d)",
				job, len(runs), len(s.runs["a"]), len(s.runs["b"]), len(s.runs["c"]))
			continue
		}
		for i := 1; i < len(runs); i++ {
			if gap := runs[i].Sub(runs[i-1]); gap > 3*time.Second {
				t.Errorf("store %s waited %v between runs %d and %d: with 3 stores on 1 slot, no request waits more than 3s", job, gap, i-1, i)
			}
		}
	}
}

func TestMinIntervalDeduplicatesTicks(t *testing.T) {
	p := mustSched(t, "* * * * * *") // every second
	p.MinInterval = time.Minute
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, map[string]Plan{"a": p})
	s.until(start.Add(10*time.Minute - time.Second))
	if n := len(s.runs["a"]); n != 10 {
		t.Errorf("ticks every second with min_interval 1m ran %d times in 10 minutes, want 10", n)
	}
}

func TestJitterSpreadsStoresSharingASchedule(t *testing.T) {
	p := mustSched(t, "0 3 * * *")
	p.Jitter = 30 * time.Minute
	start := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := newSim(t, time.UTC, start, nil)
	offsets := []int64{int64(5 * time.Minute), int64(20 * time.Minute)}
	i := 0
	s.c.rand = func(n int64) int64 {
		if n != int64(30*time.Minute) {
			t.Fatalf("jitter drawn from [0, %v), want [0, 30m)", time.Duration(n))
		}
		o := offsets[i%2]
		i++
		return o
	}
	s.c.set(map[string]Plan{"a": p, "b": p}, start)
	s.c.maxConcurrent = 2
	s.until(start.Add(4 * time.Hour))
	a, b := s.runs["a"], s.runs["b"]
	if len(a) != 1 || len(b) != 1 || a[0].Equal(b[0]) {
		t.Fatalf("runs a=%v b=%v: stores sharing a schedule must start apart", a, b)
	}
	for _, r := range append(a, b...) {
		if r.Before(start.Add(3*time.Hour)) || !r.Before(start.Add(3*time.Hour+30*time.Minute)) {
			t.Errorf("run at %v is outside the tick plus its jitter", r)
		}
	}
}
