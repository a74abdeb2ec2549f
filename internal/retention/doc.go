// Package retention decides which lines of a Papyra store survive a compaction.
//
// It is pure: it reads no files and no clock. A backend feeds it the store's
// lines, oldest first, each described by a [Class] (its [Kind] and, for a
// record, its [Timestamp] and repr size), and gets back one [Decision] per
// line. Package pyjson classifies a line the way Papyra reads it; this
// package only decides.
//
//   - [Policy] holds a store's limits.
//   - [Planner] applies a Policy in a single pass, with memory bounded by the
//     number of records kept, in the order of Papyra's apply_retention: age,
//     then count, then total size. A policy with only an age limit decides
//     each line as it is added ([Planner.Streaming]).
//   - [Plan] holds the decisions and [Counts] sums them up for the report.
//
// The age rule keeps a record whose timestamp is at least now - MaxAge,
// comparing as Python does: an int against a float exactly, whatever their
// magnitudes, and NaN never ([Timestamp.AtLeast]).
//
// # Deviations from Papyra
//
// Papyra compares a timestamp with the cutoff using Python's ordering, so a
// string, list or dict timestamp makes it raise TypeError and a bool compares
// as 0 or 1. Following the project's specification, a record whose timestamp
// is not an int or float (missing, null, bool, string, list, dict) is simply
// dropped by the age rule instead.
//
// A zero limit in [Policy] means "no limit" (Papyra's None), not Papyra's
// behaviour for a literal 0.
package retention
