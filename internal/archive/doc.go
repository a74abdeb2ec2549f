// Package archive keeps the records a compaction run drops, for operators who must retain what
// retention removes from the live store. A run writes them, in store order and byte for byte,
// to a file of its own
//
//	<dir>/<store>/<UTC date>/<run id>.ndjson.zst   (or .ndjson.gz, or .ndjson)
//
// readable with the standard zstd and gzip tools (zstd -dc, zcat). Quarantined non-records never
// go there: they have their quarantine file.
//
// The archive is written under a hidden pending name, one compressed frame per part (segment,
// stream or file), and sealed (fsynced, with a manifest naming its parts) before the backend
// changes the store (Seal). Once the store has changed, Publish puts under the final name the
// parts whose records the store has really lost, asking the store itself part by part; after
// a crash, Recover asks the same question. Each record is therefore in exactly one published
// archive once it has left the store, and in none while it is still there. With a Remote
// (package archive/s3 is one) the sealed file is staged there before the store changes, and
// the final object is made there.
//
// The protocol step by step, the argument for exactly once, its one caveat, and the remote
// case are in docs/design/archive.md.
package archive
