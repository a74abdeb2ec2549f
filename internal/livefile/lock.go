package livefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

// Lock is an exclusive lock on one store, held through flock(2) on a hidden lock file beside
// it. The lock file lives next to the store rather than in a state directory so that every
// papyrad process, whatever its configuration, meets the same lock. It is never deleted:
// deleting a lock file lets two processes lock two different inodes.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of the store at path without waiting. It returns an error wrapping
// errs.ErrLocked, with the holder's pid when known, if another process holds it.
func Acquire(path string) (*Lock, error) {
	name := filepath.Join(filepath.Dir(path), atomicfile.HiddenPrefix(path)+suffixLock)
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, errs.Wrap("open lock file", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := make([]byte, 32)
		n, _ := f.ReadAt(holder, 0)
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid, perr := strconv.Atoi(string(holder[:n])); perr == nil {
				return nil, fmt.Errorf("%w (pid %d)", errs.ErrLocked, pid)
			}
			return nil, errs.ErrLocked
		}
		return nil, errs.Wrap("lock", name, err)
	}
	// The pid is only a hint for the error above; failing to write it is harmless.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
