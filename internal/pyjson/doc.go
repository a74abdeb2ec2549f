// Package pyjson reads one line of a Papyra store the way Python does: whether
// json.loads(line.strip()) gives a dict, the dict's top-level "timestamp" with
// Python's number semantics, and the UTF-8 length of the dict's repr(), which
// Papyra's size limit measures. [Classify] returns all of it as a
// retention.Class without building the value; [Repr] builds the repr() text.
// When no size is asked for, Classify first tries a one-pass validator that
// keeps no per-key state (the age rule needs none); anything it does not
// accept goes to the full scanner, so both accept exactly the same lines.
//
// # Compatibility contract
//
// A line is a record exactly when Python's json.loads(line.strip()) returns a
// dict, with the json module's defaults (strict=True). In detail:
//
//   - The line is decoded as UTF-8; any invalid byte makes it a non-record.
//   - str.strip() removes Unicode whitespace at both ends (the 29 characters
//     for which str.isspace() is true, such as \v, \x1c, \x85, U+00A0,
//     U+2028 and U+3000); a line that is empty after that is blank.
//   - Between tokens only space, \t, \n and \r are whitespace. The literals
//     NaN, Infinity and -Infinity are accepted; raw control characters inside
//     strings are rejected; \ud83d\ude00-style escape pairs combine into one
//     code point while lone surrogates stay as they are.
//   - A duplicate key keeps its last value at the position of its first
//     occurrence, which is what Python's dict does and what repr() shows.
//   - An integer literal of more than 4300 digits is rejected, as by Python
//     3.11 and later with the default sys.get_int_max_str_digits(); Python
//     3.10 and earlier accepted it.
//   - Nesting deeper than 1000 containers is rejected. Python raises
//     RecursionError at a depth that depends on its interpreter's own stack
//     (a little under 1000 on 3.11, more on 3.12 and later), so stores with
//     such lines are not portable anyway; the fixed limit keeps the decision
//     deterministic and bounds the Go stack.
//
// A timestamp literal without fraction or exponent is an int, unbounded as in
// Python; any other is a float rounded as float() rounds it (1E400 is inf).
//
// Sizes follow CPython's repr(): dicts as {'k': v, ...}, lists as [a, b],
// True/False/None, integers in decimal, floats in their shortest round-trip
// form (fixed notation for decimal exponents from -4 to 16, scientific
// otherwise, inf, -inf and nan), and strings quoted and escaped the way
// str.__repr__ does, printable non-ASCII characters kept as they are.
//
// # Known deviation
//
// Whether a non-ASCII character is printable, and so kept or escaped by
// repr(), comes from Go's unicode tables (Unicode 15.0.0, the version of
// Python 3.12). Python 3.11 (Unicode 14.0.0) escapes the 4,482 characters
// first assigned in 15.0 (mostly CJK Extension H, U+31350–U+323AF), Python
// 3.13 (15.1.0) keeps CJK Extension I (U+2EBF0–U+2EE5D) that Go escapes, and
// Python 3.14 (16.0.0) keeps more still. Only strings containing those
// characters get a different size; everything else in the Unicode database
// agrees.
package pyjson
