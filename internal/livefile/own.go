package livefile

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/errs"
)

// Recovery reads only papyrad's own files (errs.ErrNotOwn otherwise): whoever else can write a
// store's directory (the application's group, usually) could otherwise plant a journal that
// makes papyrad rename, delete or forward files of its choosing.

// maxJournal bounds what is read of a journal: papyrad's are a few hundred bytes.
const maxJournal = 1 << 20

// ReadOwn reads one of papyrad's small files beside a store (a journal), never through a link,
// and only if it is a regular file owned by the user papyrad runs as.
func ReadOwn(name string) ([]byte, error) { return readOwnedBy(name, os.Geteuid()) }

// readOwnedBy is ReadOwn for the files of a papyrad that runs as uid.
func readOwnedBy(name string, uid int) ([]byte, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link: %w", name, errs.ErrNotOwn)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st := statOf(fi)
	if !fi.Mode().IsRegular() || st == nil {
		return nil, fmt.Errorf("%s is not a regular file: %w", name, errs.ErrNotOwn)
	}
	if int(st.Uid) != uid {
		return nil, fmt.Errorf("%s belongs to uid %d, and papyrad runs as uid %d: %w; remove it if it is not papyrad's", name, st.Uid, uid, errs.ErrNotOwn)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, errs.Wrap("read", name, err)
	}
	if len(b) > maxJournal {
		return nil, fmt.Errorf("%s is larger than any journal papyrad writes: %w", name, errs.ErrNotOwn)
	}
	return b, nil
}
