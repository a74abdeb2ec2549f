package livefile

import (
	"path/filepath"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/pidlock"
)

// Lock is an exclusive lock on one store, held through flock(2) on a hidden lock file beside
// it. The lock file lives next to the store rather than in a state directory so that every
// papyrad process, whatever its configuration, meets the same lock. It is never deleted:
// deleting a lock file lets two processes lock two different inodes.
type Lock = pidlock.Lock

// Acquire takes the lock of the store at path without waiting. It returns an error wrapping
// errs.ErrLocked, with the holder's pid when known, if another process holds it.
func Acquire(path string) (*Lock, error) {
	name := filepath.Join(filepath.Dir(path), atomicfile.HiddenPrefix(path)+suffixLock)
	return pidlock.Acquire(name, 0o600, errs.ErrLocked)
}
