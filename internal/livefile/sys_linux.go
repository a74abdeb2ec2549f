package livefile

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const syscallNoFollow = syscall.O_NOFOLLOW | syscall.O_CLOEXEC

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
