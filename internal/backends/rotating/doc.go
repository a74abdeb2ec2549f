// Package rotating compacts a size-rotated NDJSON segment set: Papyra's RotatingFilePersistence
// and Python logging's RotatingFileHandler (suffix naming: path, path.1 newest … path.N
// oldest, gaps legal), or a numbered sequence (events-0001.ndjson …, the highest number
// active).
//
// Retention is applied once across the whole set, oldest segment first as Papyra reads it.
// Then a segment whose lines all go is deleted if its name may go (the oldest slot, or a
// numbered name) and otherwise exchanged for an empty file, since a name taken out between a
// rotating writer's exists and rename makes the writer fail; one with some lines to go is
// rewritten, and one with none is not touched; the active file is replaced through package
// livefile. A fresh temp file of Papyra's own compaction or recovery of any file of the set
// makes the run skip the store. Every
// change is prepared (temp files fsynced, quarantine published, archive sealed) before
// anything is removed. Summaries of rotated segments and of the active file's first bytes,
// kept in the state directory, let an age-only policy settle segments, or all of them but the
// blocks around the cutoff, without reading them.
//
// The writer rotates at any moment, so segments are identified by inode, never by name: each
// destructive step is journaled, then done with one system call right after the look that
// confirms the segment's name, and a file a racing rotation slid under that name is put back
// by an exchange. Recovery finishes or undoes a step a crash cut short.
//
// The lock, recovery order, archive recovery and pruning are the file-run skeleton's (package
// filerun). The design, and why the window a racing rotation leaves cannot be closed, only
// made short and repaired, are in docs/design/rotating.md.
package rotating
