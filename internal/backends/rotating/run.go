package rotating

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends/filerun"
	"github.com/papyrad/papyrad/internal/bufpool"
	"github.com/papyrad/papyrad/internal/classify"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/quarantine"
	"github.com/papyrad/papyrad/internal/retention"
)

// run carries one compaction through its phases: prepare every change (temp files written and
// fsynced, non-records quarantined), publish the quarantine, then change the set segment by
// segment, oldest first, and the active file last.
type run struct {
	*filerun.Run
	s      *Store
	plan   *retention.Plan
	q      *quarantine.File
	arch   *archive.Writer // nil when the store has no archive
	temps  []string
	active *livefile.Rewrite
	// summaries of the segments the run rewrote, for the next run
	summaries []*summary
	prog      *progress // of the segments read again
}

// prepared is a rotated segment ready to be changed.
type prepared struct {
	p      *segPlan
	id     string
	tmp    string
	newIno uint64
	sum    *summary // of the new content, when the run could tell what it holds
}

func (r *run) cleanup() {
	for _, t := range r.temps {
		if r.s.l.journaledTemp(t) {
			continue // a segment step was cut short with it: recovery settles it
		}
		_ = atomicfile.Remove(t)
	}
	r.q.Discard()
	if r.arch != nil {
		r.arch.Discard() // only removes an archive that was not sealed
	}
	if r.active != nil {
		r.active.Abort()
	}
}

func (r *run) execute(ctx context.Context, plans []*segPlan) error {
	var ready []prepared
	var activePlan *segPlan
	var total int64
	for _, p := range plans {
		if p.act != untouched {
			total += p.seg.size
		}
	}
	r.prog = newProgress(r.Opts.Progress, "compact", total)
	for i, p := range plans {
		if p.act == untouched {
			continue
		}
		id := r.ID + strconv.Itoa(i)
		if err := r.beginArchive(p); err != nil {
			return err
		}
		switch {
		case p.seg.active:
			activePlan = p
			rw, err := livefile.Begin(p.seg.name, p.seg.f, id)
			if err != nil {
				return errs.Wrap("compact", p.seg.name, err)
			}
			r.active = rw
			if err := r.pass(ctx, p, rw); err != nil {
				return err
			}
			// Its kept lines on disk now: a full disk fails the run before a segment goes.
			if err := rw.Prepare(); err != nil {
				return errs.Wrap("compact", p.seg.name, err)
			}
		case p.act == remove || p.act == empty:
			if p.counts.NonRecords > 0 {
				if err := r.pass(ctx, p, io.Discard); err != nil {
					return err
				}
			} else if r.arch != nil && p.counts.Records > 0 {
				// Every line is a dropped record (or blank): archived as it is.
				if err := r.arch.Copy(io.NewSectionReader(p.seg.f, 0, p.seg.size), p.counts.Records); err != nil {
					return errs.Wrap("compact", p.seg.name, err)
				}
			}
			pr := prepared{p: p, id: id}
			if p.act == empty {
				var err error
				if pr, err = r.prepareEmpty(p, id); err != nil {
					return err
				}
			}
			ready = append(ready, pr)
		default:
			pr, err := r.prepareRewrite(ctx, p, id)
			if err != nil {
				return err
			}
			ready = append(ready, pr)
		}
		r.prog.done(p.seg.size)
	}
	// Every change is ready and durable: seal the archive and publish the quarantine before
	// anything leaves the store, so that no line is ever only in a file about to go.
	if r.arch != nil {
		if err := r.arch.Seal(ctx); err != nil {
			return errs.Wrap("compact", r.s.cfg.Path, err)
		}
		// From here on the set may change: whatever happens, publish what it lost.
		defer r.PublishArchive(context.WithoutCancel(ctx), r.arch)
	}
	final, err := r.q.Publish()
	if err != nil {
		return errs.Wrap("compact", r.s.cfg.Path, err)
	}
	r.Report.QuarantineFile = final
	for _, pr := range ready {
		if err := ctx.Err(); err != nil {
			return err
		}
		var done bool
		if pr.p.act == remove {
			done, err = r.s.l.remove(pr.p.seg, pr.id)
		} else {
			done, err = r.s.l.replace(pr.p.seg, pr.tmp, pr.newIno, pr.id)
		}
		if err != nil {
			return errs.Wrap("compact", pr.p.seg.name, err)
		}
		if !done {
			r.Report.Warnings = append(r.Report.Warnings, fmt.Sprintf("segment %s was removed by the writer during the run", pr.p.seg.name))
		}
		if done && pr.sum != nil {
			r.summaries = append(r.summaries, pr.sum)
		}
	}
	// Every step on a rotated segment is done: the run's descriptors of what they took out,
	// the last references to the old content, are closed side by side while the active file
	// is committed, which may wait for its writer. Each close frees a file's pages and blocks:
	// milliseconds for a large segment, tens of them where the filesystem discards freed
	// blocks at once. Closing them here rather than each after its step keeps the steps' own
	// fsyncs from queueing behind that freeing. (A run cut short leaves them to compact.)
	var freeing sync.WaitGroup
	defer freeing.Wait()
	for _, pr := range ready {
		f := pr.p.seg.f
		freeing.Go(func() { f.Close() })
	}
	if activePlan != nil {
		if err := r.commitActive(ctx, activePlan); err != nil {
			return err
		}
	}
	r.Report.BytesAfter = r.s.setSize()
	return nil
}

// pass reads segment p's classified lines again and sends the kept ones to w and the
// non-records to quarantine. Of a segment planned in spans, the kept spans are copied to w as
// they are and the dropped ones only read for the archive.
func (r *run) pass(ctx context.Context, p *segPlan, w io.Writer) error {
	if p.spans == nil {
		return r.passLines(ctx, p, w, 0, p.end, p.lo, p.hi)
	}
	i := p.lo
	for _, sp := range p.spans {
		switch sp.act {
		case read:
			if err := r.passLines(ctx, p, w, sp.off, min(sp.off+sp.len, p.end), i, i+sp.lines); err != nil {
				return err
			}
			i += sp.lines
		case untouched:
			if _, err := io.Copy(w, io.NewSectionReader(p.seg.f, sp.off, sp.len)); err != nil {
				return errs.Wrap("compact", p.seg.name, err)
			}
		case remove:
			if r.arch != nil {
				if err := r.archiveSpan(p, sp); err != nil {
					return err
				}
			}
		}
	}
	if i != p.hi {
		return fmt.Errorf("%s: its spans hold %d lines, %d were read before", p.seg.name, i-p.lo, p.hi-p.lo)
	}
	return nil
}

// archiveSpan archives the records of a span of p that its summary drops whole.
func (r *run) archiveSpan(p *segPlan, sp span) error {
	sc := ndjson.NewScannerBuffer(io.NewSectionReader(p.seg.f, sp.off, sp.len), sp.off, bufpool.Get(), ndjson.DefaultMaxLine)
	defer func() { bufpool.Put(sc.Buffer()) }()
	sc.FinalCR = true
	for n := int64(0); ; n++ {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			if n != sp.tally.Lines {
				return fmt.Errorf("%s changed under the run: %d lines at %d, %d in its summary", p.seg.name, n, sp.off, sp.tally.Lines)
			}
			return nil
		}
		if err != nil {
			return errs.Wrap("read", p.seg.name, err)
		}
		if line.Oversize {
			return fmt.Errorf("%s changed under the run: a line at %d is longer than any its summary counts", p.seg.name, line.Off)
		}
		if err := r.arch.Write(line.Raw); err != nil {
			return errs.Wrap("compact", p.seg.name, err)
		}
	}
}

// passLines reads the lines of p at [off, end), which are [lo, hi) of the plan, and sends the
// kept ones to w and the non-records to quarantine.
func (r *run) passLines(ctx context.Context, p *segPlan, w io.Writer, off, end int64, lo, hi int) error {
	sc := ndjson.NewScannerBuffer(io.NewSectionReader(p.seg.f, off, end-off), off, bufpool.Get(), ndjson.DefaultMaxLine)
	defer func() { bufpool.Put(sc.Buffer()) }()
	sc.FinalCR = p.stale
	for i := lo; ; i++ {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			if i != hi {
				return fmt.Errorf("%s changed under the run: %d lines, %d before", p.seg.name, i-lo, hi-lo)
			}
			return nil
		}
		if err != nil {
			return errs.Wrap("read", p.seg.name, err)
		}
		if i >= hi {
			return fmt.Errorf("%s changed under the run: more lines than the %d read before", p.seg.name, hi-lo)
		}
		r.prog.at(line.Off + line.Len)
		switch r.plan.Decision(i) {
		case retention.Keep:
			if _, err := w.Write(line.Raw); err != nil {
				return errs.Wrap("compact", p.seg.name, err)
			}
		case retention.DropAge, retention.DropCount, retention.DropBytes:
			if r.arch != nil {
				if err := r.arch.Write(line.Raw); err != nil {
					return errs.Wrap("compact", p.seg.name, err)
				}
			}
		case retention.NonRecordLine:
			reason := classify.Line(&line, false).Reason
			if line.Oversize {
				err = r.q.AddStream(io.NewSectionReader(p.seg.f, line.Off, line.Len-int64(line.Term)), line.Off, reason)
			} else {
				err = r.q.Add(line.Data(), line.Off, reason)
			}
			if err != nil {
				return err
			}
		}
		if i%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}

// prepareRewrite writes the kept lines of rotated segment p to a fsynced temp file.
func (r *run) prepareRewrite(ctx context.Context, p *segPlan, id string) (prepared, error) {
	var fi os.FileInfo
	var born int64
	pr, err := r.prepareTemp(p, id, func(tmp *os.File) error {
		bw := atomicfile.NewStreamWriter(tmp)
		defer bw.Release()
		if err := r.pass(ctx, p, bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		var err error
		fi, err = tmp.Stat()
		born = birth(tmp)
		return err
	})
	if err == nil {
		pr.sum = r.rewrittenSummary(p, fi, born)
	}
	return pr, err
}

// rewrittenSummary is the summary of the rewritten copy of rotated segment p, the file fi born
// at born: the old segment's blocks whose lines all stay, moved to where they are in the copy,
// and the kept lines of the other blocks, classified again (a block or two around the cutoff).
// It is nil when the old segment's summary has no blocks or does not line up with its lines;
// blocks of a summary found in the cache are counted again before their lines are relied on.
func (r *run) rewrittenSummary(p *segPlan, fi os.FileInfo, born int64) *summary {
	if p.sum == nil || len(p.sum.Blocks) == 0 || fi == nil {
		return nil
	}
	out := newSummary(fi, born)
	i, k := p.lo, 0 // the plan's next line, the span of the next block
	for _, b := range p.sum.Blocks {
		act := read
		if p.spans != nil {
			for k < len(p.spans) && p.spans[k].off+p.spans[k].len <= b.Off {
				k++
			}
			if k == len(p.spans) {
				return nil
			}
			act = p.spans[k].act
		}
		switch act {
		case untouched:
			out.appendBlock(b)
		case read:
			if i+int(b.Lines) > p.hi || !r.keptOf(p, b, i, out) {
				return nil
			}
			i += int(b.Lines)
		}
	}
	if i != p.hi || out.end() != fi.Size() {
		return nil
	}
	out.Size = fi.Size()
	return out
}

// keptOf adds to out what block b of segment p, whose lines are the plan's from i on, keeps.
// It reports false if the block's lines are not what its summary says.
func (r *run) keptOf(p *segPlan, b *block, i int, out *summary) bool {
	all, none := true, true
	for j := i; j < i+int(b.Lines); j++ {
		if r.plan.Decision(j) == retention.Keep {
			none = false
		} else {
			all = false
		}
	}
	if p.built && (all || none) {
		if all {
			out.appendBlock(b)
		}
		return true
	}
	sc := ndjson.NewScannerBuffer(io.NewSectionReader(p.seg.f, b.Off, b.Len), b.Off, bufpool.Get(), ndjson.DefaultMaxLine)
	defer func() { bufpool.Put(sc.Buffer()) }()
	sc.FinalCR = true
	n := int64(0)
	for ; ; n++ {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || n >= b.Lines {
			return false
		}
		if !all && r.plan.Decision(i+int(n)) == retention.Keep {
			if line.Oversize {
				return false
			}
			c := classify.Line(&line, false)
			out.add(&c, line.Len)
		}
	}
	if n != b.Lines {
		return false
	}
	if all {
		out.appendBlock(b)
	}
	return true
}

// prepareEmpty creates the empty file that takes the place of rotated segment p, whose lines
// all go but whose name must stay (see layout.keepNames): it is exchanged for p exactly as a
// rewritten copy is, with the same owner and mode, journaled and recovered the same way.
func (r *run) prepareEmpty(p *segPlan, id string) (prepared, error) {
	return r.prepareTemp(p, id, func(*os.File) error { return nil })
}

// prepareTemp creates the temp file of rotated segment p with its owner and mode, fills it
// with fill and fsyncs it.
func (r *run) prepareTemp(p *segPlan, id string, fill func(*os.File) error) (prepared, error) {
	tmp, err := livefile.CreateTemp(r.s.cfg.Path, p.seg.f, id)
	if err != nil {
		return prepared{}, errs.Wrap("compact", p.seg.name, err)
	}
	r.temps = append(r.temps, tmp.Name())
	err = fill(tmp)
	if err == nil {
		err = atomicfile.Sync(tmp)
	}
	fi, serr := tmp.Stat()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = serr
	}
	if err != nil {
		return prepared{}, errs.Wrap("compact", p.seg.name, err)
	}
	return prepared{p: p, id: id, tmp: tmp.Name(), newIno: statIno(fi)}, nil
}

// commitActive replaces the active file through livefile's live-append protocol. If the
// writer rotated it away during the run, its compaction waits for the next run.
func (r *run) commitActive(ctx context.Context, p *segPlan) error {
	_, err := r.Replace(ctx, r.active, p.end, p.seg.name, nil, nil)
	if errors.Is(err, errs.ErrReplaced) {
		r.Report.FilesRewritten--
		r.Report.Warnings = append(r.Report.Warnings, fmt.Sprintf("%s was rotated during the run; its records are compacted by the next run", p.seg.name))
		return nil
	}
	return err
}

// setSize is the size of the set as it is now.
func (s *Store) setSize() int64 {
	ms, _, err := s.l.members()
	if err != nil {
		return 0
	}
	var n int64
	for _, m := range ms {
		if fi, err := os.Stat(m.name); err == nil {
			n += fi.Size()
		}
	}
	return n
}
