package archive

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

// A file's key names an archive part by the file its records came from: its inode number and
// its birth time. The inode number alone is not enough, because a file system reuses the
// number of a deleted file for the next file it creates, which a writer does right after a
// rotation; with the birth time a new file never passes for the one the run read.

// FileKey is the key of an open file.
func FileKey(f *os.File) (string, error) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_INO|unix.STATX_BTIME, &st); err != nil {
		return "", errs.Wrap("statx", f.Name(), err)
	}
	return key(&st), nil
}

// PathKey is the key of the file at path (not following a symbolic link); ok is false when
// nothing is there.
func PathKey(path string) (k string, ok bool, err error) {
	var st unix.Statx_t
	err = unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_BTIME, &st)
	if err == unix.ENOENT {
		return "", false, nil
	}
	if err != nil {
		return "", false, errs.Wrap("statx", path, err)
	}
	return key(&st), true, nil
}

func key(st *unix.Statx_t) string {
	k := strconv.FormatUint(st.Ino, 10)
	if st.Mask&unix.STATX_BTIME != 0 {
		k += "-" + strconv.FormatInt(st.Btime.Sec, 10) + "." + strconv.FormatUint(uint64(st.Btime.Nsec), 10)
	}
	return k
}
