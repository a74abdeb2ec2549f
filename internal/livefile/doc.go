// Package livefile replaces a file that another program keeps appending to, without losing or
// duplicating a single appended line, even if papyrad is killed at any instant.
//
// # The problem
//
// Papyra's writers append to a store with open(O_APPEND)–write–close per record, or through a
// long-lived O_APPEND handle. Compaction must write a shorter file and rename it over the store.
// Two kinds of records are at risk: the one appended after papyrad read the file but before the
// rename, and the one a writer writes into the old inode after the rename because it opened the
// file just before it (or holds it open for good). Renaming alone loses both.
//
// # The protocol
//
// All files papyrad creates beside a store are hidden and named ".papyrad.<base>.<run>.<kind>",
// so that Papyra's own scan, which reports unexpected "<base>*" files, never sees them.
//
//  1. The caller scans the store through an open descriptor (the old inode, O) up to an offset,
//     and writes the lines it keeps into a temp file T (same directory, O_EXCL, mode and owner
//     of the store applied before anything else, so a failure here happens before the commit).
//  2. CatchUp copies every complete line appended to O since the scan into T, byte for byte,
//     and moves the offset C ("copied") forward. T now holds the compacted prefix plus O[scan:C].
//  3. Commit: fsync T; hard-link O as ".old" (through /proc/self/fd, so it is exactly the inode
//     we read); write the journal {old inode, new inode, C, sidecar files}, fsync it and the
//     directory; check the store name still points at O; exchange T and the store's name
//     atomically (renameat2 RENAME_EXCHANGE; a plain rename where the filesystem cannot) and
//     check that what came out is O, undoing the exchange if another program replaced the store
//     in that instant; fsync the directory. The exchange is the commit point: before it the
//     store is O untouched, after it the store is T, and O stays reachable through ".old"
//     whatever happens next.
//  4. Drain: bytes that reach O after C (writers that opened O before the rename) are forwarded:
//     complete lines O[C:E] are appended to the store with one O_APPEND write, which interleaves
//     atomically with the application's own appends. Each forward is journaled before and after
//     ({from, to, destination inode and size}), so a crash between the write and the journal
//     update is resolved on recovery by looking for the block at a line boundary after the
//     recorded size: found means done, missing means append it again.
//  5. The drain ends when no process holds O open for writing (from /proc/<pid>/fd and fdinfo),
//     at least MinDrain after the rename (a writer may have resolved the path just before the
//     rename and not yet installed its descriptor), and O has stopped growing. Then ".old" and
//     the journal are removed. A writer that keeps O open past DrainTimeout (a long-lived handle
//     that never reopens) leaves the run pending: ".old" and the journal stay, the forwarded
//     prefix of O is punched out to give its disk space back, and every later run (or the
//     daemon's forwarder) keeps forwarding until that writer lets go.
//
// Recovery (Recover, run under the store lock before every run) reads the journals: a temp file
// that still carries the new inode means the rename never happened, so the temp, ".old" and the
// run's pending sidecar files are removed and the store is as it was; a temp file that is gone
// means the rename happened, so the sidecars are finalised and the drain resumes from C. A temp
// file that holds a third inode means the run died right after an exchange that took a file
// something else (a rotating writer) had just put at the store's name: while the store's name
// still holds the new content, the two are exchanged back and the run is rolled back. Temp
// files without a journal, and ".old" links without one, belong to runs that died before their
// commit and are removed.
//
// # What remains
//
// A SIGKILL can tear a write(2) that spans pages. A torn forward that is still at the end of
// the store is completed on recovery; one that the application appended after is reported. A
// writer whose open(2) stays between path lookup and descriptor installation for longer than
// MinDrain is not seen. Where /proc cannot be read for another user's processes, a quiet period
// (no growth for QuietPeriod) stands in for the holder check.
package livefile
