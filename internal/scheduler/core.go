package scheduler

import (
	"math/rand/v2"
	"sort"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/papyrad/papyrad/internal/window"
)

// Reasons a request waits, as metrics and status name them.
const (
	ReasonWindow  = "window"
	ReasonTraffic = "traffic"
	ReasonDisk    = "disk"
	ReasonLock    = "lock"
	// ReasonReplaced: another program (Papyra's own compaction) replaced the store during
	// the run, which changed nothing; the run is tried again later.
	ReasonReplaced = "replaced"
	ReasonSlot     = "max_concurrent"
	ReasonStop     = "shutdown"
)

// Traffic is a store's traffic guard: above either rate, a run waits. Zero rates: no check.
type Traffic struct {
	Sample              time.Duration
	MaxRecordsPerSecond float64
	MaxBytesPerSecond   int64
}

func (t Traffic) enabled() bool { return t.MaxRecordsPerSecond > 0 || t.MaxBytesPerSecond > 0 }

// Plan is when one store may run: its schedule and the guards that only a timetable needs.
type Plan struct {
	Schedule    cron.Schedule
	Windows     window.Set
	MaxDeferral time.Duration
	Jitter      time.Duration
	MinInterval time.Duration
	Traffic     Traffic
}

// request is a wish to run a store, coalescing every tick and trigger until it runs.
type request struct {
	since     time.Time // when the oldest coalesced wish was made
	forced    bool      // SIGUSR1 or trigger: windows and traffic do not apply
	trafficOK bool      // a traffic sample just found the store quiet
}

// jobState is the scheduler's view of one store.
type jobState struct {
	name      string
	plan      Plan
	lastTick  time.Time // the last tick fired (for min_interval)
	nextFire  time.Time // next tick plus its jitter
	nextTick  time.Time // next tick without jitter
	pending   *request
	retryAt   time.Time
	reason    string // why the pending request waits
	running   bool
	sampling  bool
	lastRun   time.Time
	lastOK    time.Time
	lastError string
	removed   bool      // dropped by a reload; forgotten once idle
	lastSince time.Time // the since of the request being run
	reported  string    // the defer reason last reported, so each deferral is told once
}

// actionKind is what the shell must do for a store.
type actionKind int

const (
	startRun actionKind = iota
	startSample
)

type action struct {
	kind   actionKind
	job    string
	forced bool
}

// core decides when stores run. It is a pure state machine: the shell feeds it the time and
// events and carries out the actions it returns, so that every rule is tested with a fake
// clock and no goroutines.
type core struct {
	loc           *time.Location
	maxConcurrent int
	jobs          map[string]*jobState
	running       int
	rand          func(n int64) int64
	// retry is how long a run refused by the disk guard or a lock waits before trying again.
	retry time.Duration
}

func newCore(loc *time.Location, maxConcurrent int) *core {
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	return &core{loc: loc, maxConcurrent: maxConcurrent, jobs: map[string]*jobState{},
		rand: func(n int64) int64 { return rand.Int64N(n) }, retry: time.Minute}
}

// set installs the stores of a (re)loaded config at now: new stores are scheduled from now,
// kept stores keep their state with the new plan, removed stores are forgotten once idle.
func (c *core) set(plans map[string]Plan, now time.Time) {
	for name, j := range c.jobs {
		if _, ok := plans[name]; !ok {
			j.removed, j.pending = true, nil
			if !j.running && !j.sampling {
				delete(c.jobs, name)
			}
		}
	}
	for name, p := range plans {
		j, ok := c.jobs[name]
		if !ok {
			j = &jobState{name: name}
			c.jobs[name] = j
		}
		j.plan, j.removed = p, false
		// A request waiting under the old plan is judged again under the new one.
		j.retryAt, j.reason = time.Time{}, ""
		c.schedule(j, now)
	}
}

// schedule computes a store's next tick after now.
func (c *core) schedule(j *jobState, now time.Time) {
	t := nextTick(j.plan.Schedule, c.loc, now)
	j.nextTick, j.nextFire = t, t
	if !t.IsZero() && j.plan.Jitter > 0 {
		j.nextFire = t.Add(time.Duration(c.rand(int64(j.plan.Jitter))))
	}
}

// catchUp asks for one run of a store whose last recorded run is older than a tick that
// passed while the daemon was down (like systemd's Persistent=true). A store never run before
// is not caught up.
func (c *core) catchUp(name string, lastRun, now time.Time) {
	j, ok := c.jobs[name]
	if !ok || lastRun.IsZero() {
		return
	}
	j.lastRun = lastRun
	if t := nextTick(j.plan.Schedule, c.loc, lastRun); !t.IsZero() && !t.After(now) {
		c.want(j, t, false)
	}
}

// want coalesces a wish to run into the store's pending request.
func (c *core) want(j *jobState, at time.Time, forced bool) {
	if j.pending == nil {
		j.pending = &request{since: at}
		j.retryAt = time.Time{}
	}
	if forced {
		j.pending.forced = true
		j.retryAt = time.Time{}
	}
}

// trigger asks for a run of the named stores (all when names is empty) at now.
func (c *core) trigger(names []string, forced bool, now time.Time) {
	for _, j := range c.sorted() {
		if j.removed || (len(names) > 0 && !contains(names, j.name)) {
			continue
		}
		c.want(j, now, forced)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *core) sorted() []*jobState {
	out := make([]*jobState, 0, len(c.jobs))
	for _, j := range c.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].name < out[b].name })
	return out
}

// oldestFirst returns the stores with a request first, the request that has waited longest
// first (by name among requests of the same age), then the others by name. Free slots go in
// that order, so that stores whose ticks keep coming cannot starve one that waits for a slot.
func (c *core) oldestFirst() []*jobState {
	out := c.sorted()
	sort.SliceStable(out, func(a, b int) bool {
		ra, rb := out[a].pending, out[b].pending
		if ra == nil || rb == nil {
			return ra != nil && rb == nil
		}
		return ra.since.Before(rb.since)
	})
	return out
}

// advance fires the ticks due at now and returns what to start.
func (c *core) advance(now time.Time) []action {
	for _, j := range c.sorted() {
		if j.removed || j.nextFire.IsZero() || now.Before(j.nextFire) {
			continue
		}
		tick := j.nextTick
		// A clock that jumped back, or two ticks closer than min_interval, fire once.
		if j.lastTick.IsZero() || tick.Sub(j.lastTick) >= j.plan.MinInterval {
			c.want(j, tick, false)
			j.lastTick = tick
		}
		c.schedule(j, now)
	}
	var acts []action
	for _, j := range c.oldestFirst() {
		if a, ok := c.evaluate(j, now); ok {
			acts = append(acts, a)
		}
	}
	return acts
}

// evaluate applies the guards, in order, to a store's pending request.
func (c *core) evaluate(j *jobState, now time.Time) (action, bool) {
	r := j.pending
	if r == nil || j.running || j.sampling || now.Before(j.retryAt) {
		return action{}, false
	}
	overdue := j.plan.MaxDeferral > 0 && now.Sub(r.since) >= j.plan.MaxDeferral
	if !r.forced && !overdue && len(j.plan.Windows) > 0 && !j.plan.Windows.Contains(now.In(c.loc)) {
		j.reason, j.retryAt = ReasonWindow, j.plan.Windows.Next(now.In(c.loc))
		if j.plan.MaxDeferral > 0 && r.since.Add(j.plan.MaxDeferral).Before(j.retryAt) {
			j.retryAt = r.since.Add(j.plan.MaxDeferral)
		}
		return action{}, false
	}
	if !r.forced && !overdue && !r.trafficOK && j.plan.Traffic.enabled() {
		j.sampling = true
		return action{kind: startSample, job: j.name}, true
	}
	if c.running >= c.maxConcurrent {
		j.reason = ReasonSlot
		return action{}, false
	}
	j.lastSince = r.since
	j.pending, j.reason, j.running = nil, "", true
	c.running++
	return action{kind: startRun, job: j.name, forced: r.forced}, true
}

// sampled records a traffic sample's verdict at now.
func (c *core) sampled(name string, busy bool, now time.Time) {
	j, ok := c.jobs[name]
	if !ok {
		return
	}
	j.sampling = false
	if j.removed {
		c.forget(j)
		return
	}
	if j.pending == nil {
		return
	}
	if busy {
		j.reason, j.retryAt = ReasonTraffic, now.Add(max(j.plan.Traffic.Sample, time.Second))
		return
	}
	j.pending.trafficOK = true
}

// Outcome is how a run ended, as far as scheduling cares.
type Outcome int

// Outcomes.
const (
	Done            Outcome = iota // ran (successfully or not): the request is served
	RefusedDisk                    // the disk guard refused: try again later, never forced through
	RefusedLock                    // another process held the store: try again later
	RefusedReplaced                // another program replaced the store mid-run: try again later
	Interrupted                    // stopped by a shutdown at a safe point: not a run, caught up after a restart
)

// finished records the end of a store's run at now.
func (c *core) finished(name string, out Outcome, runErr string, since time.Time, now time.Time) {
	j, ok := c.jobs[name]
	if !ok {
		return
	}
	j.running = false
	c.running--
	if j.removed {
		c.forget(j)
		return
	}
	switch out {
	case RefusedDisk, RefusedLock, RefusedReplaced, Interrupted:
		// The request comes back, as old as it was; a pending one coalesces into it.
		if j.pending == nil || j.pending.since.After(since) {
			f := j.pending != nil && j.pending.forced
			j.pending = &request{since: since, forced: f}
		}
		j.reason, j.retryAt = ReasonDisk, now.Add(c.retry)
		switch out {
		case RefusedLock:
			j.reason = ReasonLock
		case RefusedReplaced:
			j.reason = ReasonReplaced
		case Interrupted:
			j.reason = ReasonStop
		}
		return
	}
	j.lastRun, j.lastError = now, runErr
	if runErr == "" {
		j.lastOK = now
	}
}

func (c *core) forget(j *jobState) {
	if !j.running && !j.sampling {
		delete(c.jobs, j.name)
	}
}

// wake is the next instant the core has something to do, or zero if nothing is scheduled.
func (c *core) wake() time.Time {
	var w time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	for _, j := range c.jobs {
		if j.removed {
			continue
		}
		earliest(j.nextFire)
		if j.pending != nil && !j.running && !j.sampling && j.reason != ReasonSlot {
			earliest(j.retryAt)
		}
	}
	return w
}
