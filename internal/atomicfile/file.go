package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

// Create creates the new file name for writing: O_EXCL and O_NOFOLLOW, so that a file or a
// link planted under the name is never written through, and close-on-exec.
func Create(name string, perm os.FileMode) (*os.File, error) {
	if err := check(OpCreate, name); err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Write writes p to f.
func Write(f *os.File, p []byte) (int, error) {
	if err := check(OpWrite, f.Name()); err != nil {
		var torn *Torn
		if !errors.As(err, &torn) {
			return 0, &os.PathError{Op: "write", Path: f.Name(), Err: err}
		}
		n, werr := f.Write(p[:min(torn.N, len(p))])
		if torn.After != nil {
			torn.After()
		}
		if werr == nil {
			werr = torn.Err
		}
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: werr}
	}
	return f.Write(p)
}

// Torn, returned by a test's fault function for a write, makes the write put only its first
// N bytes in the file, call After if set (a test may kill its own process there, as a SIGKILL
// between two pages of a write(2) would), and fail with Err, as a disk that fills up would.
type Torn struct {
	N     int
	Err   error
	After func()
}

func (t *Torn) Error() string { return fmt.Sprintf("torn after %d bytes: %v", t.N, t.Err) }

// Reserve allocates the blocks of f's bytes [off, off+n) without changing its size, so that
// writing them later cannot fail for want of space (fallocate FALLOC_FL_KEEP_SIZE). It fails
// with ENOSPC when the filesystem lacks the space, and with an error for which IsUnsupported
// is true on a filesystem that cannot reserve.
func Reserve(f *os.File, off, n int64) error {
	if err := check(OpReserve, f.Name()); err != nil {
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	if n <= 0 {
		return nil
	}
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return nil
}

// Truncate cuts f, open for writing, down to size bytes.
func Truncate(f *os.File, size int64) error {
	if err := check(OpTruncate, f.Name()); err != nil {
		return &os.PathError{Op: "truncate", Path: f.Name(), Err: err}
	}
	return f.Truncate(size)
}

// Writer returns an io.Writer that writes to f through Write, for a file that is written
// from its current offset on and then fsynced. Every writebackEvery bytes it asks the kernel
// to start writing what came before to the disk (sync_file_range, without waiting), so that
// the final fsync finds most of the file already written instead of all of it.
func Writer(f *os.File) io.Writer { return &fileWriter{f: f} }

// writebackEvery is how much a Writer writes between two requests to start writeback.
const writebackEvery = 8 << 20

type fileWriter struct {
	f       *os.File
	written int64 // bytes written through this writer
	started int64 // of which writeback has been asked for
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := Write(w.f, p)
	w.written += int64(n)
	if w.written-w.started >= writebackEvery {
		// Only a request: the fsync that follows is what makes the bytes durable, and it
		// reports what went wrong, so an error here is left to it.
		if off, serr := w.f.Seek(0, io.SeekCurrent); serr == nil {
			from := off - (w.written - w.started)
			_ = unix.SyncFileRange(int(w.f.Fd()), from, w.written-w.started, unix.SYNC_FILE_RANGE_WRITE)
		}
		w.started = w.written
	}
	return n, err
}

// Sync flushes f to stable storage.
func Sync(f *os.File) error {
	if err := check(OpSync, f.Name()); err != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	return f.Sync()
}

// WriteFile replaces the small file name (papyrad's own state: journals, run times, segment
// summaries) with data, so that a reader sees the old content or the new, never a part: a
// temp file with a random hidden name in the same directory (see IsTemp), created with O_EXCL
// and O_NOFOLLOW, written, fsynced, closed, renamed over name, and the directory fsynced. A
// link at name is replaced as a name, its target never written. On an error before the
// rename the temp file is removed and name is left as it was.
func WriteFile(name string, data []byte, perm os.FileMode) (err error) {
	tmp := tempName(name)
	f, err := Create(tmp, perm)
	if err != nil {
		return fmt.Errorf("write %s: create temp file: %w", name, err)
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			_ = Remove(tmp)
		}
	}()
	_, err = Write(f, data)
	if err == nil {
		err = Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errs.Wrap("write", name, err)
	}
	if err := Rename(tmp, name); err != nil {
		return errs.Wrap("write", name, err)
	}
	renamed = true
	if err := SyncDir(filepath.Dir(name)); err != nil {
		return errs.Wrap("write", name, err)
	}
	return nil
}

// Remove removes name, one of papyrad's own files or an empty directory.
func Remove(name string) error {
	if err := check(OpRemove, name); err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return os.Remove(name)
}
