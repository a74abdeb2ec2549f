// Package livefile replaces a file that another program keeps appending to, without losing or
// duplicating a single appended line, even if papyrad is killed at any instant.
//
// A backend reads the store through an open descriptor, writes what it keeps into a hidden
// temp file beside it (Begin, Write), and hands over with one call, Finish, which:
//
//  1. copies the lines appended since the read into the temp file, in rounds;
//  2. runs the caller's BeforeCommit (what must be durable before the store changes);
//  3. commits: journals the replacement, keeps the old inode reachable as ".old", and
//     exchanges the temp file with the store's name (the commit point), undoing the exchange
//     if another program replaced the store meanwhile (errs.ErrReplaced);
//  4. runs the caller's AfterCommit, whatever the commit's outcome;
//  5. drains: forwards what writers still add to the old inode until none holds it, bounded
//     by its own timeout and not cut short by a stop; a writer that holds on past it leaves the
//     old inode pending, and later runs keep forwarding.
//
// Recover, run under the store's Lock before every run, finishes or undoes what a run that
// died left, from its journal. Every hidden file is named ".papyrad.<base>.<run>.<kind>", so
// that Papyra's own scan never reports it.
//
// The protocol step by step, the argument for why no line is lost or duplicated, and what
// remains are in docs/design/livefile.md.
package livefile
