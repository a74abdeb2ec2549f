// Package pidlock claims a file for one process: an exclusive flock(2) on it, and the
// holder's pid written in it, so that a second process is refused with the first one's pid.
// The daemon claims its state directory with one; every run claims its store with another.
// The kernel drops the lock when the holder exits, however it exits; the file stays (deleting
// a lock file would let two processes lock two different inodes).
package pidlock

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

// Lock is a held claim. Release it once.
type Lock struct {
	f *os.File
}

// Acquire takes the lock on the file at path, creating it with mode perm if needed (never
// through a symbolic link), without waiting, and writes this process's pid into it. If
// another process holds it, the error wraps held (the caller's sentinel) and names the
// holder's pid when the file tells it. The pid is only a hint for that error: failing to
// write it does not fail the lock.
func Acquire(path string, perm os.FileMode, held error) (*Lock, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "pid unknown"
			if pid, ok := readPid(f); ok {
				holder = "pid " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("%w (%s, holding %s)", held, holder, path)
		}
		return nil, errs.Wrap("lock", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// readPid reads the pid a holder wrote; ok is false while it has not written it yet.
func readPid(f *os.File) (int, bool) {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return pid, err == nil && pid > 0
}

// Release drops the lock. The file keeps the pid, which only counts while the lock is held.
//
// The lock is dropped explicitly before the descriptor is closed: a child this process forks
// holds a copy of every descriptor until it execs (close-on-exec closes them only then), and
// while it does, closing ours would leave the lock held, and this process's next Acquire
// refused.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	uerr := unix.Flock(int(f.Fd()), unix.LOCK_UN)
	err := f.Close()
	if uerr != nil {
		return errs.Wrap("unlock", f.Name(), uerr)
	}
	return err
}
