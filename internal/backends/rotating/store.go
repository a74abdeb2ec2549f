package rotating

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Backend is the name of this store kind in configs and reports.
const Backend = "rotating"

// Config describes one rotating store.
type Config struct {
	Name string
	// Path is the active file (suffix naming) or the name the sequence is derived from
	// (events.ndjson → events-0001.ndjson, ...).
	Path       string
	Naming     Naming
	MaxFiles   int // suffix naming: active file plus rotated segments
	Policy     retention.Policy
	Grace      time.Duration // partial-line grace for the active file; 10s if zero
	Drain      livefile.DrainOptions
	Quarantine string
	// Archive, if set, receives the records a run drops before they leave the set.
	Archive *archive.Config
	// Summaries is the file where what runs learn about rotated segments is kept (in the
	// state directory); "" keeps nothing, and every run reads the whole set.
	Summaries string
	// PapyraActivity is how recent a temp file of Papyra's own compaction or recovery of any
	// file of the set (<file>.compact.tmp, <file>.recovered.tmp) must be for the store to count
	// as busy; 10 minutes if zero.
	PapyraActivity time.Duration
	// AllowHardLinks lets a run compact files of the set that have more than one name.
	AllowHardLinks bool
	// MissingOK makes a set with no file (or no directory) nothing to do instead of an error.
	MissingOK bool
}

// Store compacts and scans one rotating store.
type Store struct {
	cfg     Config
	l       layout
	log     *zap.Logger
	now     func() time.Time
	traffic activity.Counter
}

// Activity returns the running count of lines and bytes the application has appended to the
// active file since papyrad first looked, for the daemon's traffic check.
func (s *Store) Activity(ctx context.Context) (records, bytes uint64, err error) {
	active := s.cfg.Path
	if s.cfg.Naming == Sequence {
		ms, _, err := s.l.members()
		if err != nil {
			return 0, 0, err
		}
		if len(ms) > 0 {
			active = ms[len(ms)-1].name
		}
	}
	return s.traffic.Observe(active)
}

// New returns a Store. now is the clock (time.Now in production).
func New(cfg Config, log *zap.Logger, now func() time.Time) *Store {
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Drain.Grace <= 0 {
		cfg.Drain.Grace = cfg.Grace
	}
	if cfg.Naming == "" {
		cfg.Naming = Suffix
	}
	if cfg.MaxFiles < 2 {
		cfg.MaxFiles = 5
	}
	if cfg.PapyraActivity <= 0 {
		cfg.PapyraActivity = 10 * time.Minute
	}
	l := layout{path: cfg.Path, naming: cfg.Naming, maxFiles: cfg.MaxFiles}
	if cfg.Drain.Locate == nil {
		// Lines forwarded into the active file may have been rotated into a segment since.
		cfg.Drain.Locate = func(ino uint64) (string, bool) {
			m, found, err := l.nameOf(ino)
			return m.name, err == nil && found
		}
	}
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	return &Store{cfg: cfg, l: l, log: log.With(zap.String("store", cfg.Name)), now: now}
}

// files is the store as the file-run skeleton sees it, with the temp files of Papyra's own
// compaction and recovery that are beside the set now.
func (s *Store) files() *filerun.Runner {
	return filerun.New(filerun.Config{
		Name: s.cfg.Name, Kind: Backend, Path: s.cfg.Path,
		PapyraTemps: s.l.papyraTemps(), PapyraActivity: s.cfg.PapyraActivity,
		Drain: s.cfg.Drain, AllowHardLinks: s.cfg.AllowHardLinks,
		Present: s.l.present, MissingOK: s.cfg.MissingOK,
		Quarantine: s.cfg.Quarantine, Archive: s.cfg.Archive, Log: s.log, Now: s.now,
	}, backend{s})
}

// backend is what the rotating store adds to the file-run skeleton.
type backend struct{ s *Store }

// Recover finishes or undoes the segment steps earlier runs journaled, then their
// replacements of active files: the one file with suffix naming; with sequence naming, any
// file of the set may have been the active one.
func (b backend) Recover(ctx context.Context, rec *filerun.Recovery) error {
	s := b.s
	if err := s.l.recoverOps(); err != nil {
		return err
	}
	names := []string{s.cfg.Path}
	if s.cfg.Naming == Sequence {
		ms, _, err := s.l.members()
		if err != nil {
			return err
		}
		for _, m := range ms {
			names = append(names, m.name)
		}
	}
	for _, n := range names {
		if err := rec.LiveFile(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// Lost says what the set has lost of archive parts (see setLost).
func (b backend) Lost() func(archive.Part) (archive.Keep, error) { return b.s.setLost() }

// Run compacts the set.
func (b backend) Run(ctx context.Context, run *filerun.Run) error { return b.s.compact(ctx, run) }

// action is what a run does to one segment.
type action int

const (
	untouched action = iota
	rewrite          // some lines go: write the rest to a temp file and swap it in
	remove           // every line goes and the name may go (see layout.mayVanish): delete the file
	empty            // every line goes but the name stays: swap an empty file in
)

// segPlan is one segment's share of the set's retention plan.
type segPlan struct {
	seg    *segment
	lo, hi int   // its lines in the plan
	end    int64 // where its classified lines end (a write in progress may follow)
	stale  bool
	counts retention.Counts
	act    action
	kept   int64    // stored bytes kept
	sum    *summary // what the segment holds, when it is a rotated segment read whole or known
	known  bool     // decided from a summary, without reading
	built  bool     // sum's blocks are of the very bytes read: made by this run, or checksummed
	// spans, when the segment's summary settles part of it, are its parts in order, the lines
	// of read ones being [lo, hi) of the plan; nil when the segment is read whole.
	spans []span
	// survivors are the lines read that passed the age rule, and survived their stored
	// bytes: the records the plan keeps are the newest of every segment's survivors.
	survivors, survived int64
}

// Compact applies retention across the whole set, oldest segment first, then changes only the
// segments that hold something to remove.
func (s *Store) Compact(ctx context.Context, opts backends.Options) (report.Report, error) {
	return s.files().Compact(ctx, opts)
}

func (s *Store) compact(ctx context.Context, fr *filerun.Run) error {
	rep := fr.Report
	segs, _, err := s.l.open()
	if err != nil {
		return err
	}
	defer func() {
		for _, sg := range segs {
			sg.f.Close() // a second Close, of those execute closed, does nothing
		}
	}()
	for _, sg := range segs {
		if err := fr.CheckLinks(sg.name, sg.fi); err != nil {
			return err
		}
	}
	plans, plan, cache, err := s.plan(ctx, segs, fr.Start, fr.DryRun(), fr.Opts.Progress)
	if err != nil {
		return err
	}
	var rewritten []*summary // of the segments the run rewrote
	defer func() {
		var err error
		if fr.DryRun() {
			_, err = cache.saveUnlessNewer(cache.keep, fr.TryLock)
		} else {
			err = cache.save(append(cache.keep, rewritten...))
		}
		if err != nil {
			s.log.Warn("could not keep segment summaries; the next run reads the whole set", zap.Error(err))
		}
	}()
	var total retention.Counts
	for _, p := range plans {
		rep.BytesBefore += p.seg.size
		total.Add(p.counts)
		switch p.act {
		case remove:
			rep.FilesDeleted++
		case empty:
			rep.FilesRewritten++ // the file is replaced, its name stays
		case rewrite:
			rep.FilesRewritten++
			// The active file also carries what is appended during the run.
			rep.LargestWrite = max(rep.LargestWrite, p.kept+(p.seg.size-p.end))
		}
	}
	total.MergeOldest(plan.Counts()) // the per-segment counts of segments read carry no timestamps
	backends.SetCounts(rep, total)
	if fr.DryRun() && s.cfg.Archive != nil {
		rep.RecordsArchived = rep.RecordsDropped
	}
	rep.BytesAfter = rep.BytesBefore
	if fr.DryRun() || rep.FilesDeleted+rep.FilesRewritten == 0 {
		for _, p := range plans {
			switch p.act {
			case remove, empty:
				rep.BytesAfter -= p.seg.size
			case rewrite:
				rep.BytesAfter -= p.end - p.kept
			}
		}
		return nil
	}
	if rep.LargestWrite > 0 {
		release, err := fr.Opts.ReserveSpace(s.cfg.Path, rep.LargestWrite)
		if err != nil {
			return err
		}
		defer release()
	}
	r := &run{Run: fr, s: s, plan: plan, q: fr.NewQuarantine(), arch: fr.NewArchive()}
	defer r.cleanup()
	rep.RunID = r.ID
	err = r.execute(ctx, plans)
	rewritten = r.summaries
	return err
}

// plan classifies the set, oldest segment first, through one retention planner, and decides
// what to do with each segment. A rotated segment whose summary settles it is not read. The
// summaries it returns keep those of the segments that stay as they are.
func (s *Store) plan(ctx context.Context, segs []*segment, now time.Time, dryRun bool, report func(string, int64, int64)) ([]*segPlan, *retention.Plan, *summaries, error) {
	pol := s.cfg.Policy
	pl := retention.NewPlanner(pol, now)
	cache := loadSummaries(s.cfg.Summaries, s.log)
	cutoff := pol.Cutoff(now)
	wantRepr := pol.NeedsRepr()
	var plans []*segPlan
	lines := 0 // the lines planned so far
	var classified, total int64
	for _, sg := range segs {
		total += sg.size
	}
	prog := newProgress(report, "plan", total)
	// The checksum of the active file's summarised bytes is checked while the rotated
	// segments are planned.
	activePrefix := make(chan *summary, 1)
	for _, sg := range segs {
		if sg.active {
			go func() {
				sum, _ := cache.lookupPrefix(sg.fi, sg.f)
				activePrefix <- sum
			}()
		}
	}
	for _, sg := range segs {
		stale := !sg.active || now.Sub(sg.fi.ModTime()) >= s.cfg.Grace
		p := &segPlan{seg: sg, lo: lines, stale: stale}
		plans = append(plans, p)
		// build is the summary this read makes: of a rotated segment read whole, or of a
		// file from its first byte to its last line read.
		var build *summary
		// fromPrefix plans the file from the summary of its first bytes, sum, and reads the
		// lines after them.
		fromPrefix := func(sum *summary) {
			if spans, ok := sum.prefixSpans(pol, cutoff); ok {
				build = sum.extend()
				p.spans = append(spans, span{off: sum.Size, len: sg.size - sum.Size, act: read, tail: true})
			}
		}
		if sg.active {
			if sum := <-activePrefix; sum != nil {
				fromPrefix(sum)
			}
			if build == nil {
				build = newPrefix(sg.fi)
			}
			p.sum = build
		} else {
			if sum, ok := cache.lookup(sg.fi, sg.born); ok {
				if a, ok := sum.decide(pol, cutoff); ok {
					p.hi, p.end, p.act, p.known, p.sum = p.lo, sg.size, a, true, sum
					p.counts = sum.counts(a)
					prog.done(sg.size)
					continue
				}
				if spans, ok := sum.spans(pol, cutoff); ok {
					if agrees(sg.f, spans) {
						p.spans, p.sum = spans, sum
					} else {
						s.log.Warn("a segment summary does not match the lines of its segment; the segment is read",
							zap.String("file", sg.name))
					}
				}
			} else if sum, ok := cache.lookupPrefix(sg.fi, sg.f); ok {
				// The segment was the active file when its first bytes were summarised.
				fromPrefix(sum)
				p.sum, p.built = build, true // its blocks are of the very bytes it holds
			}
			if p.sum == nil {
				build = newSummary(sg.fi, sg.born)
				p.sum, p.built = build, true
			}
		}
		add := func(l *ndjson.Line) error {
			prog.at(l.Off + l.Len)
			classified += l.Len
			pl.Add(l.Class, l.Len)
			lines++
			if pl.Last() == retention.Keep {
				p.survivors++
				p.survived += l.Len
			}
			switch {
			case build == nil:
			case build.Prefix:
				if l.Off == build.end() { // not a line of the prefix read again
					build.addLine(l)
				}
			default:
				build.add(&l.Class, l.Len)
			}
			return nil
		}
		if p.spans == nil {
			end, err := classify.Stream(ctx, io.NewSectionReader(sg.f, 0, sg.size), 0, stale, !stale, wantRepr, add)
			if err != nil {
				return nil, nil, nil, errs.Wrap("read", sg.name, err)
			}
			p.hi, p.end = lines, end
			prog.done(sg.size)
			continue
		}
		p.end = sg.size
		for k := range p.spans {
			sp := &p.spans[k]
			if sp.act != read {
				continue
			}
			from := lines
			// A block before the tail ends where a line ended when it was summarised: a "\r"
			// there ends a line, whatever the file's freshness says of its own last byte.
			finalCR, stopAtPartial := stale || !sp.tail, !stale && sp.tail
			end, err := classify.Stream(ctx, io.NewSectionReader(sg.f, sp.off, sp.len), sp.off, finalCR, stopAtPartial, wantRepr, add)
			if err != nil {
				return nil, nil, nil, errs.Wrap("read", sg.name, err)
			}
			sp.lines = lines - from
			if sp.tail {
				p.end = max(end, sp.off)
			} else if int64(sp.lines) != sp.tally.Lines {
				return nil, nil, nil, fmt.Errorf("%s changed under the run: %d lines at %d, %d a moment before", sg.name, sp.lines, sp.off, sp.tally.Lines)
			}
		}
		p.hi = lines
		prog.done(sg.size)
		if !sg.active && build != nil && build.Prefix {
			if build.Size != sg.size {
				p.sum = nil // the segment changed while it was read
			} else {
				build.rotated(sg.fi, sg.born) // it describes the segment whole now
			}
		}
	}
	plan := pl.Finish()
	keptRecords := keptOfSurvivors(plans, plan.Counts())
	var keep []*summary
	for k, p := range plans {
		if !p.known {
			p.counts = segmentCounts(plan, p.lo, p.hi)
			if p.counts.Kept != keptRecords[k] {
				return nil, nil, nil, fmt.Errorf("%s: the plan keeps %d of its records, %d by the newest survivors", p.seg.name, p.counts.Kept, keptRecords[k])
			}
			for _, sp := range p.spans {
				if sp.act != read {
					p.counts.Add(sp.tally.counts(sp.act))
				}
				if sp.act == untouched {
					p.kept += sp.len
				}
			}
			switch {
			case p.counts.Lines == p.counts.Kept:
				p.act = untouched
			case p.counts.Kept == 0 && !p.seg.active:
				p.act = remove
			default:
				p.act = rewrite
			}
		}
		p.act = s.l.keepNames(p.seg, p.act)
		// Summaries of segments that stay as they are: all of them on a dry run.
		if p.sum != nil && (p.act == untouched || dryRun) && p.sum.complete() {
			keep = append(keep, p.sum)
		}
	}
	s.log.Debug("planned", zap.Int("segments", len(plans)), zap.Int("decided_from_summaries", decided(plans)),
		zap.Int64("bytes_classified", classified))
	cache.keep = keep
	return plans, plan, cache, nil
}

// agrees reports whether the segment in f agrees with the spans its summary makes of it: every
// span but the first starts where a line starts, and every span to be read holds the lines
// the summary counts. The summary matched the file's size and mtime; this is what a run
// checks before it relies on the summary's blocks for where lines are.
func agrees(f *os.File, spans []span) bool {
	var b [2]byte
	for k, sp := range spans {
		if k > 0 {
			if _, err := f.ReadAt(b[:], sp.off-1); err != nil {
				return false
			}
			if b[0] != '\n' && (b[0] != '\r' || b[1] == '\n') {
				return false
			}
		}
		if sp.act == read {
			sc := ndjson.NewScannerBuffer(io.NewSectionReader(f, sp.off, sp.len), sp.off, bufpool.Get(), ndjson.DefaultMaxLine)
			sc.FinalCR = true
			n, err := countLines(sc)
			bufpool.Put(sc.Buffer())
			if err != nil || n != sp.tally.Lines {
				return false
			}
		}
	}
	return true
}

// countLines counts the lines sc reads to its end.
func countLines(sc *ndjson.Scanner) (int64, error) {
	for n := int64(0); ; n++ {
		if _, err := sc.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
	}
}

// keptOfSurvivors sets the kept bytes of every plan that read lines: the stored bytes of those
// the plan keeps. The records it keeps are the newest survivors of the age rule (see
// retention.Planner), so a segment keeps all of its survivors, none, or, where the kept
// records begin, its newest: whatever the plan keeps beyond the newer segments' survivors.
// It returns how many records each plan keeps that way, which the plan's decisions must agree
// with.
func keptOfSurvivors(plans []*segPlan, c retention.Counts) []int64 {
	kept := make([]int64, len(plans))
	records, bytes := c.Kept, c.KeptBytes
	for k := len(plans) - 1; k >= 0; k-- {
		p := plans[k]
		n, b := min(p.survivors, records), p.survived
		if n < p.survivors {
			b = bytes // the oldest kept records, and no more
		}
		kept[k], p.kept = n, b
		records, bytes = records-n, bytes-b
	}
	return kept
}

// segmentCounts adds up the plan's decisions for lines [lo, hi).
func segmentCounts(plan *retention.Plan, lo, hi int) (c retention.Counts) {
	for i := lo; i < hi; i++ {
		c.Lines++
		switch plan.Decision(i) {
		case retention.Keep:
			c.Records++
			c.Kept++
		case retention.BlankLine:
			c.Blanks++
		case retention.NonRecordLine:
			c.NonRecords++
		case retention.DropAge:
			c.Records++
			c.DroppedAge++
		case retention.DropCount:
			c.Records++
			c.DroppedCount++
		case retention.DropBytes:
			c.Records++
			c.DroppedBytes++
		}
	}
	return c
}

// Recover finishes or undoes what earlier runs left beside the set. It returns an error
// wrapping errs.ErrLocked when a run holds the store: that run does the same.
func (s *Store) Recover(ctx context.Context) error { return s.files().Recover(ctx) }

// Forward forwards, once, what writers add to replaced files earlier runs left pending, and
// returns how many still are (see filerun.Runner.Forward).
func (s *Store) Forward(ctx context.Context) (int, error) { return s.files().Forward(ctx) }

// Scan reports the set's anomalies with Papyra's names: orphaned files (names of the set's
// pattern outside it, ORPHANED_ROTATED_FILE) and each segment's truncated and corrupted
// lines. A rotated segment's last line without a newline is TRUNCATED_LINE too. papyrad's own
// hidden files are never reported. A set with no file is an error wrapping errs.ErrMissing,
// whatever MissingOK says: the caller decides what absence means.
func (s *Store) Scan(ctx context.Context) ([]report.Anomaly, error) {
	ms, orphans, err := s.l.members()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, filerun.Missing(s.cfg.Name, s.cfg.Path)
	}
	if err != nil {
		return nil, err
	}
	var out []report.Anomaly
	for _, o := range orphans {
		out = append(out, report.Anomaly{Type: report.OrphanedRotatedFile, Path: o,
			Detail: "file matches the store's name but is not part of its rotation set"})
	}
	if len(ms) == 0 && len(orphans) == 0 {
		return nil, filerun.Missing(s.cfg.Name, s.cfg.Path)
	}
	for _, m := range ms {
		f, err := os.Open(m.name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("scan: %w", err) // the PathError names the file
		}
		found, err := classify.Anomalies(ctx, f, m.name)
		f.Close()
		out = append(out, found...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func decided(plans []*segPlan) int {
	n := 0
	for _, p := range plans {
		if p.known {
			n++
		}
	}
	return n
}
