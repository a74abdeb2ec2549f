package livefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/lease"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// A forward is one O_APPEND write of whole lines to the store. A full disk or a SIGKILL between
// two pages of it can leave only a prefix there, ending mid-line, and the application's next
// record would then be glued to that fragment. This file keeps that from costing a record:
// untear takes a torn prefix back at once when it can; resolveForward, at recovery, finds what
// a forward cut short by a crash left and completes it, separating a record glued to it.

// untear handles a forward write that failed after n bytes (werr). Nothing written: the step
// is dropped. Otherwise, under a write lease (nobody else has the store open, and an opener
// waits until the lease is released), the bytes are taken back if nothing followed them.
// Where that cannot be done, the journal records exactly where they went, for recovery.
func (d *drainer) untear(dest *os.File, n int, werr error) error {
	if n == 0 {
		d.j.Forward = nil
		return errors.Join(werr, d.j.save())
	}
	end, err := unix.Seek(int(dest.Fd()), 0, io.SeekCurrent)
	if err != nil {
		// Where the bytes went is unknown: recovery looks for them.
		return errors.Join(werr, d.j.save())
	}
	at := end - int64(n)
	d.j.Forward.Torn = &tornWrite{At: at, Written: int64(n)}
	if l, err := lease.Take(dest, lease.Write); err == nil {
		taken := false
		if fi, err := dest.Stat(); err == nil && fi.Size() == end {
			taken = atomicfile.Truncate(dest, at) == nil && atomicfile.Sync(dest) == nil
		}
		_ = l.Release()
		if taken {
			d.j.Forward = nil
		}
	}
	return errors.Join(werr, d.j.save())
}

// cut is what resolveForward found of a forwarded block in the file it went to.
type cut int

const (
	cutNone    cut = iota // not there: forward it again
	cutWhole              // all of it
	cutAtLine             // its first k bytes, whole lines, then other lines
	cutAtEnd              // its first k bytes end the file
	cutGlued              // its first k bytes, ending mid-line, then another writer's record
	cutUnknown            // a prefix of it, mid-line, then bytes that cannot be told apart
)

type found struct {
	cut cut
	at  int64 // where the block starts in the file
	k   int   // how much of it is there
}

// resolveForward settles a forward step that a crash interrupted (see the file comment).
// The block is looked for at a line boundary of its file after the size recorded before the
// write. Whole: the step was done. A prefix ending the file: the rest is appended. A prefix
// followed by other lines (glued to the first of them when it ends mid-line): the file is
// rewritten with the rest of the block inserted at the cut. Not there: forwarded again.
// glued counts the lines left glued because the cut could not be told apart.
func (d *drainer) resolveForward(ctx context.Context, opts DrainOptions) (dr DrainResult, glued int, err error) {
	fw := d.j.Forward
	if fw == nil {
		return dr, 0, nil
	}
	block, err := fw.block(d.old, d.oldName())
	if err != nil {
		return dr, 0, err
	}
	destName := d.j.Store
	if ino, err := inodeOf(destName); (err != nil || ino != fw.DestIno) && opts.Locate != nil {
		if name, ok := opts.Locate(fw.DestIno); ok {
			destName = name // rotated since: the block went to the file now called name
		}
	}
	dest, err := os.OpenFile(destName, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil && !os.IsNotExist(err) {
		return dr, 0, errs.Wrap("open", destName, err)
	}
	var f found
	if dest != nil {
		defer dest.Close()
		fi, err := dest.Stat()
		if err != nil {
			return dr, 0, errs.Wrap("stat", destName, err)
		}
		if st := statOf(fi); st.Ino == fw.DestIno && fi.Size() >= fw.DestSize {
			if f, err = findForward(dest, fw, fi.Size(), block); err != nil {
				return dr, 0, errs.Wrap("look for forwarded lines in", destName, err)
			}
		}
	}
	switch f.cut {
	case cutWhole:
		d.j.Copied = fw.To
	case cutAtLine, cutGlued:
		// Other lines follow the cut: the rest goes in at the cut, ahead of them, as it was
		// written before them (and, glued, to separate the record).
		if dr, err = insertAt(ctx, destName, dest, f.at+int64(f.k), block[f.k:], opts); err != nil {
			return dr, 0, err
		}
		d.j.Copied = fw.To
	case cutUnknown:
		// The fragment's whole lines are in; its last line is forwarded again whole, and the
		// line it was glued to is left for the next run to quarantine.
		d.j.Copied = fw.From + int64(lineEnds(block[:f.k]))
		glued = 1
	case cutAtEnd:
		if err := completeAtEnd(destName, f.at+int64(f.k), block[f.k:]); err != nil {
			return dr, 0, err
		}
		d.j.Copied = fw.To
	}
	d.j.Forward = nil
	return dr, glued, d.j.save()
}

// block reads the step's block from old (named name).
func (fw *forwardStep) block(old *os.File, name string) ([]byte, error) {
	block := make([]byte, fw.To-fw.From, fw.To-fw.From+1)
	if _, err := old.ReadAt(block, fw.From); err != nil {
		return nil, errs.Wrap("read", name, err)
	}
	if fw.AddNewline {
		block = append(block, '\n')
	}
	return block, nil
}

// findForward looks for block in dest (of the given size) from the size fw recorded. When
// papyrad saw the write torn, the journal says where its bytes went; otherwise each line from
// there on is tried as the block's start.
func findForward(dest *os.File, fw *forwardStep, size int64, block []byte) (found, error) {
	if t := fw.Torn; t != nil && t.At >= fw.DestSize && t.At+t.Written <= size && t.Written < int64(len(block)) {
		got := make([]byte, t.Written)
		if _, err := dest.ReadAt(got, t.At); err != nil {
			return found{}, err
		}
		if bytes.Equal(got, block[:t.Written]) {
			return classifyCut(dest, size, block, t.At, int(t.Written), true)
		}
	}
	firstLen := len(block)
	if i := bytes.IndexAny(block, "\r\n"); i >= 0 {
		firstLen = i + 1
	}
	sc := ndjson.NewScanner(io.NewSectionReader(dest, fw.DestSize, size-fw.DestSize), fw.DestSize, 1<<16, len(block)+1)
	sc.FinalCR = true
	for {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			return found{}, nil
		}
		if err != nil {
			return found{}, err
		}
		if line.Oversize {
			continue
		}
		data := line.Data()
		k := commonPrefix(data, block)
		switch {
		case k == 0:
			continue
		case k == len(data) && k < firstLen:
			// The whole line is a prefix of the block's first line: the block may go on
			// past it, or end the file there.
			if f, err := matchAt(dest, size, block, line.Off); err != nil || f.cut != cutNone {
				return f, err
			}
		case k < len(data):
			// The line parts from the block's first line: it may be a fragment of it glued
			// to another writer's record.
			if t := gluedAt(data, k); t > 0 {
				return found{cut: cutGlued, at: line.Off, k: t}, nil
			}
		}
	}
}

// matchAt compares the file from at with block and says how much of the block is there.
func matchAt(dest *os.File, size int64, block []byte, at int64) (found, error) {
	cand := make([]byte, min(int64(len(block)), size-at))
	n, err := dest.ReadAt(cand, at)
	if err != nil && !errors.Is(err, io.EOF) {
		return found{}, err
	}
	k := commonPrefix(cand[:n], block)
	if k == len(block) {
		return found{cut: cutWhole, at: at, k: k}, nil
	}
	firstLen := len(block)
	if i := bytes.IndexAny(block, "\r\n"); i >= 0 {
		firstLen = i + 1
	}
	if at+int64(k) < size && k < firstLen {
		return found{}, nil // only the start of a line in common
	}
	return classifyCut(dest, size, block, at, k, false)
}

// classifyCut says what follows the block's first k bytes, which are in dest at at: the end of
// the file, other lines, or another writer's record glued to the block's last line. With exact
// set the write is known to have stopped after k bytes; otherwise k may overshoot the cut by
// bytes of the following record that happen to equal the block's.
func classifyCut(dest *os.File, size int64, block []byte, at int64, k int, exact bool) (found, error) {
	if at+int64(k) == size {
		return found{cut: cutAtEnd, at: at, k: k}, nil
	}
	// The bytes after the block's last whole line, up to the end of the line they start.
	start := at + int64(lineEnds(block[:k]))
	sc := ndjson.NewScanner(io.NewSectionReader(dest, start, size-start), start, 1<<16, 0)
	sc.FinalCR = true
	line, err := sc.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return found{}, err
	}
	if errors.Is(err, io.EOF) || line.Oversize {
		return found{cut: cutUnknown, at: at, k: k}, nil
	}
	data := line.Data()
	// Coming back from the end of the common prefix, the cut is the last line end of the
	// block, or the last place where another writer's record starts.
	low := 1
	if exact {
		low = k
	}
	for t := k; t >= low; t-- {
		if t == lineEnds(block[:t]) {
			return found{cut: cutAtLine, at: at, k: t}, nil
		}
		if i := int(at + int64(t) - start); i < len(data) && data[i] == '{' && isRecord(data[i:]) && !isRecord(data) {
			return found{cut: cutGlued, at: at, k: t}, nil
		}
	}
	return found{cut: cutUnknown, at: at, k: k}, nil
}

// gluedAt returns the cut t (0 < t <= k) at which line, whose first k bytes are a prefix of
// the block's first line, holds another writer's whole record glued to a fragment of the
// block; 0 if there is none.
func gluedAt(line []byte, k int) int {
	if isRecord(line) {
		return 0
	}
	for t := min(k, len(line)-1); t > 0; t-- {
		if line[t] == '{' && isRecord(line[t:]) {
			return t
		}
	}
	return 0
}

func isRecord(line []byte) bool {
	return pyjson.Classify(line, false).Kind == retention.Record
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// lineEnds returns the length of b's prefix made of whole lines ("\n", "\r\n", or a "\r" not
// at b's end).
func lineEnds(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' || (b[i] == '\r' && i+1 < len(b)) {
			return i + 1
		}
	}
	return 0
}

// completeAtEnd appends rest to the file name, which ends at end with the block's first part.
// Under a write lease where one can be had, so that no writer can slip a record in between;
// otherwise the file's size is checked right before the write.
func completeAtEnd(name string, end int64, rest []byte) error {
	w, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|syscallNoFollow, 0)
	if err != nil {
		return errs.Wrap("complete a torn forward in", name, err)
	}
	defer w.Close()
	if l, err := lease.Take(w, lease.Write); err == nil {
		defer func() { _ = l.Release() }()
	}
	if fi, err := w.Stat(); err != nil || fi.Size() != end {
		return fmt.Errorf("complete a torn forward in %s: it grew meanwhile; tried again at the next run: %w", name, errs.ErrBusy)
	}
	if _, err := writeAll(w, rest); err != nil {
		return errs.Wrap("complete a torn forward in", name, err)
	}
	if err := atomicfile.Sync(w); err != nil {
		return errs.Wrap("complete a torn forward in", name, err)
	}
	return nil
}

// insertAt rewrites the file name (open as dest) with rest inserted at offset cut, where a torn
// forward stopped before other lines (glued to the first, when it stopped mid-line), through the
// same replacement a run uses: every line comes out whole, in the order it was written.
func insertAt(ctx context.Context, name string, dest *os.File, cut int64, rest []byte, opts DrainOptions) (DrainResult, error) {
	fi, err := dest.Stat()
	if err != nil {
		return DrainResult{}, errs.Wrap("stat", name, err)
	}
	size := fi.Size()
	rw, err := Begin(name, dest, atomicfile.NewRunID())
	if err != nil {
		return DrainResult{}, errs.Wrap("repair a torn forward in", name, err)
	}
	copyPart := func(from, to int64) error {
		_, err := io.Copy(rw, io.NewSectionReader(dest, from, to-from))
		return err
	}
	err = copyPart(0, cut)
	if err == nil {
		_, err = rw.Write(rest)
	}
	if err == nil {
		err = copyPart(cut, size)
	}
	if err != nil {
		rw.Abort()
		return DrainResult{}, errs.Wrap("repair a torn forward in", name, err)
	}
	res, err := rw.Finish(ctx, size, FinishOptions{Drain: opts})
	if err != nil {
		rw.Abort()
		return DrainResult{}, errs.Wrap("repair a torn forward in", name, err)
	}
	return res.Drain, res.DrainErr
}
