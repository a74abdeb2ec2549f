package filerun

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/report"
	"go.uber.org/zap"
)

// Backend is what a file backend adds to the skeleton.
type Backend interface {
	// Recover finishes or undoes, with the store locked, what earlier runs left beside it:
	// the backend's own journaled steps, then every file they may have replaced through
	// livefile (rec.LiveFile).
	Recover(ctx context.Context, rec *Recovery) error
	// Lost returns the predicate that tells archive recovery and publishing what the store
	// has lost of an archive part. It is asked for once per recovery or publish.
	Lost() func(archive.Part) (archive.Keep, error)
	// Run opens, plans and, unless run is a dry run, executes one run, filling its report.
	Run(ctx context.Context, run *Run) error
}

// Config describes a file store to the skeleton.
type Config struct {
	Name string // the store's name in reports and archives
	Kind string // the backend's name in reports
	// Path is the store's name: the one file of a one-file store, the active file or the
	// name a set's names derive from otherwise. The store's lock lives beside it.
	Path string
	// OneFile says Path is the store's only file: when nothing is there, the store is
	// missing; when it is not a regular file, the store is refused.
	OneFile bool
	// Present reports, for a store of several files, whether any of them is there; nil when
	// OneFile says Path is the one file.
	Present func() (bool, error)
	// MissingOK makes a missing store nothing to do, with a warning; otherwise it is an error
	// wrapping errs.ErrMissing (see Missing).
	MissingOK bool
	// PapyraTemps are the files Papyra's own compaction or recovery writes beside the store;
	// one changed within PapyraActivity makes the run skip the store.
	PapyraTemps    []string
	PapyraActivity time.Duration
	Drain          livefile.DrainOptions
	// AllowHardLinks lets a run compact files that have more than one name (see CheckLinks).
	AllowHardLinks bool
	Quarantine     string          // directory of quarantine files
	Archive        *archive.Config // nil when the store has no archive
	Log            *zap.Logger     // already naming the store
	Now            func() time.Time
}

// Runner runs one file store's compactions and recoveries through the skeleton.
type Runner struct {
	cfg Config
	b   Backend
}

// New returns the Runner of the store cfg describes, run by b.
func New(cfg Config, b Backend) *Runner {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg, b: b}
}

// Compact runs the store's compaction through the skeleton (see the package doc).
func (r *Runner) Compact(ctx context.Context, opts backends.Options) (rep report.Report, err error) {
	cfg := r.cfg
	start := cfg.Now()
	rep = report.Report{Store: cfg.Name, Backend: cfg.Kind, DryRun: opts.DryRun, Result: report.ResultOK}
	defer func() {
		if errors.Is(err, errs.ErrReplaced) {
			// Nothing changed: the store is busy, not broken, and the run is tried later.
			rep.Result, rep.Reason = report.ResultSkipped, "replaced"
		}
		rep.Finish(time.Since(start), err)
	}()
	exists, err := checkPath(cfg.Path, cfg.OneFile)
	if err == nil && exists && cfg.Present != nil {
		exists, err = cfg.Present()
	}
	if err != nil {
		return rep, err
	}
	if !exists {
		if cfg.MissingOK {
			rep.Warnings = append(rep.Warnings, "store does not exist (missing_ok): nothing to compact")
			return rep, nil
		}
		return rep, Missing(cfg.Name, cfg.Path)
	}
	if busy := PapyraActive(cfg.PapyraTemps, start, cfg.PapyraActivity); busy != "" {
		rep.Result, rep.Reason = report.ResultSkipped, "papyra_active"
		return rep, fmt.Errorf("%s is being written: %w", busy, errs.ErrBusy)
	}
	if !opts.DryRun {
		unlock, err := r.lock(yieldWait)
		if err != nil {
			if errors.Is(err, errs.ErrLocked) {
				rep.Result, rep.Reason = report.ResultSkipped, "locked"
			}
			return rep, err
		}
		defer unlock()
		if err := r.b.Recover(ctx, &Recovery{cfg: &r.cfg, rep: &rep}); err != nil {
			return rep, fmt.Errorf("recover earlier runs: %w", err)
		}
		if err := r.recoverArchive(ctx); err != nil {
			return rep, err
		}
	}
	run := &Run{ID: atomicfile.NewRunID(), Start: start, Opts: opts, Report: &rep, r: r}
	if err := r.b.Run(ctx, run); err != nil {
		return rep, err
	}
	backends.PruneArchive(&rep, cfg.Archive, cfg.Name, cfg.Now())
	return rep, nil
}

// Missing is the error for a store whose file (or every file of its set) named by path does not
// exist: it names the store and the path, and wraps errs.ErrMissing.
func Missing(name, path string) error {
	return fmt.Errorf("store %s: %s %w (missing_ok: true, or --missing-ok, lets a store be absent)", name, path, errs.ErrMissing)
}

// Recover finishes or undoes what earlier runs left beside the store, as a run does first.
// It returns an error wrapping errs.ErrLocked when a run holds the store: that run does the
// same.
func (r *Runner) Recover(ctx context.Context) error {
	_, err := r.recoverOnce(ctx, r.cfg, yieldWait)
	return err
}

// Forward does once what the daemon's forwarder repeats for a store that a run left pending:
// the recovery a run does first, with the drain bounded by its MinDrain, so that late lines
// written into replaced files reach the store within seconds, and a replaced file is let go
// as soon as the kernel proves nobody holds it. It returns how many replaced files are still
// pending. A store that a run or forward holds, in this process or another, is left alone
// (errs.ErrLocked): that one does the same.
func (r *Runner) Forward(ctx context.Context) (pending int, err error) {
	cfg := r.cfg
	cfg.Drain.Timeout = cfg.Drain.MinDrain
	return r.recoverOnce(ctx, cfg, 0)
}

// recoverOnce runs the backend's recovery with cfg, the store locked (waiting up to wait for
// this process's own hold on it to end), and returns how many replaced files are pending.
func (r *Runner) recoverOnce(ctx context.Context, cfg Config, wait time.Duration) (int, error) {
	if _, err := os.Lstat(filepath.Dir(cfg.Path)); errors.Is(err, fs.ErrNotExist) {
		return 0, nil // a missing store's directory holds nothing to recover
	}
	unlock, err := r.lock(wait)
	if err != nil {
		return 0, err
	}
	defer unlock()
	var rep report.Report
	err = r.b.Recover(ctx, &Recovery{cfg: &cfg, rep: &rep})
	return rep.PendingFiles, err
}

// lock takes the store: first this process's own hold on it (runs, recoveries and the
// daemon's forwards of one store take turns; a run waits up to wait for a forward, which ends
// within a drain's MinDrain), then its flock, which another process may hold. Either held
// elsewhere is errs.ErrLocked. The func returned releases both.
func (r *Runner) lock(wait time.Duration) (func(), error) {
	mu := storeMutex(r.cfg.Path)
	if !lockWithin(mu, wait) {
		return nil, fmt.Errorf("%s: this process is working on it: %w", r.cfg.Name, errs.ErrLocked)
	}
	l, err := livefile.Acquire(r.cfg.Path)
	if err != nil {
		mu.Unlock()
		return nil, err
	}
	return func() {
		_ = l.Release()
		mu.Unlock()
	}, nil
}

// yieldWait bounds how long a run waits for a forward of its own process to end.
const yieldWait = 2 * time.Second

// storeMutexes serialize, within this process, the runs and forwards of each store (by
// path), so that a run waits for a forward of the daemon's instead of being skipped as
// locked by its flock. Runners are made afresh for each run, hence the package-level map.
var storeMutexes sync.Map // path → *sync.Mutex

func storeMutex(path string) *sync.Mutex {
	m, _ := storeMutexes.LoadOrStore(path, new(sync.Mutex))
	return m.(*sync.Mutex)
}

// lockWithin locks mu if it can within d.
func lockWithin(mu *sync.Mutex, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Recovery is the recovery of one store, as the skeleton hands it to Backend.Recover.
type Recovery struct {
	cfg *Config
	rep *report.Report
}

// LiveFile finishes or undoes the replacements of the file name that earlier runs left
// (livefile.Recover): lines it forwards count as appended during the run, and a replaced file
// a writer still holds open is a warning.
func (rc *Recovery) LiveFile(ctx context.Context, name string) error {
	res, err := livefile.Recover(ctx, name, rc.cfg.Drain)
	rc.rep.LinesAppended += int64(res.ForwardedLines)
	if res.Pending > 0 {
		rc.rep.PendingFiles += res.Pending
		if res.NoStore {
			rc.rep.Warnings = append(rc.rep.Warnings, noStoreWarning(rc.cfg.fileName(name)))
		} else {
			rc.rep.Warnings = append(rc.rep.Warnings, pendingWarning(rc.cfg.fileName(name), res.Holders, res.Unproven, true))
		}
	}
	if res.Glued > 0 {
		rc.rep.Warnings = append(rc.rep.Warnings, fmt.Sprintf("%s: a forward cut short by a crash left %d line(s) glued to the application's next record where the cut could not be found; the next run quarantines them", rc.cfg.fileName(name), res.Glued))
	}
	if err != nil {
		return err
	}
	if n := res.RemovedTemps + res.RolledBack; n > 0 {
		rc.cfg.Log.Info("removed leftovers of interrupted runs", zap.Int("files", res.RemovedTemps), zap.Int("rolled_back", res.RolledBack))
	}
	return nil
}

// recoverArchive publishes or removes the archives of runs that died, once the backend's
// recovery has finished or undone their changes to the store.
func (r *Runner) recoverArchive(ctx context.Context) error {
	cfg := r.cfg
	if cfg.Archive == nil {
		return nil
	}
	rec, err := archive.Recover(ctx, *cfg.Archive, cfg.Name, r.b.Lost())
	if err != nil {
		return fmt.Errorf("store %s: %w", cfg.Name, err)
	}
	if len(rec.Published) > 0 || rec.Removed > 0 {
		cfg.Log.Info("recovered the archives of interrupted runs", zap.Strings("published", rec.Published),
			zap.Int64("records", rec.Records), zap.Int("removed", rec.Removed))
	}
	return nil
}
