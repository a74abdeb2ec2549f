package classify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/pyjson"
)

// streamStore is a store with every kind of line Stream treats apart: Papyra's records, blank
// runs (more lines than a batch holds as bytes), lines longer than a read, lone "\r" and
// "\r\n" terminators, non-records, an oversize line and, last, a line without a terminator.
func streamStore(t *testing.T) []byte {
	t.Helper()
	var store []byte
	for _, name := range []string{"none", "age", "bytes"} {
		data, err := os.ReadFile("../../testdata/papyra/json/" + name + "/input.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		store = append(store, data...)
	}
	store = append(store, strings.Repeat("\n", 3*batchLines)...)
	store = append(store, `{"timestamp": 1.5, "text": "`+strings.Repeat("long ", 300000)+`"}`+"\r\n"...)
	store = append(store, "{\"timestamp\": 2}\r{\"timestamp\": 3}\rnot json\r\n[1]\n"...)
	// Records split over lines, and lines that end a record with more than "\n".
	store = append(store, "{\"timestamp\": 6,\n\"a\": 1}\n{\"timestamp\": 7\r}\n{\"timestamp\": 8} \n{\"timestamp\": 9}\r\n"...)
	store = append(store, bytes.Repeat([]byte("{}\r"), 3*batchLines)...)
	store = append(store, bytes.Repeat([]byte{'x'}, ndjson.DefaultMaxLine+10)...)
	store = append(store, "\n{\"timestamp\": 4}\n{\"timestamp\": 5"...)
	return store
}

// TestStreamLines checks that Stream hands over, in order, the lines a Scanner reads one by
// one, each classified by Line, and stops where asked.
func TestStreamLines(t *testing.T) {
	store := streamStore(t)
	for _, c := range []struct{ stopAtPartial, wantRepr bool }{{false, true}, {true, true}, {true, false}} {
		stopAtPartial := c.stopAtPartial
		var want []ndjson.Line
		sc := ndjson.NewScanner(bytes.NewReader(store), 7, 1<<20, ndjson.DefaultMaxLine)
		for {
			l, err := sc.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if stopAtPartial && !l.Terminated {
				break
			}
			l.Raw = bytes.Clone(l.Raw)
			l.Class = Line(&l, c.wantRepr)
			want = append(want, l)
		}
		for name, r := range map[string]io.Reader{
			"whole": bytes.NewReader(store), "halves": iotest.HalfReader(bytes.NewReader(store)),
		} {
			i := 0
			end, err := Stream(context.Background(), r, 7, true, stopAtPartial, c.wantRepr, func(l *ndjson.Line) error {
				if i >= len(want) {
					t.Fatalf("%s: more than the %d lines", name, len(want))
				}
				w := want[i]
				if l.Off != w.Off || l.Len != w.Len || l.Term != w.Term || l.Terminated != w.Terminated ||
					l.Oversize != w.Oversize || !bytes.Equal(l.Raw, w.Raw) || l.Class != w.Class {
					t.Fatalf("%s: line %d at %d: got %+.60v, want %+.60v", name, i, w.Off, *l, w)
				}
				i++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if i != len(want) {
				t.Fatalf("%s: %d lines, want %d", name, i, len(want))
			}
			last := want[len(want)-1]
			if wantEnd := last.Off + last.Len; end != wantEnd {
				t.Errorf("%s: end %d, want %d", name, end, wantEnd)
			}
		}
	}
}

// FuzzAppendLines checks that splitting and classifying a block of lines in one pass gives
// the lines ndjson.AppendLines splits, each classified by Line, whatever the Classifier has
// seen before.
func FuzzAppendLines(f *testing.F) {
	f.Add([]byte("{\"kind\": \"event\", \"timestamp\": 1.5}\n{\"kind\": \"event\", \"timestamp\": 2}\n"), false)
	f.Add([]byte("{\"timestamp\": 6,\n\"a\": 1}\n{\"timestamp\": 7\r}\n{} \n{}\r\n\r\n"), true)
	f.Add([]byte("{\"kind\": \"event\",\t\"timestamp\": \"x\"}\n[1]\n\"s\"\n{\"k\": \"\xff\"}\n"), false)
	f.Fuzz(func(t *testing.T, block []byte, cr bool) {
		if len(block) == 0 || block[len(block)-1] != '\n' {
			block = append(block, '\n') // a block holds whole lines
		}
		cr = cr || bytes.IndexByte(block, '\r') >= 0
		want := ndjson.AppendLines(nil, block, 3, cr)
		for i := range want {
			want[i].Class = Line(&want[i], false)
		}
		c := new(pyjson.Classifier)
		for range 2 { // the second time, with the keys of the first remembered
			var got []ndjson.Line
			for rest, off := block, int64(3); len(rest) > 0; {
				n := len(rest)
				got, rest = appendLines(c, got, rest, off, false, 2)
				off += int64(n - len(rest))
			}
			if len(got) != len(want) {
				t.Fatalf("%q: %d lines, want %d", block, len(got), len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.Off != w.Off || g.Len != w.Len || g.Term != w.Term || g.Terminated != w.Terminated ||
					!bytes.Equal(g.Raw, w.Raw) || g.Class != w.Class {
					t.Fatalf("%q: line %d: got %+v, want %+v", block, i, g, w)
				}
			}
		}
	})
}

// TestStreamReusesBatches: a call starts with the memory of the calls before it, as a set of
// many files, read one call per file, needs; allocating it anew each time kept the collector
// busy and, on a virtual machine, took a page fault for every 4 KiB of it. The collector is off, so that nothing empties the pool between the calls.
func TestStreamReusesBatches(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var file bytes.Buffer
	for i := 0; file.Len() < 8*batchBytes; i++ {
		fmt.Fprintf(&file, `{"kind": "event", "n": %d, "timestamp": 1700000000.%d, "pad": "%s"}`+"\n", i, i, strings.Repeat("x", 200))
	}
	read := func() uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n := 0
		if _, err := Stream(context.Background(), bytes.NewReader(file.Bytes()), 0, true, false, false, func(*ndjson.Line) error {
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if n == 0 {
			t.Fatal("no lines")
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	first := read()
	// Later calls allocate what a call needs of its own (channels, goroutines, classifiers'
	// caches: tens of kilobytes), not their batches nor their scanner's buffers again. The
	// race detector drops a quarter of what is put in a pool, hence the least of several
	// calls.
	least := first
	for range 40 {
		least = min(least, read())
	}
	t.Logf("the first call allocated %d bytes, the least of the later ones %d", first, least)
	if least > batchBytes/2 {
		t.Errorf("every later call allocated %d bytes or more: its batches or buffers were not reused", least)
	}
}

// TestStreamKeepsItsBatches: what one call allocates does not grow with the length of the
// file, on one CPU as on several: at most the lines of every batch that can be in flight at
// once and a little more, on a file of a hundred batches, and memory blocks from the pool for
// every batch in flight and its scanner, all of them given back. On one CPU, a free list one
// batch too short let a batch go, and allocated another, for every fourth batch read.
func TestStreamKeepsItsBatches(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	line := `{"kind": "event", "timestamp": 1700000000.5, "pad": "` + strings.Repeat("x", 200) + `"}` + "\n"
	file := []byte(strings.Repeat(line, 100*batchBytes/len(line)))
	linesMem := batchBytes / 128 * int(unsafe.Sizeof(ndjson.Line{}))
	buffers.Put(buffers.Get()) // the pool's first huge pages are not the call's
	for _, procs := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			var before, after runtime.MemStats
			madeBefore, heldBefore := buffers.Stats()
			runtime.ReadMemStats(&before)
			if _, err := Stream(context.Background(), bytes.NewReader(file), 0, true, false, false, func(*ndjson.Line) error {
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			madeAfter, heldAfter := buffers.Stats()
			got := after.TotalAlloc - before.TotalAlloc
			limit := uint64((2*procs+2)*linesMem + 512<<10)
			t.Logf("a call over 100 batches allocated %d bytes and cut %d blocks; in flight at once, lines take %d",
				got, madeAfter-madeBefore, limit)
			if got > limit {
				t.Errorf("a call over 100 batches allocated %d bytes, more than the %d its batches in flight take: it allocated batches as it went", got, limit)
			}
			if lent := heldBefore + (madeAfter - madeBefore) - heldAfter; lent != 0 {
				t.Errorf("%d memory blocks were not given back to the pool", lent)
			}
		})
	}
}
