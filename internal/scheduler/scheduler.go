package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
)

// Store is what the scheduler needs from a backend.
type Store interface {
	Compact(ctx context.Context, opts backends.Options) (report.Report, error)
}

// Meter is what the traffic guard needs: a running count of records and bytes written to a
// store. Backends that can measure it implement it.
type Meter interface {
	Activity(ctx context.Context) (records, bytes uint64, err error)
}

// Job is one store as the scheduler runs it.
type Job struct {
	Name  string
	Plan  Plan
	Disk  Disk
	Store Store
	Meter Meter // nil: the store's traffic cannot be measured and is taken as quiet
}

// Config is the scheduler's process-wide settings.
type Config struct {
	Location      *time.Location
	MaxConcurrent int
	// StateFile keeps each store's last run across restarts, for catch-up.
	StateFile string
	Log       *zap.Logger
	// OnRun, if set, is told about every run's outcome (metrics, logs).
	OnRun func(job string, rep report.Report, err error)
	// OnDefer, if set, is told each time a request is held back and why.
	OnDefer func(job, reason string)
}

// Scheduler runs stores' compactions on their schedules, within their guards. Its decisions
// are made by a pure core; the scheduler carries them out with goroutines and a real clock.
type Scheduler struct {
	cfg  Config
	log  *zap.Logger
	disk *diskGuard

	mu      sync.Mutex
	core    *core
	jobs    map[string]Job
	cancels map[string]context.CancelFunc
	kick    chan struct{}
	// stateDirty says a run finished since the state file was last written.
	stateDirty chan struct{}
	runCtx     context.Context
	wg         sync.WaitGroup
}

// New returns a scheduler for jobs.
func New(cfg Config, jobs []Job) *Scheduler {
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	s := &Scheduler{cfg: cfg, log: cfg.Log, disk: newDiskGuard(), core: newCore(cfg.Location, cfg.MaxConcurrent),
		jobs: map[string]Job{}, cancels: map[string]context.CancelFunc{}, kick: make(chan struct{}, 1),
		stateDirty: make(chan struct{}, 1)}
	s.install(jobs, time.Now())
	s.catchUp(time.Now())
	return s
}

func (s *Scheduler) install(jobs []Job, now time.Time) {
	plans := map[string]Plan{}
	s.jobs = map[string]Job{}
	for _, j := range jobs {
		plans[j.Name] = j.Plan
		s.jobs[j.Name] = j
	}
	s.core.set(plans, now)
}

// Reload replaces the jobs: runs in progress finish with the store they started with.
func (s *Scheduler) Reload(jobs []Job) {
	s.mu.Lock()
	s.install(jobs, time.Now())
	s.mu.Unlock()
	s.poke()
}

// Trigger asks for a run of the named stores, or of every store when names is empty. A forced
// trigger (SIGUSR1, the control socket) bypasses windows and traffic; the disk guard always
// applies.
func (s *Scheduler) Trigger(names []string, forced bool) error {
	s.mu.Lock()
	var unknown []string
	for _, n := range names {
		if _, ok := s.jobs[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		s.mu.Unlock()
		return fmt.Errorf("no store named %s", strings.Join(unknown, ", "))
	}
	s.core.trigger(names, forced, time.Now())
	s.mu.Unlock()
	s.poke()
	return nil
}

func (s *Scheduler) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run schedules until ctx ends, then cancels the runs in progress (each stops at a safe point
// and leaves its store whole) and waits for them.
func (s *Scheduler) Run(ctx context.Context) error {
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	s.mu.Lock()
	s.runCtx = runCtx
	s.mu.Unlock()
	stopSaver, saverDone := make(chan struct{}), make(chan struct{})
	go s.saveStates(stopSaver, saverDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		for _, a := range s.core.advance(now) {
			s.start(a)
		}
		s.reportDeferrals()
		wake := s.core.wake()
		s.mu.Unlock()
		d := time.Hour
		if !wake.IsZero() {
			d = max(time.Until(wake), 0)
		}
		timer.Reset(min(d, time.Hour))
		select {
		case <-ctx.Done():
			cancelRuns()
			s.wg.Wait()
			close(stopSaver)
			<-saverDone
			select {
			case <-s.stateDirty:
				s.saveState()
			default:
			}
			return nil
		case <-timer.C:
		case <-s.kick:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// reportDeferrals tells OnDefer about requests newly held back. Called with mu held.
func (s *Scheduler) reportDeferrals() {
	for _, j := range s.core.jobs {
		if j.pending != nil && j.reason != "" && j.reason != j.reported {
			j.reported = j.reason
			if s.cfg.OnDefer != nil {
				s.cfg.OnDefer(j.name, j.reason)
			}
			fields := []zap.Field{zap.String("store", j.name), zap.String("reason", j.reason)}
			if !j.retryAt.IsZero() {
				fields = append(fields, zap.Time("until", j.retryAt))
			}
			s.log.Info("run deferred", fields...)
		}
		if j.pending == nil {
			j.reported = ""
		}
	}
}

// start carries out one action of the core. Called with mu held.
func (s *Scheduler) start(a action) {
	job := s.jobs[a.job]
	s.wg.Add(1)
	switch a.kind {
	case startSample:
		go s.sample(job)
	case startRun:
		ctx, cancel := context.WithCancel(s.runCtx)
		s.cancels[a.job] = cancel
		since := time.Now()
		if st := s.core.jobs[a.job]; st != nil && st.lastSince != (time.Time{}) {
			since = st.lastSince
		}
		go s.run(ctx, job, since)
	}
}

func (s *Scheduler) sample(job Job) {
	defer s.wg.Done()
	busy := false
	if job.Meter != nil {
		ctx := s.runCtx
		r1, b1, err := job.Meter.Activity(ctx)
		if err == nil {
			d := max(job.Plan.Traffic.Sample, time.Second)
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
			r2, b2, err2 := job.Meter.Activity(ctx)
			if err2 == nil {
				secs := d.Seconds()
				rps, bps := float64(r2-r1)/secs, float64(b2-b1)/secs
				t := job.Plan.Traffic
				busy = (t.MaxRecordsPerSecond > 0 && rps > t.MaxRecordsPerSecond) ||
					(t.MaxBytesPerSecond > 0 && bps > float64(t.MaxBytesPerSecond))
				s.log.Debug("traffic sampled", zap.String("store", job.Name), zap.Float64("records_per_second", rps), zap.Float64("bytes_per_second", bps), zap.Bool("busy", busy))
			}
		}
		if err != nil {
			s.log.Warn("traffic could not be measured; taken as quiet", zap.String("store", job.Name), zap.Error(err))
		}
	}
	s.mu.Lock()
	s.core.sampled(job.Name, busy, time.Now())
	s.mu.Unlock()
	s.poke()
}

func (s *Scheduler) run(ctx context.Context, job Job, since time.Time) {
	defer s.wg.Done()
	rep, err := s.compact(ctx, job)
	out := Done
	switch {
	case errors.Is(err, errs.ErrDiskRefused):
		out = RefusedDisk
	case errors.Is(err, context.Canceled):
		out = Interrupted
	case errors.Is(err, errs.ErrReplaced):
		// Whatever the backend made of it, a run abandoned because another program replaced
		// the store changed nothing: a deferral, reported as skipped.
		out = RefusedReplaced
		rep.Result, rep.Reason = report.ResultSkipped, ReasonReplaced
	case rep.Result == report.ResultSkipped:
		out = RefusedLock
	}
	if s.cfg.OnRun != nil {
		s.cfg.OnRun(job.Name, rep, err)
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	delete(s.cancels, job.Name)
	s.core.finished(job.Name, out, msg, since, time.Now())
	s.mu.Unlock()
	select {
	case s.stateDirty <- struct{}{}:
	default:
	}
	s.poke()
}

// compact runs one compaction, turning a panic in a backend into an error: one store's bug
// never stops the others.
func (s *Scheduler) compact(ctx context.Context, job Job) (rep report.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("compaction panicked", zap.String("store", job.Name), zap.Any("panic", p), zap.Stack("stack"))
			rep = report.Report{Store: job.Name, Result: report.ResultError, Error: fmt.Sprint("panic: ", p)}
			err = fmt.Errorf("store %s: panic: %v", job.Name, p)
		}
	}()
	return job.Store.Compact(ctx, backends.Options{Reserve: s.disk.reserver(job.Disk)})
}

// Status is one store's state, for `papyrad status`.
type Status struct {
	Store         string    `json:"store"`
	State         string    `json:"state"` // idle, pending, sampling, running
	LastRun       time.Time `json:"last_run,omitzero"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	NextRun       time.Time `json:"next_run,omitzero"`
	DeferredSince time.Time `json:"deferred_since,omitzero"`
	DeferReason   string    `json:"defer_reason,omitempty"`
}

// Status returns every store's state, sorted by name.
func (s *Scheduler) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, j := range s.core.sorted() {
		st := Status{Store: j.name, State: "idle", LastRun: j.lastRun, LastSuccess: j.lastOK, LastError: j.lastError, NextRun: j.nextFire}
		switch {
		case j.running:
			st.State = "running"
		case j.sampling:
			st.State = "sampling traffic"
		case j.pending != nil:
			st.State = "pending"
			st.DeferredSince, st.DeferReason = j.pending.since, j.reason
		}
		out = append(out, st)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Store < out[b].Store })
	return out
}

// state is what survives a restart: each store's last run.
type state struct {
	LastRun map[string]time.Time `json:"last_run"`
}

// readState reads the state file's bytes. Anything but a JSON object whose last_run maps
// store names to RFC 3339 times is an error; a store whose time is null or the zero time has
// no recorded run.
func readState(b []byte) (state, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, err
	}
	for name, t := range st.LastRun {
		if t.IsZero() {
			delete(st.LastRun, name)
		}
	}
	return st, nil
}

func (s *Scheduler) catchUp(now time.Time) {
	if s.cfg.StateFile == "" {
		return
	}
	b, err := os.ReadFile(s.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var st state
	if err == nil {
		st, err = readState(b)
	}
	if err != nil {
		s.log.Warn("state file unreadable; no catch-up", zap.String("file", s.cfg.StateFile), zap.Error(err))
		return
	}
	for name, t := range st.LastRun {
		s.core.catchUp(name, t, now)
	}
}

// stateEvery is how often at most the state file is written. A burst of runs (SIGUSR1 over a
// thousand stores) makes one write a second, not one a run; a crash loses at most the last
// second's last-run times, which costs those stores at most one catch-up run.
const stateEvery = time.Second

// saveStates writes the state file when runs have finished, at most once per stateEvery,
// until stop is closed.
func (s *Scheduler) saveStates(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-s.stateDirty:
		case <-stop:
			return
		}
		s.saveState()
		select {
		case <-time.After(stateEvery):
		case <-stop:
			return
		}
	}
}

// saveState records every store's last run.
func (s *Scheduler) saveState() {
	if s.cfg.StateFile == "" {
		return
	}
	st := state{LastRun: map[string]time.Time{}}
	s.mu.Lock()
	for name, j := range s.core.jobs {
		if !j.lastRun.IsZero() {
			st.LastRun[name] = j.lastRun
		}
	}
	s.mu.Unlock()
	b, _ := json.Marshal(st)
	err := atomicfile.MkdirAll(filepath.Dir(s.cfg.StateFile), 0o750)
	if err == nil {
		err = atomicfile.WriteFile(s.cfg.StateFile, b, 0o600)
	}
	if err != nil {
		s.log.Warn("could not save the run state", zap.String("file", s.cfg.StateFile), zap.Error(err))
	}
}
