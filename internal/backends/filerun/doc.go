// Package filerun is the skeleton every file backend (jsonfile, rotating) runs through, so
// that what keeps a store safe is written once:
//
//  1. refuse a store name that is a symbolic link (or, for a one-file store, not a regular
//     file), a store that does not exist (no file, or no file of its set: errs.ErrMissing,
//     nothing to do with a warning when it says missing_ok), and a store that Papyra's own
//     compaction or recovery is working on;
//  2. unless it is a dry run: take the store's lock (held: the run is skipped, "locked"),
//     finish or undo what earlier runs left (the backend's journaled steps, then the files
//     replaced through package livefile), then publish or remove their archives;
//  3. hand the run to the backend, which opens, plans and executes it, replacing a live file
//     with Run.Replace (livefile's Finish, accounted for in the report);
//  4. on success, prune the archive files past their max_age.
//
// The backend says only what differs: how it recovers, what its store has lost of an archive
// part, and how it runs (Backend).
package filerun
