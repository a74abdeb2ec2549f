// Package jsonfile compacts a single-file NDJSON store written by Papyra's JsonFilePersistence.
//
// A run reads the store in two streaming passes over the same snapshot prefix: the first
// classifies every line and feeds the retention planner (memory bounded by the records kept,
// not by the file), the second writes the kept lines byte for byte into a temp file, sends
// non-records to the run's quarantine file and counts the rest. Lines the application appends
// meanwhile are carried over unchanged, and the temp file replaces the store through package
// livefile (docs/design/livefile.md argues why no appended line is lost or duplicated,
// whatever instant papyrad is killed at). The quarantine file goes in as a sidecar of that
// replacement and the archive is sealed before it; the archive is published right after.
// What every file backend shares (lock, recovery, archive recovery, pruning) is the file-run
// skeleton's (package filerun).
//
// A run that would drop nothing and quarantine nothing does not touch the file.
//
// The unterminated last line: if the store changed within the partial-line grace period, the
// line may be a write in progress; it is left where it is and carried over as an appended line
// once complete. Older, it is a crash remnant and goes to quarantine.
package jsonfile
