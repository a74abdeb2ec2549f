package classify

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/papyrad/papyrad/internal/ndjson"
)

// batch is a run of consecutive lines classified together.
type batch struct {
	lines []ndjson.Line
	arena []byte
	done  chan struct{}
}

const (
	batchBytes = 1 << 20
	batchLines = 8192
)

// Stream reads a store file's lines from r (whose first byte is at offset base) and hands them
// to fn in order, classified by [Line]; a line and its bytes are valid only during the call.
// Classification, the costly part, runs on every CPU while fn consumes batches in order.
// Reading stops at the first unterminated line when stopAtPartial is set; the returned offset
// is where the lines handed to fn end.
func Stream(ctx context.Context, r io.Reader, base int64, finalCR, stopAtPartial, wantRepr bool, fn func(*ndjson.Line) error) (int64, error) {
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
					l.Class = Line(l, wantRepr)
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
			if !line.Oversize {
				// The scanner's buffer is reused by its next call: the batch keeps a copy.
				start := len(b.arena)
				b.arena = append(b.arena, line.Raw...)
				line.Raw = b.arena[start:len(b.arena):len(b.arena)]
			}
			end = line.Off + line.Len
			b.lines = append(b.lines, line)
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
		// The arena may be reused: the lines of its previous use are done with. One that
		// grew for a very long line is let go rather than kept.
		b.lines, b.arena = b.lines[:0], b.arena[:0]
		if cap(b.arena) > 4*batchBytes {
			b.arena = make([]byte, 0, batchBytes+64<<10)
		}
	default:
		b = &batch{lines: make([]ndjson.Line, 0, batchLines), arena: make([]byte, 0, batchBytes+64<<10)}
	}
	b.done = make(chan struct{})
	return b
}
