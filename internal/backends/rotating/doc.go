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
// # A rotating writer racing the run
//
// The writer renames segments towards older slots (path.i → path.i+1, path → path.1) at any
// moment, and the logging style also deletes the oldest. A name is therefore never trusted:
// segments are identified by the inode they had when the run opened them, and their current
// name is looked up again just before each destructive step. The set itself is listed by
// looking its names up one by one, from the active file to the oldest slot, the way rotations
// move files, so that a segment renamed while the set is listed is met further on: listing the
// directory and then looking each name up would miss one renamed in between, and the run would
// leave it alone without a word. A file that a rotation moves while the set is opened is
// followed to its new slot, by inode.
//
// Each destructive step is journaled beside the store before it happens (".papyrad.<base>.
// <run>.seg"); the segment is then followed to wherever rotations moved it meanwhile (one slot
// older per rotation), and the step is one system call right after the look that confirms its
// name:
//
//   - Delete: the name is renamed to a hidden name, and the file found there is unlinked only
//     if it is the planned inode.
//   - Rewrite: the temp file and the name are exchanged (renameat2 RENAME_EXCHANGE), and the
//     old content is unlinked only if it is the planned inode. No content is ever written
//     over a name.
//   - The active file: livefile exchanges it the same way, and undoes the exchange if the
//     writer rotated the file away; it is then compacted by the next run, as a rotated segment.
//
// # The window that remains, and why it cannot be closed
//
// Linux has no call that takes a name out of a directory only if the name still holds a
// given inode. rename, unlink and RENAME_EXCHANGE act on whatever the name holds when the
// call runs; linkat through /proc/self/fd reaches the exact inode but only adds a name;
// RENAME_NOREPLACE conditions the destination, not the source. A deletion has to take the
// segment's name out (freeing the slot is the point, for a Papyra-style writer), and a rewrite
// has to put new content under it, so between the last look and the call a rotation can
// always slide another file under the name. Nothing papyrad does can stop the writer, which
// takes no lock, so the race cannot be excluded, only made short and repaired:
//
//   - It needs a rotation to land in the few microseconds between the look and the call: the
//     writer renames the segment one slot older, then its newer neighbour under the name (the
//     two renames of one rotation that concern that slot).
//   - The file taken by mistake goes back in the next system calls, by an exchange. For a
//     rewrite, with the new content, which the exchange put in that file's place and which
//     rotations move along exactly as they would have moved it. For a deletion, when the file
//     is the segment's newer neighbour (journaled with the step), with the segment, wherever
//     that is now: the neighbour takes its slot, the only place it can belong once the
//     segment is gone, and the segment comes out to be unlinked. An exchange creates no name,
//     so no rotation can overwrite what is put back, and it is exact however many rotations
//     land meanwhile; if one lands inside the exchange itself, the third file it takes goes
//     back the same way, in exchange for the file that now stands in its place.
//   - Only when the partner of the exchange is gone (a logging-style writer deleted it as its
//     oldest), the filesystem cannot exchange, or a deletion took something other than the
//     neighbour (papyrad was descheduled between the look and the call for longer than a
//     whole rotation) is the file renamed, without replacing anything, into the first free
//     slot from where it was taken towards the oldest: the hole its absence left, which
//     rotations move the same way, unless another gap of the set comes first. A rotation
//     racing that rename could still overwrite it. This fallback needs two unlikely races at
//     once, and it is the one path on which neither the file's place nor the file itself is
//     guaranteed.
//   - Until it is back, normally a few microseconds, a reader sees one file missing (under the
//     journaled hidden name) and, for a rewrite, the segment's kept records twice (the new
//     content and the segment one slot older). Nothing is misordered.
//   - The active file's exchange in livefile has the same kind of window: a rotation and the
//     writer's new active file landing between its check and its exchange put the new file
//     under livefile's temp name and the compacted copy at path, until the exchange is
//     undone. livefile's recovery does not undo that one: it reports the temp as not the file
//     its journal describes and leaves it in place.
//
// A crash inside that window (a kill landing within microseconds of a rotation landing within
// microseconds of a step) leaves the set that way until recovery, which the next run and the
// daemon's start do first: it reads the journal and finishes or undoes the step the same way
// (a file moved aside is unlinked if it is the planned segment, exchanged back otherwise; an
// exchange that happened is completed, one that did not is forgotten, one that took the wrong
// file is undone). At every other instant, killed or not, a reader sees each segment either as
// it was or as it is after the run, plus whatever the writer appended.
//
// Deleting the oldest slot is also what lets a Papyra-style writer, which stops rotating while
// that slot exists and lets its active file grow, rotate again.
package rotating
