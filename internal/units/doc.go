// Package units parses and formats the human units used in papyrad's
// configuration and command line: durations with days and weeks ("7d",
// "1w2d", "1h30m") and byte sizes with decimal or binary units ("512MiB",
// "1GB", "6000").
//
// The package is pure: no I/O, no clock. Parsers return errors that quote
// the input and say what was wrong; they never panic on any input, and
// every value produced by FormatDuration or FormatSize parses back to the
// same value. FormatAge is for people only ("29d 3h"): it rounds, and is
// never parsed.
package units
