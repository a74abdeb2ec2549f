package jsonfile

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

// scanned is one line of the store with its classification.
type scanned struct {
	off        int64
	raw        []byte // content and terminator, in the batch's arena; nil when oversize
	content    int    // length of the content within raw
	size       int64  // bytes in the store, terminator included
	term       int    // bytes of the terminator
	terminated bool
	oversize   bool
	cls        retention.Line
}

func (l *scanned) data() []byte { return l.raw[:l.content] }

// fromLine views a scanner's line (valid until the scanner's next call) as a scanned line.
func fromLine(line ndjson.Line) scanned {
	return scanned{off: line.Off, raw: line.Raw, content: len(line.Data), size: line.Len, term: line.Term, terminated: line.Terminated, oversize: line.Oversize}
}

// batch is a run of consecutive lines classified together.
type batch struct {
	lines []scanned
	arena []byte
	done  chan struct{}
}

const (
	batchBytes = 1 << 20
	batchLines = 8192
)

// classifyStream reads the store's lines from r (starting at offset 0) and hands them to fn in
// order, classified. Classification, the costly part, runs on every CPU while fn consumes
// batches in order. Reading stops at the first unterminated line when stopAtPartial is set;
// the returned offset is where the lines handed to fn end.
func classifyStream(ctx context.Context, r io.Reader, finalCR, stopAtPartial, wantRepr bool, fn func(*scanned) error) (int64, error) {
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
					l.cls = classifyScanned(l, wantRepr)
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
		sc := ndjson.NewScanner(r, 0, 1<<20, ndjson.DefaultMaxLine)
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
			s := fromLine(line)
			if !line.Oversize {
				start := len(b.arena)
				b.arena = append(b.arena, line.Raw...)
				s.raw = b.arena[start:len(b.arena):len(b.arena)]
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
		// The arena may be reused: scanned lines of the previous use are done with. One that
		// grew for a very long line is let go rather than kept.
		b.lines, b.arena = b.lines[:0], b.arena[:0]
		if cap(b.arena) > 4*batchBytes {
			b.arena = make([]byte, 0, batchBytes+64<<10)
		}
	default:
		b = &batch{lines: make([]scanned, 0, batchLines), arena: make([]byte, 0, batchBytes+64<<10)}
	}
	b.done = make(chan struct{})
	return b
}

// classifyScanned is the retention engine's view of one line.
func classifyScanned(l *scanned, wantRepr bool) retention.Line {
	switch {
	case l.oversize:
		return retention.Line{Kind: retention.NonRecord, Reason: fmt.Sprintf("line of %d bytes is over the %d-byte limit for a record", l.size, ndjson.DefaultMaxLine)}
	case !l.terminated:
		c := retention.Classify(l.data(), false)
		if c.Kind == retention.Blank {
			return c
		}
		return retention.Line{Kind: retention.NonRecord, Reason: "unterminated last line left by an interrupted write"}
	}
	return retention.Classify(l.data(), wantRepr)
}
