// Package atomicfile is the only place where papyrad creates, fsyncs, renames, exchanges,
// links and removes its files and creates directories, so that every crash-safety rule is
// written once and every such step can be failed by a test.
//
// WriteFile replaces a small file (a journal, a state file) whole: a temp file with a random
// hidden name in the same directory, written, fsynced, renamed over the name, and the
// directory fsynced; a reader sees the old content or the new, never a part. Replace puts a
// fully written temp file at a name by exchanging the two (renameat2 RENAME_EXCHANGE), so the
// name never lacks a file, and renames where the filesystem cannot exchange. MkdirAll fsyncs
// every directory it creates and the existing one it creates them in. CopyXattrs gives a
// rewritten file the extended attributes (ACLs included) of the file it replaces.
// StreamWriter writes a large new file, such as a rewritten store, in whole chunks with direct
// I/O where the filesystem has it, past the page cache.
//
// Every file papyrad keeps beside a store is hidden and named ".papyrad.<base>.<run>.<kind>"
// (HiddenPrefix, IsOwn), so that Papyra's own scan of "<base>*" files never sees them.
//
// Each operation first consults a fault seam that is nil in production. Tests of other
// packages set it through InjectFaults to fail an operation (ENOSPC, EIO) or to stop a
// protocol at its Nth operation, as a crash there would.
package atomicfile
