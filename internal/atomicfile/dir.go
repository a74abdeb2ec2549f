package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

// SyncDir fsyncs the directory dir, so that a create, rename or unlink in it is durable.
// Filesystems that cannot fsync a directory report EINVAL; their renames are as durable as
// they get, and SyncDir returns nil there.
func SyncDir(dir string) error {
	if err := check(OpSyncDir, dir); err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: err}
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !IsUnsupported(err) {
		return fmt.Errorf("fsync directory: %w", err)
	}
	return nil
}

// MkdirAll creates dir and the missing directories above it with mode perm, and makes them
// durable: each created directory is fsynced, and so is the existing directory they were
// created in, so that a power cut cannot take away a directory, and the files about to be
// written in it, after the caller made those files durable. An existing dir is left as it is.
func MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	var missing []string // deepest first
	parent := dir
	for {
		fi, err := os.Stat(parent)
		if err == nil {
			if !fi.IsDir() {
				return &os.PathError{Op: "mkdir", Path: parent, Err: unix.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return errs.Wrap("create directory", dir, err)
		}
		missing = append(missing, parent)
		up := filepath.Dir(parent)
		if up == parent {
			return errs.Wrap("create directory", dir, err)
		}
		parent = up
	}
	if len(missing) == 0 {
		return nil
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := check(OpMkdir, d); err != nil {
			return &os.PathError{Op: "mkdir", Path: d, Err: err}
		}
		if err := os.Mkdir(d, perm); err != nil {
			// Another process may have created it since the look above.
			if fi, serr := os.Stat(d); serr != nil || !fi.IsDir() {
				return err
			}
		}
	}
	// Deepest first: the existing parent, which makes the first created name durable, last.
	for _, d := range append(missing, parent) {
		if err := SyncDir(d); err != nil {
			return errs.Wrap("create directory", dir, err)
		}
	}
	return nil
}
