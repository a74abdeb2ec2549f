// Package redis compacts the Redis Streams that Papyra's RedisStreamsPersistence writes: for a
// prefix and system id, the streams {prefix}:{system_id}:events, :audits and :dead_letters,
// each entry added with `XADD key * data <json>`. Retention applies to each stream on its own.
// Nothing else is touched: not Papyra's quarantine keys ({prefix}:{system_id}:quarantine:*),
// not other system ids, not other keys.
//
// A run reads each stream from its head in pages, classifies every entry's data field the way
// Papyra reads it, and removes the longest prefix that retention drops (XTRIM MINID; XDEL on
// servers before 6.2), ending at the first entry retention keeps: entries dropped after that
// one stay, counted as records_unreclaimed. Non-records inside the removed prefix go to the
// run's quarantine file first. With `age_basis: id` an entry's age is its ID's time.
//
// The trim runs in bounded steps (XTRIM … LIMIT n, sized from the time earlier steps took,
// with a pause after each) so that it never has more than half the server's time. A lock key,
// {prefix}:{system_id}:papyrad:lock, with a token and a TTL refreshed during the run, lets any
// number of papyrad processes share one server. Consumer groups hold back the trim (acked by
// default), and entries trimmed that a group had not acknowledged are counted and named.
// Commands are retried on connection errors, and passwords never appear (Redact).
//
// The design in full (why only a prefix, how steps are sized, the lock, consumer groups, the
// figures a run reports, traffic, connections) is in docs/design/redis.md.
package redis
