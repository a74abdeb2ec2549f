// Package errs holds papyrad's sentinel errors: the outcomes that the CLI maps to exit codes,
// the daemon to deferrals and the metrics to causes. Backends wrap them with what they were
// doing (fmt.Errorf("... %w", errs.ErrLocked)); callers classify with errors.Is, never by text.
package errs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"
)

// Refused for now: the store is fine, the run is tried again later (exit 75).
var (
	// ErrLocked means another papyrad (on this host, or another one for a redis store) is
	// working on the store.
	ErrLocked = errors.New("store is locked by another papyrad")
	// ErrBusy means Papyra's own compaction or recovery is running on the store.
	ErrBusy = errors.New("papyra is compacting or recovering this store")
	// ErrDiskRefused means the disk guard refused the space a run needs: nothing was written.
	// The guard is never bypassed.
	ErrDiskRefused = errors.New("not enough free disk space for the run")
	// ErrInUse means another papyrad daemon runs on the same state directory: its lock
	// file there is held.
	ErrInUse = errors.New("in use by another papyrad daemon")
)

// The store cannot be compacted as it is: an operator has to look.
var (
	// ErrInvalid marks every configuration error (exit 78).
	ErrInvalid = errors.New("invalid configuration")
	// ErrNotRegular means a store name is not a regular file: a directory, a device, or a
	// symbolic link, which papyrad would replace or delete instead of the file it points to.
	ErrNotRegular = errors.New("not a regular file")
	// ErrReplaced means another program (Papyra's own compaction, say) replaced the store
	// file while papyrad worked on it; the run was abandoned and nothing changed.
	ErrReplaced = errors.New("store file was replaced by another program during the run")
	// ErrOpenedDuringCommit means a writer opened the store by its old name in the instant
	// of the commit; the commit was undone so that its record lands in order, and retried.
	ErrOpenedDuringCommit = errors.New("a writer opened the store during the commit")
	// ErrNotOwn means a file that recovery would act on was not written by papyrad: a link,
	// not a regular file, or owned by another user. Recovery leaves it in place and fails.
	ErrNotOwn = errors.New("not a file this papyrad wrote")
	// ErrNoSlot means a rotated segment taken out of its set by mistake could not be put
	// back: every name it could go to is taken. It is kept whole under a hidden name.
	ErrNoSlot = errors.New("no free name to put a segment back")
	// ErrHardLinked means a store file has more than one name (hard link): compacting it
	// under one name would leave the old records under the others, and a writer using another
	// name would not be seen. Refused unless the store says allow_hard_links.
	ErrHardLinked = errors.New("store file has more than one hard link")
	// ErrNoStore means the store's name is gone (the application moved it away) while
	// papyrad had lines to forward to it; papyrad never creates a store, and the lines wait.
	ErrNoStore = errors.New("the store file is gone")
	// ErrMissing means a store has no file at all: its path (or every name of its set) does
	// not exist. Refused unless the store says missing_ok. Its text completes a sentence
	// that names the path ("/var/lib/orders/events.ndjson does not exist").
	ErrMissing = errors.New("does not exist")
)

// Kernel file leases (package lease).
var (
	// ErrHeld means the kernel refused a file lease because another open file description
	// conflicts with it: for a read lease, somebody (any process, user or PID namespace) has
	// the file open for writing; for a write lease, somebody has it open at all.
	ErrHeld = errors.New("file is open elsewhere")
	// ErrNoLease means the kernel grants no lease on the file to this process: it neither
	// owns the file nor has CAP_LEASE, the filesystem has no leases (NFS, FUSE, overlay
	// upper layers on some kernels), or leases are disabled (fs.leases-enable = 0).
	ErrNoLease = errors.New("no file lease can be taken")
)

// The daemon.
var (
	// ErrForcedStop means the daemon stopped without waiting for the runs in progress to reach
	// a safe point: a second stop signal, or shutdown_timeout passed. Each run left its store
	// whole; recovery at the next start finishes what they left.
	ErrForcedStop = errors.New("stopped before the runs in progress reached a safe point")
)

// Redis stores.
var (
	// ErrRedis marks an error that came from talking to a Redis server (see Mark).
	ErrRedis = errors.New("redis")
	// ErrLockLost means the run's lock expired or was taken over while it ran: the run
	// stopped at the next step, leaving the streams whole.
	ErrLockLost = errors.New("lost the store's lock during the run")
	// ErrWrongType means one of the store's keys holds something other than a stream.
	ErrWrongType = errors.New("key is not a stream")
	// ErrServerTooOld means the server has no streams (Redis before 5.0).
	ErrServerTooOld = errors.New("server too old for streams")
	// ErrTrimIncomplete means entries below the trim target were still there after the trim.
	ErrTrimIncomplete = errors.New("trim left entries it should have removed")
	// ErrProtocol means a server's reply was not the RESP a command of its kind returns.
	ErrProtocol = errors.New("reply does not follow the Redis protocol")
)

// Remote archives.
var (
	// ErrArchiveIntegrity means an object store holds something else than what papyrad
	// uploaded: another size, or a checksum that does not match.
	ErrArchiveIntegrity = errors.New("the stored archive object does not match what was uploaded")
)

// IsNoSpace reports whether err means the filesystem is full (or over quota).
func IsNoSpace(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}

// Mark returns err, with the same text, such that errors.Is(result, kind) holds too. It
// returns nil for a nil err.
func Mark(err, kind error) error {
	if err == nil {
		return nil
	}
	return marked{err: err, kind: kind}
}

type marked struct{ err, kind error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.kind} }

// Wrap says what was being done, and to what (a path, an address), when err happened:
// "what subject: err". When err's text already names subject (an *fs.PathError from the call
// on it, say) subject is left out, so that no message repeats a path ("open lock file: open
// /x/.papyrad.events.lock: permission denied", not "... /x/.papyrad.events.lock: open
// /x/.papyrad.events.lock: ..."), and err itself is returned when its operation is what.
func Wrap(what, subject string, err error) error {
	if err == nil {
		return nil
	}
	if subject == "" {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !strings.Contains(err.Error(), subject) {
		return fmt.Errorf("%s %s: %w", what, subject, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == what && pe.Path == subject && err == error(pe) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
