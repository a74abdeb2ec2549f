package livefile

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

const syscallNoFollow = syscall.O_NOFOLLOW | syscall.O_CLOEXEC

func isUnsupported(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}

// linkOpenFile gives the open file f the name newname, exactly that inode even if its old name
// now points elsewhere. It uses /proc/self/fd; without /proc it links by oldname and checks
// the inode.
func linkOpenFile(f *os.File, oldname, newname string, ino uint64) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, newname, unix.AT_SYMLINK_FOLLOW)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EPERM) && !isUnsupported(err) {
		return err
	}
	if err := os.Link(oldname, newname); err != nil {
		return err
	}
	if got, _ := inodeOf(newname); got != ino {
		_ = os.Remove(newname)
		return errs.ErrReplaced
	}
	return nil
}

func inodeOf(name string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(name, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

func statOf(fi os.FileInfo) *syscall.Stat_t {
	if fi == nil {
		return nil
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	return st
}

// punchHole frees the blocks of f's first n bytes without changing its size or offsets.
func punchHole(f *os.File, n int64) error {
	n -= n % 4096
	if n <= 0 {
		return nil
	}
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, n)
}
