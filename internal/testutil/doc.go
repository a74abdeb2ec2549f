// Package testutil is shared by papyrad's end-to-end tests: it writes records the way Papyra
// does, reads a store back line by line without using papyrad's own parser, and builds the
// programs under test. Nothing in the product imports it.
//
// The command in papyrawriter is the application side of the concurrency and crash tests: it
// appends records with a unique (writer, seq) either with open–append–close per record or
// through one long-lived append handle. StartWriter runs it from a test, which can pause it to
// read a store without a write in flight.
package testutil
