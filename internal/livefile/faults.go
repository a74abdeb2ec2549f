package livefile

import (
	"os"

	"golang.org/x/sys/unix"
)

// Fault seams. Tests replace them to inject ENOSPC, EIO or a crash at a precise step; the
// production values are the plain system calls.
var (
	// writeTemp writes to the temp file being filled.
	writeTemp = func(f *os.File, p []byte) (int, error) { return f.Write(p) }
	// syncFile flushes a file to stable storage.
	syncFile = func(f *os.File) error { return f.Sync() }
	// exchangeFiles is the commit point: it swaps two names atomically (renameat2
	// RENAME_EXCHANGE). renameFile replaces it where the filesystem cannot exchange.
	exchangeFiles = func(a, b string) error {
		return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	}
	renameFile = os.Rename
	// step is called with the name of each protocol step just before it runs; a test can stop
	// the protocol there to simulate a crash.
	step = func(name string) error { return nil }
)

// SyncDir fsyncs a directory so that a rename or unlink in it is durable. Filesystems that
// cannot fsync a directory report EINVAL; their renames are as durable as they get.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := syncFile(d); err != nil && !isUnsupported(err) {
		return err
	}
	return nil
}

// Exchange swaps the names a and b atomically. It fails with an error for which IsUnsupported
// is true where the filesystem cannot.
func Exchange(a, b string) error { return exchangeFiles(a, b) }

// IsUnsupported reports whether err means the filesystem does not support the operation.
func IsUnsupported(err error) bool { return isUnsupported(err) }

// Step runs the named fault-injection step (tests stop a protocol there to simulate a crash).
func Step(name string) error { return step(name) }

// SetStep replaces the fault-injection step hook and returns a function that restores the
// previous one. Tests of packages built on livefile use it to act at a precise step.
func SetStep(f func(name string) error) (restore func()) {
	saved := step
	step = f
	return func() { step = saved }
}
