// Package archive keeps the records a compaction run drops, for operators who must retain what
// retention removes from the live store. A run writes them, in store order and byte for byte,
// to a file of its own
//
//	<dir>/<store>/<UTC date>/<run id>.ndjson.zst   (or .ndjson.gz, or .ndjson)
//
// readable with the standard zstd and gzip tools (zstd -dc, zcat). Quarantined non-records never
// go there: they have their quarantine file.
//
// # Before the store changes
//
// The archive is written under a hidden pending name, .<run id>.ndjson.<ext>.pending, in parts:
// one per segment for a rotating set, one per stream for redis, one for a json file. Each part
// is a complete compressed frame (zstd frames and gzip members concatenate into one valid
// stream), so a part can be copied out of the file without decompressing the rest. When every
// dropped record is in it, the file is fsynced, then a manifest naming its parts
// (.<run id>.manifest) is written, fsynced, and the directory fsynced (Seal). Only then does the
// backend change the store. A run that cannot write or seal its archive fails before anything
// is removed, and its pending file is removed.
//
// # Exactly once
//
// Once the store has changed, the backend publishes the archive (Publish) with a predicate that
// says, part by part, whether the store has really lost the part's records: the json file's
// inode was exchanged, the segment's inode is no longer in the set, the stream's first entry
// now comes after the part's entries (a part that was only partly trimmed keeps only the
// entries that are gone). Publishing writes what is gone under the final name (a plain rename
// when everything is gone, a copy of the whole parts otherwise, fsynced before the rename),
// fsyncs the directory, and removes the pending file and, last, the manifest.
//
// A run that dies leaves a pending file and perhaps a manifest. The next run of the store takes
// its lock, lets the backend finish or undo the dead run's store changes (its own recovery),
// and then recovers the archive with the same predicate (Recover):
//
//   - no manifest: the run died before Seal, so it changed nothing; the pending file goes, and
//     the records, still in the store, are archived by the run that drops them.
//   - a manifest and a final file: Publish died after the rename; the leftovers go.
//   - a manifest only: the parts whose records the store has lost are published, the others
//     are dropped with the pending file; their records are still in the store and the next run
//     that drops them archives them again, once.
//
// Each record is therefore in exactly one published archive once it has left the store, and in
// none while it is still there. The predicate asks the store itself rather than a record of
// what the run meant to do, so it is right whichever instant the run died at. One caveat: a
// record removed from the store by something other than papyrad while a dead run's manifest
// names it is archived too (it is gone, and archiving it is what the operator asked for).
//
// # Off the host
//
// With a Remote (Config.Remote; package archive/s3 is one), Dir only holds sealed archives.
// Seal also describes the sealed file (Info: records, first and last timestamps, sizes,
// SHA-256) and stages it on the remote, which checks what it stored, before the manifest is
// written: a run that cannot reach the remote fails before the store changes, and its staged
// object is removed by the next recovery. Publish and Recover ask the same question of the
// store and then make the final object there (from the staged object when every part is lost,
// from a rebuilt file otherwise), remove the staged object, and only then the local files. A
// final object already on the remote is kept as it is, so a run that died after its upload
// finished is not published twice; Recover then removes the staged objects and incomplete
// uploads that runs which died before sealing left.
package archive
