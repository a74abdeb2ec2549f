// Package rotating compacts a size-rotated NDJSON segment set: Papyra's RotatingFilePersistence
// and Python logging's RotatingFileHandler (suffix naming: path, path.1 newest … path.N
// oldest, gaps legal), or a numbered sequence (events-0001.ndjson …, the highest number
// active).
//
// # What a run does
//
// Retention is applied once across the whole set, read oldest segment first exactly as Papyra
// reads it. Then each segment is dealt with on its own: a segment whose lines all go is deleted
// (no read-rewrite), a segment with some lines to go is rewritten, a segment with none is not
// touched (same inode, same mtime). The active file is rewritten only when it holds something
// to remove, through package livefile's live-append protocol. Every change is prepared first
// (temp files written and fsynced, non-records quarantined and the quarantine published), so
// that a failure such as ENOSPC happens before anything is removed.
//
// # I/O that follows what is removed
//
// Rotated segments are never written again, only renamed and deleted. When a run has read a
// rotated segment whole it keeps a summary of it in the state directory (records, non-records,
// the range of its timestamps) keyed by device, inode, size and mtime. A later run with an
// age-only policy decides such a segment from its summary alone when the summary settles it:
// every timestamp after the cutoff and nothing else in the file (left alone, not read), or
// every timestamp before it and no non-record (deleted, not read). Only segments that straddle
// the cutoff, hold non-records, have changed, or are new are read. Count and size limits,
// which depend on the exact size of every record kept, read the whole set.
//
// # Why a rotating writer cannot make it lose or duplicate a segment
//
// The writer renames segments towards older slots (path.i → path.i+1, path → path.1) at any
// moment, and the logging style also deletes the oldest. A name is therefore never trusted:
// segments are identified by the inode they had when the run opened them, and their current
// name is looked up again just before each destructive step. The set itself is listed by
// looking its names up one by one, from the active file to the oldest slot, the way rotations
// move files, so that a segment renamed while the set is listed is met further on: listing the
// directory and then looking each name up would miss one renamed in between, and the run would
// leave it alone without a word.
//
//   - Delete: the name is renamed to a hidden name (atomic), and the file found there is only
//     unlinked if it is the planned inode. If a rotation slid another file under the name in
//     between, that file is put back: rotations only move files to older slots, so the hole its
//     absence left has moved the same way, and the first free slot from its old one towards the
//     oldest is where it belongs. Then the planned segment is looked up again.
//   - Rewrite: the temp file and the segment's name are exchanged atomically (renameat2
//     RENAME_EXCHANGE), and if what came out is not the planned inode the exchange is undone
//     and retried. No content is ever written over a name without that check.
//   - The active file: livefile checks the inode at the exchange too; if the writer rotated it
//     away during the run, it is left for the next run, now as a rotated segment.
//
// Each destructive step is journaled beside the store before it happens (".papyrad.<base>.
// <run>.seg"). After a crash, recovery reads the journal: a file moved aside is unlinked if it
// is the planned segment and put back otherwise; an exchange that happened is completed, one
// that did not is forgotten, one that took the wrong file is undone. A reader of the set sees,
// at every instant, each segment either as it was or as it is after the run, except in the
// instant between taking a file out by mistake and putting it back, which needs a rotation to
// land inside a step of a few microseconds and ends with the set whole.
//
// Deleting the oldest slot is also what lets a Papyra-style writer, which stops rotating while
// that slot exists and lets its active file grow, rotate again.
package rotating
