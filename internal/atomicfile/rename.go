package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

// IsUnsupported reports whether err means the filesystem does not support the operation (an
// exchange, a directory fsync).
func IsUnsupported(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}

// Rename renames from to to, replacing what to held.
func Rename(from, to string) error {
	if err := check(OpRename, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return os.Rename(from, to)
}

// RenameNoReplace renames from to to, failing with EEXIST if to exists.
func RenameNoReplace(from, to string) error {
	if err := check(OpRename, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	if err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// Exchange swaps the names a and b atomically (renameat2 RENAME_EXCHANGE). Where the
// filesystem cannot, it fails with an error for which IsUnsupported is true.
func Exchange(a, b string) error {
	if err := check(OpExchange, b); err != nil {
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
	}
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
	}
	return nil
}

// Replace puts the complete, fsynced file tmp at name and fsyncs the directory. Where the
// filesystem can, the two are exchanged, so that name never lacks a file: took, if not nil,
// is then called with tmp, which holds what name held; if it returns an error the exchange is
// undone and that error returned. What came out is then removed. Where the filesystem cannot
// exchange, tmp is renamed over name. replaced reports whether name holds tmp's file, even
// when an error follows (removing what came out, fsyncing the directory).
func Replace(tmp, name string, took func(tmp string) error) (replaced bool, err error) {
	err = Exchange(tmp, name)
	if IsUnsupported(err) {
		if err := Rename(tmp, name); err != nil {
			return false, fmt.Errorf("rename %s over %s: %w", tmp, name, err)
		}
	} else {
		if err != nil {
			return false, err
		}
		if took != nil {
			if err := took(tmp); err != nil {
				if uerr := Exchange(tmp, name); uerr != nil {
					return true, fmt.Errorf("undo the exchange of %s and %s: %w", tmp, name, uerr)
				}
				return false, err
			}
		}
		if err := Remove(tmp); err != nil {
			return true, errs.Wrap("remove the replaced file, now", tmp, err)
		}
	}
	if err := SyncDir(filepath.Dir(name)); err != nil {
		return true, errs.Wrap("replace", name, err)
	}
	return true, nil
}

// Link gives the file oldname the further name newname.
func Link(oldname, newname string) error {
	if err := check(OpLink, newname); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return os.Link(oldname, newname)
}

// LinkOpen gives the open file f the further name newname: exactly that inode, even if its
// name oldname now points elsewhere. It links through /proc/self/fd; without /proc it links
// oldname and checks the inode, failing with errs.ErrReplaced (and no newname) if oldname
// holds another file.
func LinkOpen(f *os.File, oldname, newname string) error {
	if err := check(OpLink, newname); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, newname, unix.AT_SYMLINK_FOLLOW)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EPERM) && !IsUnsupported(err) {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	var want, got unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &want); err != nil {
		return &os.PathError{Op: "stat", Path: oldname, Err: err}
	}
	if err := os.Link(oldname, newname); err != nil {
		return err
	}
	if err := unix.Lstat(newname, &got); err != nil || got.Ino != want.Ino || got.Dev != want.Dev {
		_ = Remove(newname)
		return errs.ErrReplaced
	}
	return nil
}
