package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"
)

// A rotator appends one record to a size-rotated set, rotating first when the record would
// take the active file past maxBytes. It counts what it did, for the tests' report.
type rotator interface {
	append(rec []byte) error
	close() error
	stats() rotStats
}

type rotStats struct {
	rotations int64 // rollovers done
	deleted   int64 // rotated segments the writer removed itself (logging style)
	blocked   int64 // records written without the rotation they called for (Papyra style)
	// vanished counts the renames and removals that failed because a name the writer had just
	// seen was gone: another program (papyrad) took it out in between. Python raises
	// FileNotFoundError there, out of record_event: each one is an error the application saw.
	vanished int64
}

// set names the files of a suffix-named set: path, path.1 (newest) … path.{maxFiles-1}.
type set struct {
	path     string
	maxFiles int
	lock     string // held with flock while rotating, if set
	// pause is slept between looking a name up and renaming or removing it, as a Python
	// interpreter descheduled between two statements would: it widens the window in which
	// another program can take the name out.
	pause time.Duration
}

// between is the gap between a look at a name and the call that uses it.
func (s set) between() {
	if s.pause > 0 {
		time.Sleep(s.pause)
	}
}

// rotating holds the set's rotation lock (if any) until the returned function is called.
func (s set) rotating() (func(), error) {
	if s.lock == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(s.lock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func (s set) slot(i int) string { return s.path + "." + strconv.Itoa(i) }

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// noteVanished reports whether err is the error of a rename or removal whose name another program
// (papyrad) moved or removed in the instant since the writer saw it, and counts it in st.
// Python would raise here; the test writer counts it and goes on, so that a record is never
// lost on its own side and the test can still account for every record.
func (st *rotStats) noteVanished(err error) bool {
	if errors.Is(err, fs.ErrNotExist) {
		st.vanished++
		return true
	}
	return false
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666) // as Python's open(path, "a"): the umask decides
}

// papyraRotator is Papyra's RotatingFilePersistence (_maybe_rotate, then _append): before each
// record, if the active file exists and its size plus the record exceeds maxBytes, and the
// oldest slot path.{maxFiles-1} is free, shift path.i to path.i+1 for i = maxFiles-2 … 1
// (missing ones skipped) and rename path to path.1; if the oldest slot is taken, do nothing,
// and the active file grows past maxBytes. Then open the active file in append mode, write the
// record, close.
type papyraRotator struct {
	set
	maxBytes int64
	st       rotStats
}

func (p *papyraRotator) maybeRotate(next int) error {
	fi, err := os.Stat(p.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // no active file yet, or rotated away: nothing to rotate
		}
		return err
	}
	if fi.Size()+int64(next) <= p.maxBytes {
		return nil
	}
	if exists(p.slot(p.maxFiles - 1)) {
		p.st.blocked++
		return nil
	}
	done, err := p.rotating()
	if err != nil {
		return err
	}
	defer done()
	for i := p.maxFiles - 2; i >= 1; i-- {
		if src := p.slot(i); exists(src) {
			p.between()
			if err := os.Rename(src, p.slot(i+1)); err != nil && !p.st.noteVanished(err) {
				return err
			}
		}
	}
	p.between()
	if err := os.Rename(p.path, p.slot(1)); err != nil && !p.st.noteVanished(err) {
		return err
	}
	p.st.rotations++
	return nil
}

func (p *papyraRotator) append(rec []byte) error {
	if err := p.maybeRotate(len(rec)); err != nil {
		return err
	}
	return write(nil, func() (*os.File, error) { return openAppend(p.path) }, rec)
}

func (p *papyraRotator) close() error    { return nil }
func (p *papyraRotator) stats() rotStats { return p.st }

// loggingRotator is Python logging's RotatingFileHandler (backupCount = maxFiles-1): one
// append handle kept open; before a record, if the handle's position plus the record reaches
// maxBytes (an empty file never rolls over), roll over: close the handle; for i =
// backupCount-1 … 1, if path.i exists, remove path.i+1 if it exists and rename path.i to
// path.i+1; remove path.1 if it exists, rename path to path.1; open path again. When every
// slot is taken, that removes the oldest segment: the handler's own retention.
type loggingRotator struct {
	set
	maxBytes int64
	f        *os.File
	st       rotStats
}

func newLoggingRotator(s set, maxBytes int64) (*loggingRotator, error) {
	l := &loggingRotator{set: s, maxBytes: maxBytes}
	return l, l.open()
}

// open opens the active file like Python's open(path, "a"): positioned at its end.
func (l *loggingRotator) open() error {
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return err
	}
	l.f = f
	return nil
}

func (l *loggingRotator) remove(name string) error {
	if !exists(name) {
		return nil
	}
	l.between()
	err := os.Remove(name)
	if err == nil {
		l.st.deleted++
	}
	if err != nil && !l.st.noteVanished(err) {
		return err
	}
	return nil
}

func (l *loggingRotator) rollover() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	l.f = nil
	done, err := l.rotating()
	if err != nil {
		return err
	}
	defer done()
	for i := l.maxFiles - 2; i >= 1; i-- {
		src, dst := l.slot(i), l.slot(i+1)
		if !exists(src) {
			continue
		}
		if err := l.remove(dst); err != nil {
			return err
		}
		l.between()
		if err := os.Rename(src, dst); err != nil && !l.st.noteVanished(err) {
			return err
		}
	}
	if err := l.remove(l.slot(1)); err != nil {
		return err
	}
	if exists(l.path) {
		l.between()
		if err := os.Rename(l.path, l.slot(1)); err != nil && !l.st.noteVanished(err) {
			return err
		}
	}
	l.st.rotations++
	return l.open()
}

func (l *loggingRotator) append(rec []byte) error {
	pos, err := l.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if pos > 0 && pos+int64(len(rec)) >= l.maxBytes {
		if err := l.rollover(); err != nil {
			return err
		}
	}
	return write(l.f, nil, rec)
}

func (l *loggingRotator) close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

func (l *loggingRotator) stats() rotStats { return l.st }
