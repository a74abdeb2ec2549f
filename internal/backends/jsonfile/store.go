package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends"
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
	// PapyraActivity is how recent Papyra's own *.compact.tmp / *.recovered.tmp must be for the
	// store to count as busy; 10 minutes if zero.
	PapyraActivity time.Duration
}

// Store compacts and scans one json store.
type Store struct {
	cfg Config
	log *zap.Logger
	now func() time.Time
}

// New returns a Store. now is the clock (time.Now in production).
func New(cfg Config, log *zap.Logger, now func() time.Time) *Store {
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
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
	defer func() {
		rep.Duration = time.Since(start).Seconds()
		if err != nil {
			rep.Result, rep.Error = report.ResultError, err.Error()
		}
	}()
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
	}
	return s.compact(ctx, opts, start, rep)
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

// snapshot is what the first pass learned about the store.
type snapshot struct {
	size     int64 // size when the run opened it
	end      int64 // the classified prefix [0, end)
	carryOff int64 // where carrying over appended lines starts
	plan     *retention.Plan
	finalCR  bool // the store was stale: a "\r" at its end ends a line
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
	snap, err := s.classify(ctx, f, fi, start, opts.Progress)
	if err != nil {
		return rep, err
	}
	c := snap.plan.Counts()
	rep.BytesBefore = snap.size
	rep.RecordsBefore = c.Records
	rep.RecordsAfter = c.Kept
	rep.RecordsDropped = c.DroppedAge + c.DroppedCount + c.DroppedBytes
	rep.DroppedByAge, rep.DroppedByCount, rep.DroppedByBytes = c.DroppedAge, c.DroppedCount, c.DroppedBytes
	rep.RecordsQuarantined = c.NonRecords
	rep.BlankLines = c.Blanks
	if rep.RecordsDropped == 0 && c.NonRecords == 0 && c.Blanks == 0 {
		rep.BytesAfter = snap.size
		return rep, nil
	}
	if opts.DryRun {
		rep.BytesAfter = c.KeptBytes + (snap.size - snap.carryOff)
		rep.FilesRewritten = 1
		return rep, nil
	}
	runID := livefile.NewRunID()
	rep.RunID = runID
	rw, err := livefile.Begin(s.cfg.Path, f, runID)
	if err != nil {
		return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
	}
	defer rw.Abort()
	q := quarantine.New(s.cfg.Quarantine, s.cfg.Name, s.cfg.Path, runID, start)
	defer q.Discard()
	if err := s.rewrite(ctx, f, snap, rw, q, opts.Progress); err != nil {
		return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
	}
	// Carry over what the application appended since the snapshot. Each round copies what
	// arrived during the previous one; stop when a round brings little, so the commit
	// happens with as little as possible left to forward.
	copied := snap.carryOff
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
	pending, final, err := q.Close()
	if err != nil {
		return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
	}
	if pending != "" {
		rw.AddSidecar(livefile.Sidecar{Pending: pending, Final: final})
		rep.QuarantineFile = final
	}
	if err := rw.Commit(ctx, copied); err != nil {
		return rep, fmt.Errorf("compact %s: %w", s.cfg.Path, err)
	}
	rep.FilesRewritten = 1
	rep.BytesAfter = rw.Written()
	rep.LinesAppended += rw.CarriedLines()
	dr, err := rw.Drain(ctx, s.cfg.Drain)
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

// classify is the first pass: it classifies every line of the snapshot and plans retention.
func (s *Store) classify(ctx context.Context, f *os.File, fi os.FileInfo, now time.Time, progress func(string, int64, int64)) (*snapshot, error) {
	size := fi.Size()
	stale := now.Sub(fi.ModTime()) >= s.cfg.Grace
	sc := ndjson.NewScanner(io.NewSectionReader(f, 0, size), 0, 1<<20, ndjson.DefaultMaxLine)
	sc.FinalCR = stale
	pl := retention.NewPlanner(s.cfg.Policy, now)
	wantRepr := s.cfg.Policy.NeedsRepr()
	snap := &snapshot{size: size, end: size, carryOff: size, finalCR: stale}
	var n int
	for {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.cfg.Path, err)
		}
		if !line.Terminated && !stale {
			// A write in progress: leave it for the carry-over.
			snap.end, snap.carryOff = line.Off, line.Off
			break
		}
		pl.Add(classifyLine(line, wantRepr), line.Len)
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if progress != nil {
				progress("scan", line.Off, size)
			}
		}
	}
	snap.plan = pl.Finish()
	return snap, nil
}

// classifyLine turns a scanned line into the retention engine's view of it.
func classifyLine(line ndjson.Line, wantRepr bool) retention.Line {
	switch {
	case line.Oversize:
		return retention.Line{Kind: retention.NonRecord, Reason: fmt.Sprintf("line of %d bytes is longer than %d", line.Len, ndjson.DefaultMaxLine)}
	case !line.Terminated:
		l := retention.Classify(line.Data, false)
		if l.Kind == retention.Blank {
			return l
		}
		return retention.Line{Kind: retention.NonRecord, Reason: "unterminated last line left by an interrupted write"}
	}
	return retention.Classify(line.Data, wantRepr)
}

// rewrite is the second pass over [0, snap.end): kept lines to the temp file, non-records to
// quarantine.
func (s *Store) rewrite(ctx context.Context, f *os.File, snap *snapshot, w io.Writer, q *quarantine.File, progress func(string, int64, int64)) error {
	sc := ndjson.NewScanner(io.NewSectionReader(f, 0, snap.end), 0, 1<<20, ndjson.DefaultMaxLine)
	sc.FinalCR = snap.finalCR
	n := snap.plan.Len()
	for i := 0; ; i++ {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			if i != n {
				return fmt.Errorf("the store changed under the run: %d lines on the second pass, %d on the first", i, n)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if i >= n {
			return fmt.Errorf("the store changed under the run: more lines on the second pass than the %d of the first", n)
		}
		switch snap.plan.Decision(i) {
		case retention.Keep:
			if _, err := w.Write(line.Raw); err != nil {
				return err
			}
		case retention.NonRecordLine:
			if err := s.quarantineLine(f, line, q); err != nil {
				return err
			}
		}
		if i%65536 == 65535 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress("rewrite", line.Off, snap.end)
			}
		}
	}
}

func (s *Store) quarantineLine(f *os.File, line ndjson.Line, q *quarantine.File) error {
	if line.Oversize {
		return q.AddStream(io.NewSectionReader(f, line.Off, line.Len), line.Off, classifyLine(line, false).Reason)
	}
	return q.Add(line.Data, line.Off, classifyLine(line, false).Reason)
}
