// Package lines reads the lines of an NDJSON store file and classifies them for retention,
// on every CPU, handing them back in order. The file backends (jsonfile, rotating) build on it.
package lines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// Line is one line of a store file with its classification.
type Line struct {
	Off        int64
	Raw        []byte // content and terminator; nil when Oversize; valid only during the callback
	Content    int    // length of the content within Raw
	Size       int64  // bytes in the file, terminator included
	Term       int    // bytes of the terminator
	Terminated bool
	Oversize   bool
	Class      retention.Line
}

// Data is the line's content without its terminator.
func (l *Line) Data() []byte { return l.Raw[:l.Content] }

// FromScanner views a scanner's line (valid until the scanner's next call) as a Line,
// unclassified.
func FromScanner(line ndjson.Line) Line {
	return Line{Off: line.Off, Raw: line.Raw, Content: len(line.Data), Size: line.Len, Term: line.Term, Terminated: line.Terminated, Oversize: line.Oversize}
}

// batch is a run of consecutive lines classified together.
type batch struct {
	lines []Line
	arena []byte
	done  chan struct{}
}

const (
	batchBytes = 1 << 20
	batchLines = 8192
)

// Stream reads a store file's lines from r (whose first byte is at offset base) and hands them
// to fn in order, classified. Classification, the costly part, runs on every CPU while fn consumes
// batches in order. Reading stops at the first unterminated line when stopAtPartial is set;
// the returned offset is where the lines handed to fn end.
func Stream(ctx context.Context, r io.Reader, base int64, finalCR, stopAtPartial, wantRepr bool, fn func(*Line) error) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	work := make(chan *batch, workers)
	ordered := make(chan *batch, 2*workers)
	free := make(chan *batch, 3*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				for i := range b.lines {
					l := &b.lines[i]
					l.Class = Classify(l, wantRepr)
				}
				close(b.done)
			}
		}()
	}
	var readErr error
	var end int64
	go func() {
		defer close(ordered)
		defer close(work)
		sc := ndjson.NewScanner(r, base, 1<<20, ndjson.DefaultMaxLine)
		sc.FinalCR = finalCR
		b := newBatch(free)
		flush := func() bool {
			if len(b.lines) == 0 {
				return true
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case ordered <- b:
			case <-ctx.Done():
				return false
			}
			b = newBatch(free)
			return true
		}
		for {
			line, err := sc.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				readErr = err
				return
			}
			if !line.Terminated && stopAtPartial {
				break
			}
			s := FromScanner(line)
			if !line.Oversize {
				start := len(b.arena)
				b.arena = append(b.arena, line.Raw...)
				s.Raw = b.arena[start:len(b.arena):len(b.arena)]
			}
			end = line.Off + line.Len
			b.lines = append(b.lines, s)
			if len(b.arena) >= batchBytes || len(b.lines) >= batchLines {
				if !flush() {
					return
				}
			}
		}
		flush()
	}()
	var fnErr error
	for b := range ordered {
		<-b.done
		if fnErr == nil {
			for i := range b.lines {
				if fnErr = fn(&b.lines[i]); fnErr != nil {
					cancel()
					break
				}
			}
		}
		select {
		case free <- b:
		default:
		}
	}
	wg.Wait()
	if fnErr != nil {
		return 0, fnErr
	}
	if readErr != nil {
		return 0, readErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return end, nil
}

func newBatch(free chan *batch) *batch {
	var b *batch
	select {
	case b = <-free:
		// The arena may be reused: Line lines of the previous use are done with. One that
		// grew for a very long line is let go rather than kept.
		b.lines, b.arena = b.lines[:0], b.arena[:0]
		if cap(b.arena) > 4*batchBytes {
			b.arena = make([]byte, 0, batchBytes+64<<10)
		}
	default:
		b = &batch{lines: make([]Line, 0, batchLines), arena: make([]byte, 0, batchBytes+64<<10)}
	}
	b.done = make(chan struct{})
	return b
}

// Classify is the retention engine's view of one line: an oversize line is not a record, and
// neither is an unterminated one (a crash remnant; the caller keeps a write in progress out).
func Classify(l *Line, wantRepr bool) retention.Line {
	switch {
	case l.Oversize:
		return retention.Line{Kind: retention.NonRecord, Reason: fmt.Sprintf("line of %d bytes is over the %d-byte limit for a record", l.Size, ndjson.DefaultMaxLine)}
	case !l.Terminated:
		c := retention.Classify(l.Data(), false)
		if c.Kind == retention.Blank {
			return c
		}
		return retention.Line{Kind: retention.NonRecord, Reason: "unterminated last line left by an interrupted write"}
	}
	return retention.Classify(l.Data(), wantRepr)
}
