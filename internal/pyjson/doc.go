// Package pyjson reads one line of a Papyra store the way Python does: whether
// json.loads(line.strip()) gives a dict, the dict's top-level "timestamp" with
// Python's number semantics, and the UTF-8 length of the dict's repr(), which
// Papyra's size limit measures. [Classify] returns all of it as a
// retention.Class without building the value; [Repr] builds the repr() text.
// When no size is asked for, Classify first tries a one-pass validator that
// keeps no per-key state (the age rule needs none); anything it does not
// accept goes to the full scanner, so both accept exactly the same lines.
// A [Classifier] decides the same, faster on lines that repeat the keys of
// earlier ones.
//
// A line is a record exactly when Python's json.loads(line.strip()) returns a
// dict, with the json module's defaults (strict=True): UTF-8, str.strip()'s
// Unicode whitespace, NaN and Infinity accepted, duplicate keys as Python's
// dict keeps them, at most 4300 digits in an integer and 1000 levels of
// nesting. Sizes follow CPython's repr().
//
// The compatibility contract in full, and the one known deviation (which
// non-ASCII characters repr() keeps depends on the Unicode version), are in
// docs/design/pyjson.md.
package pyjson
