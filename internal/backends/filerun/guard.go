package filerun

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/papyrad/papyrad/internal/errs"
)

// checkPath refuses a store name that is a symbolic link: papyrad would replace or delete the
// link, not the file it points to. A set's name may be free (a gap, or only the stem of
// numbered names), and exists is then true: the set is what counts. With oneFile the name must
// be a regular file, and exists is false when there is nothing there.
func checkPath(path string, oneFile bool) (exists bool, err error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		return false, fmt.Errorf("%s is a symbolic link; configure the file it points to: %w", path, errs.ErrNotRegular)
	case !oneFile:
		return true, nil
	case os.IsNotExist(err):
		return false, nil
	case err != nil:
		return false, errs.Wrap("stat", path, err)
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s is a %s: %w", path, kindOf(fi.Mode()), errs.ErrNotRegular)
	}
	return true, nil
}

// RegularFile checks, without following a link, that path is a regular file. It reports
// exists false, and no error, when there is nothing at path.
func RegularFile(path string) (exists bool, err error) { return checkPath(path, true) }

func kindOf(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// PapyraActive returns the first of names (the temp files of Papyra's own compaction or
// recovery) that exists and changed less than within before now, or "" if none did.
func PapyraActive(names []string, now time.Time, within time.Duration) string {
	for _, name := range names {
		if fi, err := os.Lstat(name); err == nil && now.Sub(fi.ModTime()) < within {
			return name
		}
	}
	return ""
}

// CheckLinks refuses the store file name, whose open descriptor's stat is fi, when it has
// more than one hard link, unless the store allows them: a rewrite would put the compacted
// content under name alone, the other names would keep the old records, and a writer
// appending through another name would not be seen. It is given the open descriptor's stat,
// not the name's, so that what is checked is what the run reads.
func (run *Run) CheckLinks(name string, fi os.FileInfo) error {
	if run.r.cfg.AllowHardLinks {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink <= 1 {
		return nil
	}
	return fmt.Errorf("store %s: %s has %d hard links; compacting it under one name would leave the old records under the others (set allow_hard_links: true to compact it anyway): %w",
		run.r.cfg.Name, name, st.Nlink, errs.ErrHardLinked)
}
