// Package ndjson splits NDJSON byte streams into logical lines exactly the way Papyra reads them,
// and holds [Line], the one type that describes a line of a store everywhere in papyrad.
//
// Papyra opens its stores in Python text mode, whose universal-newline reader ends a line at
// "\n", "\r\n" or a lone "\r". The [Scanner] reports each line with its offset, its content
// without the terminator and the bytes it occupies in the file, so that callers can copy kept
// lines back byte for byte. A line longer than the scanner's limit is reported as Oversize,
// with its size but not its bytes. [Scanner.Block] hands out the same lines a block at a time,
// for [AppendLines] to split elsewhere (package classify does it on every CPU).
//
// A Line also carries its retention.Class, which the Scanner leaves zero: package classify
// fills it in, and the file backends read both from the same value.
package ndjson
