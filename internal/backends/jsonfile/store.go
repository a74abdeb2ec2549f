package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/activity"
	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/classify"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/quarantine"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Sentinel errors of a run; callers map them to exit codes and metrics.
var (
	// ErrBusy means Papyra's own compaction or recovery is running on the store.
	ErrBusy = errors.New("papyra is compacting or recovering this store")
	// ErrNotRegular means the store path is not a regular file (a directory, a symlink, ...).
	ErrNotRegular = errors.New("not a regular file")
)

// Backend is the name of this store kind in configs and reports.
const Backend = "json"

// Config describes one json store.
type Config struct {
	Name       string
	Path       string
	Policy     retention.Policy
	Grace      time.Duration // partial-line grace; 10s if zero
	Drain      livefile.DrainOptions
	Quarantine string // directory of quarantine files
	// Archive, if set, receives the records a run drops before they leave the store.
	Archive *archive.Config
	// PapyraActivity is how recent Papyra's own *.compact.tmp / *.recovered.tmp must be for the
	// store to count as busy; 10 minutes if zero.
	PapyraActivity time.Duration
}

// Store compacts and scans one json store.
type Store struct {
	cfg     Config
	log     *zap.Logger
	now     func() time.Time
	traffic activity.Counter
}

// Activity returns the running count of lines and bytes the application has appended since
// papyrad first looked, for the daemon's traffic check.
func (s *Store) Activity(ctx context.Context) (records, bytes uint64, err error) {
	return s.traffic.Observe(s.cfg.Path)
}

// New returns a Store. now is the clock (time.Now in production).
func New(cfg Config, log *zap.Logger, now func() time.Time) *Store {
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Drain.Grace <= 0 {
		cfg.Drain.Grace = cfg.Grace
	}
	if cfg.PapyraActivity <= 0 {
		cfg.PapyraActivity = 10 * time.Minute
	}
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	return &Store{cfg: cfg, log: log.With(zap.String("store", cfg.Name)), now: now}
}

// Compact runs retention over the store and rewrites it if anything is to be removed.
func (s *Store) Compact(ctx context.Context, opts backends.Options) (rep report.Report, err error) {
	start := s.now()
	rep = report.Report{Store: s.cfg.Name, Backend: Backend, DryRun: opts.DryRun, Result: report.ResultOK}
	defer func() { rep.Finish(time.Since(start), err) }()
	fi, err := os.Lstat(s.cfg.Path)
	switch {
	case os.IsNotExist(err):
		rep.Warnings = append(rep.Warnings, "store file does not exist yet: nothing to compact")
		return rep, nil
	case err != nil:
		return rep, fmt.Errorf("stat %s: %w", s.cfg.Path, err)
	case fi.Mode()&os.ModeSymlink != 0:
		return rep, fmt.Errorf("%s is a symbolic link; configure the file it points to: %w", s.cfg.Path, ErrNotRegular)
	case !fi.Mode().IsRegular():
		return rep, fmt.Errorf("%s is a %s: %w", s.cfg.Path, kindOf(fi.Mode()), ErrNotRegular)
	}
	if busy := s.papyraActive(start); busy != "" {
		rep.Result, rep.Reason = report.ResultSkipped, "papyra_active"
		return rep, fmt.Errorf("%s is being written: %w", busy, ErrBusy)
	}
	if !opts.DryRun {
		lock, err := livefile.Acquire(s.cfg.Path)
		if err != nil {
			if errors.Is(err, livefile.ErrLocked) {
				rep.Result, rep.Reason = report.ResultSkipped, "locked"
			}
			return rep, err
		}
		defer lock.Release()
		rec, err := livefile.Recover(ctx, s.cfg.Path, s.cfg.Drain)
		rep.LinesAppended += int64(rec.ForwardedLines)
		if rec.Pending > 0 {
			rep.Warnings = append(rep.Warnings, pendingWarning(rec.Holders))
		}
		if err != nil {
			return rep, fmt.Errorf("recover earlier runs: %w", err)
		}
		if n := rec.RemovedTemps + rec.RolledBack; n > 0 {
			s.log.Info("removed leftovers of interrupted runs", zap.Int("files", rec.RemovedTemps), zap.Int("rolled_back", rec.RolledBack))
		}
		if err := s.recoverArchive(); err != nil {
			return rep, err
		}
	}
	rep, err = s.compact(ctx, opts, start, rep)
	if err == nil {
		backends.PruneArchive(&rep, s.cfg.Archive, s.cfg.Name, s.now())
	}
	return rep, err
}

// storeLost reports what the store has lost of an archive part, keyed by the file the run
// read (see archive.FileKey): everything once its path holds another file (the run's exchange
// happened), nothing otherwise.
func (s *Store) storeLost(p archive.Part) (archive.Keep, error) {
	k, ok, err := archive.PathKey(s.cfg.Path)
	if err != nil {
		return archive.Keep{}, err
	}
	return archive.Keep{Whole: !ok || k != p.Key}, nil
}

// recoverArchive publishes or removes the archives of runs that died; livefile.Recover has
// already finished or undone their commits.
func (s *Store) recoverArchive() error {
	if s.cfg.Archive == nil {
		return nil
	}
	rec, err := archive.Recover(*s.cfg.Archive, s.cfg.Name, s.storeLost)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.cfg.Name, err)
	}
	if len(rec.Published) > 0 || rec.Removed > 0 {
		s.log.Info("recovered the archives of interrupted runs", zap.Strings("published", rec.Published),
			zap.Int64("records", rec.Records), zap.Int("removed", rec.Removed))
	}
	return nil
}

func pendingWarning(hs []livefile.Holder) string {
	return fmt.Sprintf("the replaced file is still held open for writing by %v; its new lines are forwarded by later runs until it is reopened", hs)
}

func kindOf(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// Recover finishes or undoes what earlier runs left beside the store (journals of runs that
// died, forwards left pending by a writer that held a replaced file). It returns an error
// wrapping livefile.ErrLocked when a run holds the store: that run does the same.
func (s *Store) Recover(ctx context.Context) error {
	lock, err := livefile.Acquire(s.cfg.Path)
	if err != nil {
		return err
	}
	defer lock.Release()
	_, err = livefile.Recover(ctx, s.cfg.Path, s.cfg.Drain)
	return err
}

// papyraActive returns the name of a fresh Papyra compaction or recovery temp file, if any.
func (s *Store) papyraActive(now time.Time) string {
	for _, suffix := range []string{".compact.tmp", ".recovered.tmp"} {
		name := s.cfg.Path + suffix
		if fi, err := os.Lstat(name); err == nil && now.Sub(fi.ModTime()) < s.cfg.PapyraActivity {
			return name
		}
	}
	return ""
}

// pass is one compaction run's state once the store is open.
type pass struct {
	s      *Store
	f      *os.File
	size   int64
	stale  bool
	start  time.Time
	dry    bool
	runID  string
	rw     *livefile.Rewrite // created at the first line that is not kept
	q      *quarantine.File
	arch   *archive.Writer // nil when the store has no archive, and in a dry run
	key    string          // the archive part's key
	begun  bool            // the archive part has begun (at the first dropped record)
	prog   func(string, int64, int64)
	lines  int64
	counts retention.Counts
	// reserve asks the disk guard for room; bound is the most the run will write.
	reserve func(path string, bytes int64) (func(), error)
	bound   int64
	release func()
}

func (s *Store) compact(ctx context.Context, opts backends.Options, start time.Time, rep report.Report) (report.Report, error) {
	f, err := os.OpenFile(s.cfg.Path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return rep, fmt.Errorf("open %s: %w", s.cfg.Path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return rep, fmt.Errorf("stat %s: %w", s.cfg.Path, err)
	}
	p := &pass{
		s: s, f: f, size: fi.Size(), start: start, dry: opts.DryRun, prog: opts.Progress,
		stale: start.Sub(fi.ModTime()) >= s.cfg.Grace,
		runID: livefile.NewRunID(), reserve: opts.ReserveSpace, release: func() {},
	}
	defer func() { p.release() }()
	p.q = quarantine.New(s.cfg.Quarantine, s.cfg.Name, s.cfg.Path, p.runID, start)
	defer p.q.Discard()
	if s.cfg.Archive != nil && !opts.DryRun {
		if p.key, err = archive.FileKey(f); err != nil {
			return rep, err
		}
		p.arch = archive.NewWriter(*s.cfg.Archive, s.cfg.Name, p.runID, start)
		defer p.arch.Discard()
	}
	defer func() {
		if p.rw != nil {
			p.rw.Abort()
		}
	}()
	rep.BytesBefore = p.size
	pl := retention.NewPlanner(s.cfg.Policy, start)
	var carryOff int64
	if pl.Streaming() {
		carryOff, err = p.onePass(ctx, pl)
	} else {
		carryOff, err = p.twoPasses(ctx, pl)
	}
	if err != nil {
		return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
	}
	s.log.Debug("store read", zap.Duration("elapsed", time.Since(start)), zap.Bool("one_pass", pl.Streaming()))
	c := p.counts
	backends.SetCounts(&rep, c)
	if rep.RecordsDropped == 0 && c.NonRecords == 0 && c.Blanks == 0 {
		rep.BytesAfter = p.size
		return rep, nil
	}
	rep.FilesRewritten = 1
	rep.LargestWrite = c.KeptBytes + (p.size - carryOff)
	if p.dry {
		rep.BytesAfter = c.KeptBytes + (p.size - carryOff)
		if s.cfg.Archive != nil {
			rep.RecordsArchived = rep.RecordsDropped
		}
		return rep, nil
	}
	rep.RunID = p.runID
	return p.commit(ctx, carryOff, rep)
}

// onePass compacts in a single read when retention decides each line as it comes (no count or
// size limit): kept lines are written as they are classified.
func (p *pass) onePass(ctx context.Context, pl *retention.Planner) (int64, error) {
	pl.Forget()
	p.bound = p.size // what is kept is not known yet: at most the whole file
	r := io.NewSectionReader(p.f, 0, p.size)
	end, err := classify.Stream(ctx, r, 0, p.stale, !p.stale, false, func(l *ndjson.Line) error {
		pl.Add(l.Class, l.Len)
		return p.apply(l, pl.Last())
	})
	p.counts = pl.Finish().Counts()
	return end, err
}

// twoPasses plans the whole store first (count and size limits keep the newest records, which
// are known only at the end), then writes.
func (p *pass) twoPasses(ctx context.Context, pl *retention.Planner) (int64, error) {
	r := io.NewSectionReader(p.f, 0, p.size)
	end, err := classify.Stream(ctx, r, 0, p.stale, !p.stale, p.s.cfg.Policy.NeedsRepr(), func(l *ndjson.Line) error {
		pl.Add(l.Class, l.Len)
		return p.progress("plan", l.Off)
	})
	if err != nil {
		return 0, err
	}
	plan := pl.Finish()
	p.counts = plan.Counts()
	c := p.counts
	if c.DroppedAge+c.DroppedCount+c.DroppedBytes+c.NonRecords+c.Blanks == 0 {
		return end, nil
	}
	p.bound = c.KeptBytes + (p.size - end)
	sc := ndjson.NewScanner(io.NewSectionReader(p.f, 0, end), 0, 1<<20, ndjson.DefaultMaxLine)
	sc.FinalCR = p.stale
	n := plan.Len()
	for i := 0; ; i++ {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			if i != n {
				return 0, fmt.Errorf("the store changed under the run: %d lines on the second pass, %d on the first", i, n)
			}
			return end, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read: %w", err)
		}
		if i >= n {
			return 0, fmt.Errorf("the store changed under the run: more lines on the second pass than the %d of the first", n)
		}
		d := plan.Decision(i)
		if d == retention.NonRecordLine {
			line.Class = classify.Line(&line, false)
		}
		if err := p.apply(&line, d); err != nil {
			return 0, err
		}
	}
}

// apply carries out one line's decision: kept lines go to the temp file (created at the first
// line that is not kept, with everything before it copied as is), non-records to quarantine.
func (p *pass) apply(l *ndjson.Line, d retention.Decision) error {
	if err := p.progress("compact", l.Off); err != nil {
		return err
	}
	if p.dry {
		return nil
	}
	if d != retention.Keep && p.rw == nil {
		release, err := p.reserve(p.s.cfg.Path, p.bound)
		if err != nil {
			return err
		}
		p.release = release
		rw, err := livefile.Begin(p.s.cfg.Path, p.f, p.runID)
		if err != nil {
			return err
		}
		p.rw = rw
		if _, err := io.Copy(rw, io.NewSectionReader(p.f, 0, l.Off)); err != nil {
			return err
		}
	}
	switch d {
	case retention.Keep:
		if p.rw != nil {
			_, err := p.rw.Write(l.Raw)
			return err
		}
	case retention.DropAge, retention.DropCount, retention.DropBytes:
		if p.arch != nil {
			if !p.begun {
				if err := p.arch.Begin(p.key); err != nil {
					return err
				}
				p.begun = true
			}
			return p.arch.Write(l.Raw)
		}
	case retention.NonRecordLine:
		if l.Oversize {
			return p.q.AddStream(io.NewSectionReader(p.f, l.Off, l.Len-int64(l.Term)), l.Off, l.Class.Reason)
		}
		return p.q.Add(l.Data(), l.Off, l.Class.Reason)
	}
	return nil
}

func (p *pass) progress(phase string, off int64) error {
	if p.lines++; p.lines%65536 == 0 && p.prog != nil {
		p.prog(phase, off, p.size)
	}
	return nil
}

// commit carries over what the application appended since the snapshot, replaces the store
// and drains the old inode.
func (p *pass) commit(ctx context.Context, carryOff int64, rep report.Report) (report.Report, error) {
	s, rw := p.s, p.rw
	// Each round copies what arrived during the previous one; stop when a round brings
	// little, so that the commit leaves as little as possible to forward.
	copied := carryOff
	for round := 0; round < 8; round++ {
		next, err := rw.CatchUp(ctx, copied)
		if err != nil {
			return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
		}
		grew := next - copied
		copied = next
		if grew < 64<<10 {
			break
		}
	}
	pending, final, err := p.q.Close()
	if err != nil {
		return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
	}
	if pending != "" {
		rw.AddSidecar(livefile.Sidecar{Pending: pending, Final: final})
		rep.QuarantineFile = final
	}
	if p.arch != nil {
		// Every dropped record is durable in the archive before the store changes.
		if err := p.arch.Seal(); err != nil {
			return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
		}
	}
	s.log.Debug("caught up", zap.Duration("elapsed", time.Since(p.start)), zap.Int64("carried_lines", rw.CarriedLines()))
	err = rw.Commit(ctx, copied)
	if p.arch != nil {
		// Whether or not the commit went through, the store says what it lost.
		final, n, perr := p.arch.Publish(s.storeLost)
		rep.ArchiveFile, rep.RecordsArchived = final, n
		if perr != nil {
			// Sealed and durable: the next run's recovery publishes it.
			rep.Warnings = append(rep.Warnings, "the run's archive is not published yet: "+perr.Error())
		}
	}
	if err != nil {
		return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
	}
	s.log.Debug("committed", zap.Duration("elapsed", time.Since(p.start)))
	rep.BytesAfter = rw.Written()
	rep.LinesAppended += rw.CarriedLines()
	// The drain is not cut short by a stop: it is bounded by its own timeout, and stopping it
	// would hold back lines the application wrote into the replaced file until the next run.
	dr, err := rw.Drain(context.WithoutCancel(ctx), s.cfg.Drain)
	s.log.Debug("drained", zap.Duration("elapsed", time.Since(p.start)), zap.Int("forwarded_lines", dr.ForwardedLines), zap.Bool("pending", dr.Pending))
	rep.LinesAppended += int64(dr.ForwardedLines)
	rep.BytesAfter += dr.ForwardedBytes
	if dr.Pending {
		rep.Warnings = append(rep.Warnings, pendingWarning(dr.Holders))
	}
	if err != nil {
		// The store is committed and whole; what is left is recorded in the journal.
		rep.Warnings = append(rep.Warnings, "draining the replaced file was interrupted: "+err.Error())
		if ctx.Err() == nil {
			return rep, fmt.Errorf("compact %s: drain: %w", s.cfg.Path, err)
		}
	}
	return rep, nil
}
