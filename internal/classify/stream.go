package classify

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/papyrad/papyrad/internal/bufpool"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/pyjson"
)

// batch is a run of consecutive lines classified together: a block of whole lines that a
// worker splits, or lines the reader split itself.
type batch struct {
	block []byte // whole lines, starting at offset off; nil when lines are given
	off   int64
	lines []ndjson.Line
	rest  []byte // the end of block, past the most lines a batch holds: fn's side splits it
	arena []byte // the memory block or the lines' bytes live in
	done  chan struct{}
}

// A batch's block and the lines split from it (about half its size again) should stay in a
// core's cache from the worker that classifies them to fn, which reads them next: 256 KiB
// blocks took 15% less CPU than 1 MiB ones on the 1M-record benchmark store (2-5% since the
// blocks are cut from huge pages; 512 KiB ones were no faster), and smaller ones left the CPUs
// waiting on each other.
const (
	batchBytes = 256 << 10
	batchLines = 8192
)

// Stream reads a store file's lines from r (whose first byte is at offset base) and hands them
// to fn in order, classified by [Line]; a line and its bytes are valid only during the call.
// The reader only reads: splitting into lines and classification, the costly part, run on
// every CPU in blocks of whole lines while fn consumes them in order. Reading stops at the
// first unterminated line when stopAtPartial is set; the returned offset is where the lines
// handed to fn end.
func Stream(ctx context.Context, r io.Reader, base int64, finalCR, stopAtPartial, wantRepr bool, fn func(*ndjson.Line) error) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	work := make(chan *batch, workers)
	ordered := make(chan *batch, 2*workers)
	// Every batch in flight is in ordered, or the one fn is handed, or the one the reader
	// fills: when the reader asks for another, one of these many is free. A free list that
	// holds them all never lets a batch go, so none is allocated after the first few; with
	// one less, every time all of them came back at once, one went to the collector and
	// another was allocated, and on one CPU that happened for every fourth batch.
	free := make(chan *batch, cap(ordered)+2)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := new(pyjson.Classifier)
			for b := range work {
				if b.block != nil {
					b.lines, b.rest = appendLines(c, b.lines[:0], b.block, b.off, wantRepr, 2*batchLines)
				} else {
					for i := range b.lines {
						l := &b.lines[i]
						l.Class = lineWith(c, l, wantRepr)
					}
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
		send := func(b *batch) bool {
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
			return true
		}
		sc := ndjson.NewScannerBuffer(r, base, buffers.Get(), ndjson.DefaultMaxLine)
		sc.FinalCR = finalCR
		spare := buffers.Get()[:0] // memory for the scanner to go on in after a block
		// Neither is referenced once reading is over: a block the scanner returns is memory
		// it no longer reads into, and what a batch holds of a line from Next is a copy.
		defer func() {
			buffers.Put(spare)
			buffers.Put(sc.Buffer())
		}()
		for {
			if blk, off := sc.Block(spare); blk != nil {
				end = off + int64(len(blk))
				b := newBatch(free)
				spare, b.arena = b.arena[:0], blk
				b.block, b.off = blk, off
				if !send(b) {
					return
				}
				continue
			}
			line, err := sc.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				readErr = err
				return
			}
			if !line.Terminated && stopAtPartial {
				return
			}
			b := newBatch(free)
			if !line.Oversize {
				// The scanner's buffer is reused by its next call: the batch keeps a copy.
				b.arena = append(b.arena[:0], line.Raw...)
				line.Raw = b.arena
			}
			end = line.Off + line.Len
			b.lines = append(b.lines, line)
			if !send(b) {
				return
			}
		}
	}()
	var fnErr error
	var own *pyjson.Classifier // for the rest of blocks of short lines
	var spill []ndjson.Line
	for b := range ordered {
		<-b.done
		if fnErr == nil {
			fnErr = handOver(b.lines, fn)
			// So many short lines would take more memory as lines than as bytes: what is
			// left of the block is split here, a batch's worth at a time.
			for rest := b.rest; fnErr == nil && len(rest) > 0; {
				if own == nil {
					own = new(pyjson.Classifier)
				}
				off := b.off + int64(len(b.block)-len(rest))
				spill, rest = appendLines(own, spill[:0], rest, off, wantRepr, batchLines)
				fnErr = handOver(spill, fn)
			}
			if fnErr != nil {
				cancel()
			}
		}
		select {
		case free <- b:
		default:
			buffers.Put(b.arena) // free holds every batch in flight: not reached
		}
	}
	wg.Wait()
	// Every batch is done with: the next call starts with their memory.
	for len(free) > 0 {
		b := <-free
		buffers.Put(b.arena)
		b.arena = nil
		spares.Put(b)
	}
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

// handOver hands lines to fn in order, up to the first error.
func handOver(lines []ndjson.Line, fn func(*ndjson.Line) error) error {
	for i := range lines {
		if err := fn(&lines[i]); err != nil {
			return err
		}
	}
	return nil
}

// spares holds the batches of calls that have returned, without their memory blocks. A set
// of many files, or many small stores, is read by one call per file: without it, each call
// would allocate its batches anew and leave the last one's to the collector, whose cycles cost
// more than the reading.
var spares sync.Pool

// buffers holds the memory blocks of batchBytes that a call's scanner reads into and its
// batches hold: a block the scanner filled becomes a batch's, and the batch's previous block
// the scanner's next. A call's reader goes through two blocks more than its batches hold, the
// one it starts in and the one it ends in. A block the scanner grew for a long line is let go.
var buffers = bufpool.New(batchBytes)

func newBatch(free chan *batch) *batch {
	var b *batch
	select {
	case b = <-free:
	default:
		if b, _ = spares.Get().(*batch); b == nil {
			b = &batch{lines: make([]ndjson.Line, 0, batchBytes/128)}
		}
	}
	// The memory may be reused: the lines of its previous use are done with. Memory that grew
	// for a very long line is let go rather than kept.
	if b.arena == nil || cap(b.arena) > 4*batchBytes {
		b.arena = buffers.Get()
	}
	b.lines, b.arena, b.block, b.rest = b.lines[:0], b.arena[:0], nil, nil
	b.done = make(chan struct{})
	return b
}
