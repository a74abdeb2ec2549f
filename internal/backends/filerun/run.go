package filerun

import (
	"context"
	"fmt"
	"time"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/quarantine"
	"github.com/papyrad/papyrad/internal/report"
)

// fileName is how warnings name the file name of the store: a one-file store's file is "the
// replaced file", a set's files are named.
func (c *Config) fileName(name string) string {
	if c.OneFile {
		return ""
	}
	return name
}

// pendingWarning says why a replaced file is still kept and forwarded: writers hold it open
// (hs names those papyrad can see), or, with unproven set, nothing could prove that none do.
// name is "" for the file of a one-file store; recovered says recovery found it (replaced by
// an earlier run).
func pendingWarning(name string, hs []livefile.Holder, unproven string, recovered bool) string {
	by := fmt.Sprint("held open for writing by ", hs)
	switch {
	case unproven != "":
		by = "kept: papyrad cannot ask the kernel whether it is (" + unproven + "); grant CAP_LEASE or run papyrad as the store's owner"
	case len(hs) == 0:
		by = "held open for writing by a process papyrad cannot see (another user's, or in another PID namespace)"
	}
	switch {
	case name == "":
		return "the replaced file is still " + by + "; its new lines are forwarded (every second by the daemon, else by the next run) until it is let go"
	case recovered:
		return "a replaced " + name + " is still " + by
	}
	return "the replaced " + name + " is still " + by + "; its new lines are forwarded (every second by the daemon, else by the next run) until it is let go"
}

// noStoreWarning says that lines wait in a replaced file because the store itself is gone.
func noStoreWarning(name string) string {
	if name == "" {
		name = "store file"
	}
	return "the " + name + " is gone (moved away by another program) while lines written to the file it replaced wait to be forwarded; papyrad never creates a store: they are forwarded once the application makes it again"
}

// Run is one compaction run, as the skeleton hands it to Backend.Run.
type Run struct {
	ID     string    // the run's id: names its temp, quarantine and archive files
	Start  time.Time // when the run began, by the store's clock
	Opts   backends.Options
	Report *report.Report
	r      *Runner
}

// DryRun reports whether the run only reports what it would do.
func (run *Run) DryRun() bool { return run.Opts.DryRun }

// TryLock takes the store's lock if nobody holds it, for a dry run (which runs without it) to
// write what must not race a real run; the func releases it. It wraps errs.ErrLocked when the
// lock is held.
func (run *Run) TryLock() (func(), error) { return run.r.lock(0) }

// NewQuarantine returns the run's quarantine file (nothing is written until a line is added).
func (run *Run) NewQuarantine() *quarantine.File {
	cfg := run.r.cfg
	return quarantine.New(cfg.Quarantine, cfg.Name, cfg.Path, run.ID, run.Start)
}

// NewArchive returns the run's archive writer, or nil when the store has no archive or the
// run is a dry run.
func (run *Run) NewArchive() *archive.Writer {
	cfg := run.r.cfg
	if cfg.Archive == nil || run.Opts.DryRun {
		return nil
	}
	return archive.NewWriter(*cfg.Archive, cfg.Name, run.ID, run.Start)
}

// PublishArchive publishes the parts of w, sealed, that the store has lost. One that cannot
// be published yet stays sealed and durable for the next run's recovery: a warning.
func (run *Run) PublishArchive(ctx context.Context, w *archive.Writer) {
	final, n, err := w.Publish(ctx, run.r.b.Lost())
	run.Report.ArchiveFile, run.Report.RecordsArchived = final, n
	if err != nil {
		run.Report.Warnings = append(run.Report.Warnings, "the run's archive is not published yet: "+err.Error())
	}
}

// Replace finishes rw, the replacement of the store file name, from the offset from of the
// old file (livefile's Finish with the store's drain bounds and the hooks given, either of
// which may be nil), and accounts for it in the report: lines carried over and forwarded,
// writers still holding the replaced file. An error before or at the commit leaves the file
// untouched (the caller aborts rw). A drain that failed is a warning, and an error unless the
// run was stopped: the file is committed and whole, and recovery resumes the drain.
func (run *Run) Replace(ctx context.Context, rw *livefile.Rewrite, from int64, name string,
	beforeCommit func() error, afterCommit func(error)) (livefile.FinishResult, error) {
	cfg := run.r.cfg
	res, err := rw.Finish(ctx, from, livefile.FinishOptions{Drain: cfg.Drain, BeforeCommit: beforeCommit, AfterCommit: afterCommit})
	if err != nil {
		return res, errs.Wrap("compact", name, err)
	}
	rep := run.Report
	rep.LinesAppended += res.CarriedLines + int64(res.Drain.ForwardedLines)
	if n := res.Drain.Overtaken; n > 0 {
		rep.LinesOvertaken += int64(n)
		what := "the replaced file"
		if f := cfg.fileName(name); f != "" {
			what = "the replaced " + f
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d late line(s) of %s were forwarded after newer ones, and no file lease guarded the commit: a writer's records may be out of order (grant CAP_LEASE, or run papyrad as the store's owner)", n, what))
	}
	if res.Drain.Pending {
		rep.PendingFiles++
		if res.Drain.NoStore {
			rep.Warnings = append(rep.Warnings, noStoreWarning(cfg.fileName(name)))
		} else {
			rep.Warnings = append(rep.Warnings, pendingWarning(cfg.fileName(name), res.Drain.Holders, res.Drain.Unproven, false))
		}
	}
	if res.DrainErr != nil {
		rep.Warnings = append(rep.Warnings, "draining the replaced file was interrupted: "+res.DrainErr.Error())
		if ctx.Err() == nil {
			return res, fmt.Errorf("compact %s: drain: %w", name, res.DrainErr)
		}
	}
	return res, nil
}
