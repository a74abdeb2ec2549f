package livefile

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteFileAtomic replaces the small file name (papyrad's own state: run times, segment
// summaries) with data, so that a reader sees the old content or the new, never a part: a temp
// file with a random hidden name in the same directory, created with O_EXCL and O_NOFOLLOW (a
// link planted under its name is never followed or replaced), written, fsynced, renamed over
// name, and the directory fsynced. On any error the temp file is removed and name is left as
// it was.
func WriteFileAtomic(name string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	tmp := filepath.Join(dir, "."+base+"."+NewRunID()+".new")
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return fmt.Errorf("write %s: create temp file: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	_, err = writeTemp(f, data)
	if err == nil {
		err = syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameFile(tmp, name)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: fsync directory: %w", name, err)
	}
	return nil
}
