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
	"github.com/papyrad/papyrad/internal/backends/filerun"
	"github.com/papyrad/papyrad/internal/bufpool"
	"github.com/papyrad/papyrad/internal/classify"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/quarantine"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
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
	// AllowHardLinks lets a run compact the file when it has more than one name.
	AllowHardLinks bool
	// MissingOK makes a missing file nothing to do instead of an error.
	MissingOK bool
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

// files is the store as the file-run skeleton sees it.
func (s *Store) files() *filerun.Runner {
	return filerun.New(filerun.Config{
		Name: s.cfg.Name, Kind: Backend, Path: s.cfg.Path, OneFile: true,
		PapyraTemps: papyraTemps(s.cfg.Path), PapyraActivity: s.cfg.PapyraActivity,
		Drain: s.cfg.Drain, AllowHardLinks: s.cfg.AllowHardLinks, MissingOK: s.cfg.MissingOK,
		Quarantine: s.cfg.Quarantine, Archive: s.cfg.Archive, Log: s.log, Now: s.now,
	}, backend{s})
}

// papyraTemps are the temp files of Papyra's own compaction and recovery of the store at path.
func papyraTemps(path string) []string {
	return []string{path + ".compact.tmp", path + ".recovered.tmp"}
}

// backend is what the json store adds to the file-run skeleton.
type backend struct{ s *Store }

// Recover finishes or undoes earlier runs' replacements of the store file.
func (b backend) Recover(ctx context.Context, rec *filerun.Recovery) error {
	return rec.LiveFile(ctx, b.s.cfg.Path)
}

// Lost says what the store has lost of an archive part (see storeLost).
func (b backend) Lost() func(archive.Part) (archive.Keep, error) { return b.s.storeLost }

// Run compacts the store.
func (b backend) Run(ctx context.Context, run *filerun.Run) error { return b.s.compact(ctx, run) }

// Compact runs retention over the store and rewrites it if anything is to be removed.
func (s *Store) Compact(ctx context.Context, opts backends.Options) (report.Report, error) {
	return s.files().Compact(ctx, opts)
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

// Recover finishes or undoes what earlier runs left beside the store (journals of runs that
// died, forwards left pending by a writer that held a replaced file). It returns an error
// wrapping errs.ErrLocked when a run holds the store: that run does the same.
func (s *Store) Recover(ctx context.Context) error { return s.files().Recover(ctx) }

// Forward forwards, once, what writers add to replaced files earlier runs left pending, and
// returns how many still are (see filerun.Runner.Forward).
func (s *Store) Forward(ctx context.Context) (int, error) { return s.files().Forward(ctx) }

// pass is one compaction run's state once the store is open.
type pass struct {
	s      *Store
	run    *filerun.Run
	f      *os.File
	size   int64
	stale  bool
	rw     *livefile.Rewrite // created at the first line that is not kept
	q      *quarantine.File
	arch   *archive.Writer // nil when the store has no archive, and in a dry run
	key    string          // the archive part's key
	begun  bool            // the archive part has begun (at the first dropped record)
	lines  int64
	counts retention.Counts
	// bound is the most the run will write; release gives back the room reserved for it.
	bound   int64
	release func()
}

func (s *Store) compact(ctx context.Context, run *filerun.Run) error {
	rep, start := run.Report, run.Start
	f, err := os.OpenFile(s.cfg.Path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return errs.Wrap("open", s.cfg.Path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return errs.Wrap("stat", s.cfg.Path, err)
	}
	if err := run.CheckLinks(s.cfg.Path, fi); err != nil {
		return err
	}
	p := &pass{
		s: s, run: run, f: f, size: fi.Size(), release: func() {},
		stale: start.Sub(fi.ModTime()) >= s.cfg.Grace,
	}
	defer func() { p.release() }()
	p.q = run.NewQuarantine()
	defer p.q.Discard()
	if p.arch = run.NewArchive(); p.arch != nil {
		defer p.arch.Discard()
		if p.key, err = archive.FileKey(f); err != nil {
			return err
		}
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
		return errs.Wrap("compact", s.cfg.Path, err)
	}
	s.log.Debug("store read", zap.Duration("elapsed", time.Since(start)), zap.Bool("one_pass", pl.Streaming()))
	c := p.counts
	backends.SetCounts(rep, c)
	if rep.RecordsDropped == 0 && c.NonRecords == 0 && c.Blanks == 0 {
		rep.BytesAfter = p.size
		return nil
	}
	rep.FilesRewritten = 1
	rep.LargestWrite = c.KeptBytes + (p.size - carryOff)
	if run.DryRun() {
		rep.BytesAfter = c.KeptBytes + (p.size - carryOff)
		if s.cfg.Archive != nil {
			rep.RecordsArchived = rep.RecordsDropped
		}
		return nil
	}
	rep.RunID = run.ID
	return p.commit(ctx, carryOff)
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
	sc := ndjson.NewScannerBuffer(io.NewSectionReader(p.f, 0, end), 0, bufpool.Get(), ndjson.DefaultMaxLine)
	defer func() { bufpool.Put(sc.Buffer()) }()
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
	if p.run.DryRun() {
		return nil
	}
	if d != retention.Keep && p.rw == nil {
		release, err := p.run.Opts.ReserveSpace(p.s.cfg.Path, p.bound)
		if err != nil {
			return err
		}
		p.release = release
		rw, err := livefile.Begin(p.s.cfg.Path, p.f, p.run.ID)
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
	// At the first line too, so that a display starts with the phase and measures its rate
	// from there.
	if p.lines++; (p.lines == 1 || p.lines%65536 == 0) && p.run.Opts.Progress != nil {
		p.run.Opts.Progress(phase, off, p.size)
	}
	return nil
}

// commit replaces the store through livefile, carrying over what the application appended
// since the snapshot: the quarantine file goes in as a sidecar and the archive is sealed
// before the commit, and the archive is published right after it, whatever its outcome.
func (p *pass) commit(ctx context.Context, carryOff int64) error {
	s, rw, rep := p.s, p.rw, p.run.Report
	beforeCommit := func() error {
		pending, final, err := p.q.Close()
		if err != nil {
			return err
		}
		if pending != "" {
			rw.AddSidecar(livefile.Sidecar{Pending: pending, Final: final})
			rep.QuarantineFile = final
		}
		if p.arch != nil {
			// Every dropped record is durable in the archive before the store changes.
			if err := p.arch.Seal(ctx); err != nil {
				return err
			}
		}
		s.log.Debug("caught up", zap.Duration("elapsed", time.Since(p.run.Start)), zap.Int64("carried_lines", rw.CarriedLines()))
		return nil
	}
	afterCommit := func(err error) {
		if p.arch != nil {
			// Whether or not the commit went through, the store says what it lost.
			p.run.PublishArchive(context.WithoutCancel(ctx), p.arch)
		}
		if err == nil {
			s.log.Debug("committed", zap.Duration("elapsed", time.Since(p.run.Start)))
		}
	}
	res, err := p.run.Replace(ctx, rw, carryOff, s.cfg.Path, beforeCommit, afterCommit)
	if res.Committed {
		rep.BytesAfter = rw.Written() + res.Drain.ForwardedBytes
		s.log.Debug("drained", zap.Duration("elapsed", time.Since(p.run.Start)), zap.Int("forwarded_lines", res.Drain.ForwardedLines), zap.Bool("pending", res.Drain.Pending))
	}
	return err
}
