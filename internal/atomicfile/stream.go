package atomicfile

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/bufpool"
)

// StreamWriter writes a new file from its first byte on through a buffer: the way papyrad
// writes a file that will replace a store, tens or hundreds of megabytes that nobody reads
// before the fsync ahead of their rename. Whole chunks go to the disk with direct I/O
// (O_DIRECT) where the filesystem takes it, past the page cache: the kernel need not find
// pages for them (on a virtual machine that hands free memory back to its host, by faulting
// that memory in again, several times slower than the copy) nor evict the application's own
// cached data to make room. The rest goes through the page cache as plain writes through
// Writer: the last partial chunk, everything after a Flush that left the file's end
// unaligned, and every write on a filesystem without direct I/O. Writes go through Write's
// fault seam either way. A whole chunk going direct is written in the background while the
// next one fills, one write at a time and in order; its error is returned by the next call.
// The caller fsyncs the file after the last Flush, as for any file, and calls Release when
// done with the writer, so that the next writer (or reader, see package bufpool) uses its
// memory.
type StreamWriter struct {
	f        *os.File
	buf      []byte // the chunk being filled, aligned in memory as direct I/O needs
	spare    []byte // the other chunk, which the write in flight writes
	memAlign int
	n        int              // bytes buffered
	inFlight chan directWrite // the write of spare, when one is in flight
	align    int              // the file offset alignment direct I/O needs; 0 when writes are plain
	plain    io.Writer
	err      error
}

// directWrite is the outcome of a write in flight.
type directWrite struct {
	n   int
	err error
}

// streamChunk is how much a StreamWriter buffers: the size of its writes.
const streamChunk = bufpool.Size

// NewStreamWriter returns a StreamWriter that writes to f from its current offset on.
func NewStreamWriter(f *os.File) *StreamWriter {
	w := &StreamWriter{f: f, plain: Writer(f)}
	mem, off := directAlign(f)
	w.memAlign = max(mem, 1)
	w.buf = w.chunk()
	if off > 0 && streamChunk%off == 0 {
		if pos, err := f.Seek(0, io.SeekCurrent); err == nil && pos%int64(off) == 0 && setDirect(f, true) == nil {
			w.align = off
		}
	}
	return w
}

// Write buffers p, writing every chunk it fills.
func (w *StreamWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		if w.err != nil {
			return done, w.err
		}
		c := copy(w.buf[w.n:], p)
		w.n, p, done = w.n+c, p[c:], done+c
		if w.n == len(w.buf) {
			w.chunkFull()
		}
	}
	return done, w.err
}

// chunkFull writes the full chunk: direct, in the background, once the write before it is
// done, going on in the other chunk; plain, at once.
func (w *StreamWriter) chunkFull() {
	if w.err = w.wait(); w.err != nil {
		return
	}
	if w.align == 0 || fault.Load() != nil {
		w.err = w.writeOut(w.buf)
		w.n = 0
		return
	}
	if w.spare == nil {
		w.spare = w.chunk()
	}
	full := w.buf
	w.buf, w.spare, w.n = w.spare, full, 0
	done := make(chan directWrite, 1)
	w.inFlight = done
	go func() {
		// Only the write itself: os.File makes it safe against a Close, should the caller
		// give up on the file without a Flush.
		n, err := w.f.Write(full) // an *os.PathError naming the file
		done <- directWrite{n, err}
	}()
}

// chunk returns memory for a chunk, aligned as direct I/O needs: a pooled buffer, when it is
// (bufpool aligns its buffers to their size), else memory of its own.
func (w *StreamWriter) chunk() []byte {
	b := bufpool.Get()
	if uintptr(unsafe.Pointer(&b[0]))%uintptr(w.memAlign) == 0 {
		return b
	}
	bufpool.Put(b)
	return bufpool.Aligned(streamChunk, w.memAlign)
}

// Release waits for the write in flight, if any, and gives the writer's memory back. What was
// buffered after the last Flush is not written. The writer must not be used afterwards; a
// second Release does nothing.
func (w *StreamWriter) Release() {
	_ = w.wait() // a caller that wanted the outcome flushed first
	bufpool.Put(w.buf)
	bufpool.Put(w.spare)
	w.buf, w.spare, w.n = nil, nil, 0
	if w.err == nil {
		w.err = errors.New("atomicfile: StreamWriter used after Release")
	}
}

// wait waits for the write in flight, if any, and returns its error (see directDone).
func (w *StreamWriter) wait() error {
	if w.inFlight == nil {
		return nil
	}
	r := <-w.inFlight
	w.inFlight = nil
	return w.directDone(w.spare, r.n, r.err)
}

// directDone settles a direct write of b that wrote n bytes: one the filesystem took
// O_DIRECT for but refused (EINVAL, nothing written) is done again plain, and so is every
// write after it.
func (w *StreamWriter) directDone(b []byte, n int, err error) error {
	if err == nil || !errors.Is(err, unix.EINVAL) || n > 0 {
		return err
	}
	w.plainFromHere()
	_, err = w.plain.Write(b)
	return err
}

// ReadFrom reads r to its end straight into the buffer, writing every chunk it fills: what
// io.Copy uses.
func (w *StreamWriter) ReadFrom(r io.Reader) (int64, error) {
	var done int64
	for {
		if w.err != nil {
			return done, w.err
		}
		m, err := r.Read(w.buf[w.n:])
		w.n, done = w.n+m, done+int64(m)
		if w.n == len(w.buf) {
			w.chunkFull()
		}
		if errors.Is(err, io.EOF) {
			return done, w.err
		}
		if err != nil {
			return done, err
		}
	}
}

// Flush waits for the write in flight and writes what is buffered. A part that leaves the
// file's end unaligned for direct I/O is written plain, and so is everything after it.
func (w *StreamWriter) Flush() error {
	if err := w.wait(); w.err == nil {
		w.err = err
	}
	if w.err != nil || w.n == 0 {
		return w.err
	}
	b := w.buf[:w.n]
	w.n = 0
	if w.align > 0 {
		whole := len(b) - len(b)%w.align
		if whole > 0 {
			if w.err = w.writeOut(b[:whole]); w.err != nil {
				return w.err
			}
		}
		b = b[whole:]
	}
	if len(b) > 0 {
		w.plainFromHere()
		w.err = w.writeOut(b)
	}
	return w.err
}

// writeOut writes b, aligned in length when direct I/O is on.
func (w *StreamWriter) writeOut(b []byte) error {
	if w.align > 0 {
		if fault.Load() != nil {
			// A test's torn write puts an arbitrary prefix in the file, which direct I/O
			// cannot: a test that injects faults writes plain.
			w.plainFromHere()
		} else {
			n, err := w.f.Write(b) // an *os.PathError naming the file
			return w.directDone(b, n, err)
		}
	}
	_, err := w.plain.Write(b)
	return err
}

// plainFromHere turns direct I/O off for the rest of the file.
func (w *StreamWriter) plainFromHere() {
	if w.align > 0 {
		w.align = 0
		// Should the flag stay, the next write fails and says so.
		_ = setDirect(w.f, false)
	}
}

// directAlign returns the memory and file offset alignments direct I/O on f needs, both 0
// when f's filesystem has no direct I/O (statx STATX_DIOALIGN).
func directAlign(f *os.File) (mem, off int) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st); err != nil ||
		st.Mask&unix.STATX_DIOALIGN == 0 {
		return 0, 0
	}
	return int(st.Dio_mem_align), int(st.Dio_offset_align)
}

// setDirect turns O_DIRECT on or off for f's open file description.
func setDirect(f *os.File, on bool) error {
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, flags)
	return err
}
