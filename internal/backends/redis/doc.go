// Package redis compacts the Redis Streams that Papyra's RedisStreamsPersistence writes: for a
// prefix and system id, the streams {prefix}:{system_id}:events, :audits and :dead_letters,
// each entry added with `XADD key * data <json>`. Retention applies to each stream on its own.
// Nothing else is touched: not Papyra's quarantine keys ({prefix}:{system_id}:quarantine:*),
// not other system ids, not other keys.
//
// # Why only a prefix
//
// A stream is a log ordered by entry ID, and the only way to remove entries in bulk is XTRIM,
// which removes a prefix: MINID removes every entry whose ID is below a given one. (XDEL removes
// single entries, but leaves the space of a radix-tree node allocated until all its entries are
// gone, and deleting scattered entries one by one is what bulk trimming exists to avoid.) So a
// run reads each stream from its head in pages (XRANGE … COUNT n), classifies every entry's
// data field the way Papyra reads it (json.loads must give a dict), and feeds the retention
// planner oldest first, with the entry's record timestamp deciding its age exactly as for the
// file stores. Entry IDs and timestamps need not agree: a record may be old while its ID is
// recent, or the reverse, and the decision follows the timestamp. The run then removes the
// longest prefix that retention drops, ending at the first entry retention keeps. Entries that
// retention drops after that one cannot be reached without removing a kept entry: they stay,
// and the report counts them as records_unreclaimed.
//
// With `age_basis: id` the age rule judges an entry by its ID's millisecond time instead. IDs
// are ordered, so the expired entries are exactly a prefix, found without reading the entries
// that stay: for a very large stream with only an age limit, a run reads just what it removes.
// The entries after the cut are then counted as records without being classified.
//
// An entry whose data is not a record (invalid JSON, not an object, empty, missing the data
// field) is not a record for retention. Inside the removed prefix it is first written to the
// run's quarantine file (package quarantine; the file is fsynced and named before the first
// trim, so nothing is ever removed before it is safe on disk) and counted as
// records_quarantined. After the first kept entry it stays, and `papyrad scan` lists it.
//
// # Bounded steps
//
// One `XTRIM key MINID id` over millions of entries frees every node at once and blocks the
// server while it does. A run trims in steps instead: `XTRIM key MINID ~ target LIMIT n`
// removes whole radix-tree nodes entirely below the target, at most n entries' worth, and stops
// at the first node that also holds the target; each step is short, and other clients' commands
// run between steps. How short is measured, not guessed: n starts at 200 and each step is
// sized from the time the steps before took, per entry (a decaying maximum: a slow step
// shrinks the next at once, fast ones grow it back slowly), so as to take about half a
// millisecond, changing by at most a factor of two per step, up to trim_step; and the run
// pauses after each step as long as the step took, so that the trim never has more than half
// the server's time. Pages of reads
// (XRANGE, at most 1000 entries) are sized the same way, without the pause. The server only ever frees whole nodes in an approximate trim (a node
// holds up to stream-node-max-entries entries, 100 by default), so a LIMIT smaller than a node
// frees nothing: when a step frees nothing while more than a node's worth of entries is still
// below the target, the step is raised to cover a node. When a step frees nothing and at most
// one node's entries are left below the target, one exact `XTRIM key MINID target` removes
// them: its work is bounded by the node. LIMIT is not allowed on exact trims.
//
// The target is the ID of the first kept entry, or, when everything read goes, the ID just
// above the last entry read. MINID removes entries below the target only, and the application's
// new entries always get IDs above every existing one, so entries added during a run are never
// removed, whatever retention would say of them; they are the next run's business. After the
// trim, the run checks the stream's head (XRANGE - + COUNT 1): it must be at or above the
// target, or the stream empty.
//
// Servers before 6.2 have no MINID and no LIMIT: there, the prefix is removed by ID, XDEL in
// batches. The server's version is read (INFO server) at the start of every run, and nothing
// is sent that it does not have.
//
// # The lock
//
// Any number of papyrad processes, on any number of hosts, may point at one Redis. A run that
// writes takes the store's lock first: the key {prefix}:{system_id}:papyrad:lock, set with
// SET NX PX to "host:pid:token" (a random token). The lock expires after its TTL (30s by
// default) unless refreshed; the run refreshes it before every page and trim step once a third
// of the TTL has passed, and deletes it at the end with a compare-and-delete script, so that it
// never deletes another holder's lock. A run that finds the lock held is skipped (result
// "skipped", reason "locked", errs.ErrLocked). A run whose refresh finds the lock gone or taken over
// stops before its next step with errs.ErrLockLost. A papyrad that dies leaves its lock to expire.
// Dry runs write nothing and take no lock.
//
// # Consumer groups
//
// Papyra's own Redis backend consumes through groups, so `acked` is the default. With
// `consumer_groups: delivered`, an entry a group has not been delivered yet (above its
// last-delivered-id, from XINFO GROUPS) is never trimmed; with `acked`, neither is an entry
// delivered but not acknowledged (from the oldest pending ID of XPENDING). The lowest of those
// floors over all groups caps the trim target; entries retention drops that the floor holds
// back are counted as unreclaimed and named in a warning. The floors are read again before
// every trim step, so a group created during a run is respected from the next step on. With
// `consumer_group_max_age`, an entry older than that (by its ID's time) no longer holds back
// retention: a group that has not consumed it by then loses it.
//
// Whatever the mode, just before each trim the run reads what every group has not acknowledged
// below the planned cut (above its last-delivered-id, and its pending entries by XPENDING's
// range form); once the trim is done, every trimmed entry among them is counted: a warning per
// group names the stream, the group, the count (never delivered, pending) and why (past
// consumer_group_max_age, or the mode), logged at warn level, and records_trimmed_past_groups
// counts each such entry once. A dry run reports what it would trim of them.
//
// # Figures
//
// records_before, records_after, records_dropped (entries actually trimmed that were records),
// records_quarantined and records_unreclaimed add up the three streams. bytes_before and
// bytes_after add up MEMORY USAGE of the three keys (the server's estimate from a sample of
// each stream's nodes); in a dry run, bytes_after is that estimate scaled by the entries that
// would stay. A server that refuses MEMORY USAGE gets the lengths of the data fields read
// instead. No files are involved: files_* are 0.
//
// A key of another type under one of the three names (WRONGTYPE) fails the whole run before
// any stream is changed, with an error naming the key: it usually means a wrong prefix or
// system id. A missing or empty stream is nothing to do.
//
// # Traffic
//
// Traffic (and Activity, the daemon's traffic guard's form of it) sums XINFO STREAM
// entries-added over the three streams: a counter of every entry ever added, which trims do
// not lower; sampled twice, its difference is the write rate. Servers before 7.0 do not count
// additions, and there the streams' summed length stands in, which undercounts when something
// trims the streams during the sample.
//
// # Connections
//
// Each command is retried a bounded number of times with backoff on connection errors (every
// command a run sends is idempotent: reads, trims to a fixed target, the lock's scripts), then
// the run fails with an error naming the server. Passwords never appear: every URL in errors,
// logs and reports goes through Redact, and error texts are scrubbed of the password. A
// password file (its trailing newline ignored) replaces the URL's password and is read again
// at every run. One standalone server (or a primary behind a proxy) is supported; Redis
// Cluster, where the three streams and the lock may live on different nodes, is not.
package redis
