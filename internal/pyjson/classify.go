package pyjson

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/papyrad/papyrad/internal/retention"
)

// Classify tells whether line is a Papyra record and extracts its timestamp
// and, when wantRepr is set, its repr size.
//
// line is one logical line without its terminator: the caller splits the
// store on "\n", "\r\n" and a lone "\r", as Python's universal newlines do.
// Classify does not keep line.
func Classify(line []byte, wantRepr bool) retention.Class {
	return classify(line, wantRepr, nil)
}

// classify is Classify, with keys (when not nil) to match remembered keys in.
func classify(line []byte, wantRepr bool, keys *keyCache) retention.Class {
	if !wantRepr {
		// The common case, records read for their timestamp only, takes the
		// fast path; the scanner says why a line is not a record.
		start, end := pyStrip(line)
		if start >= end {
			return retention.Class{Kind: retention.Blank}
		}
		if line[start] == '{' {
			if ts, ok := fastRecord(line[start:end], keys); ok {
				return retention.Class{Kind: retention.Record, Timestamp: ts}
			}
		}
	}
	var s scanner
	s.wantRepr = wantRepr
	return s.classify(line)
}

// Repr returns Python's repr() of the dict that line decodes to, and false
// if line is not a record. It is meant for tests and debugging; Classify
// measures the same text without building it.
func Repr(line []byte) (string, bool) {
	var s scanner
	s.wantRepr = true
	s.build = true
	l := s.classify(line)
	if l.Kind != retention.Record {
		return "", false
	}
	return string(s.out), true
}

// TimestampRepr shows a timestamp the way Python's repr() shows its value,
// or its kind when it is not a number or a bool. It is meant for tests and
// debugging.
func TimestampRepr(t retention.Timestamp) string {
	if t.Kind == retention.TimestampFloat {
		return string(appendFloatRepr(nil, t.Float64()))
	}
	return t.String()
}

// classify runs the scanner over one line; s must be fresh apart from its
// mode flags.
func (s *scanner) classify(line []byte) retention.Class {
	start, end := pyStrip(line)
	if start >= end {
		return retention.Class{Kind: retention.Blank}
	}
	s.b = line[:end]
	s.pos = start
	size := s.value(0, false)
	if s.err == errNone {
		s.skipWS()
		if s.pos != len(s.b) {
			s.fail(errExtra, s.pos)
		}
	}
	if s.err != errNone {
		return retention.Class{Kind: retention.NonRecord, Reason: s.reason(line)}
	}
	// A successful parse means every byte outside strings was ASCII and
	// every byte inside was checked, so the line is valid UTF-8.
	if c := line[start]; c != '{' {
		return retention.Class{Kind: retention.NonRecord, Reason: "not a JSON object (" + jsonTypeName(c) + ")"}
	}
	l := retention.Class{Kind: retention.Record, Timestamp: s.ts}
	if s.wantRepr {
		l.ReprSize = size
	}
	return l
}

func jsonTypeName(first byte) string {
	switch first {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// pyStrip returns the bounds of line once Python's str.strip() has removed
// Unicode whitespace from both ends. It stops at invalid UTF-8, which the
// parser then reports.
func pyStrip(line []byte) (start, end int) {
	end = len(line)
	for start < end {
		c := line[start]
		if c < utf8.RuneSelf {
			if !asciiSpace[c] {
				break
			}
			start++
			continue
		}
		r, n := utf8.DecodeRune(line[start:end])
		if !isPySpace(r) {
			break
		}
		start += n
	}
	for end > start {
		c := line[end-1]
		if c < utf8.RuneSelf {
			if !asciiSpace[c] {
				break
			}
			end--
			continue
		}
		r, n := utf8.DecodeLastRune(line[start:end])
		if !isPySpace(r) {
			break
		}
		end -= n
	}
	return start, end
}

// asciiSpace marks the ASCII characters for which Python's str.isspace() is
// true: \t \n \v \f \r, the separators \x1c-\x1f and space.
var asciiSpace = [utf8.RuneSelf]bool{
	'\t': true, '\n': true, '\v': true, '\f': true, '\r': true,
	0x1c: true, 0x1d: true, 0x1e: true, 0x1f: true, ' ': true,
}

// isPySpace reports whether Python's str.isspace() is true for a non-ASCII
// rune (the answer is the same in every Unicode version Python 3 has used
// since 3.7). utf8.RuneError, standing for an invalid byte, is not a space.
func isPySpace(r rune) bool {
	switch {
	case r == 0x85, r == 0xa0, r == 0x1680:
		return true
	case r >= 0x2000 && r <= 0x200a:
		return true
	case r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

type errCode uint8

const (
	errNone errCode = iota
	errEOF
	errUnexpected
	errNumber
	errKey
	errColon
	errObjectDelim
	errArrayDelim
	errControl
	errEscape
	errUEscape
	errUTF8
	errExtra
	errBigInt
	errDepth
)

// errText holds the message for each error; %s stands for the character
// found where the error was detected.
var errText = [...]string{
	errEOF:         "unexpected end of line",
	errUnexpected:  "unexpected %s",
	errNumber:      "invalid number",
	errKey:         "expecting a key in double quotes, found %s",
	errColon:       "expecting ':' after a key, found %s",
	errObjectDelim: "expecting ',' or '}', found %s",
	errArrayDelim:  "expecting ',' or ']', found %s",
	errControl:     "control character %s in a string",
	errEscape:      "invalid escape",
	errUEscape:     `invalid \uXXXX escape`,
	errUTF8:        "invalid UTF-8",
	errExtra:       "extra data after the value: %s",
	errBigInt:      "integer with more than 4300 digits (Python refuses to convert it)",
	errDepth:       "nesting deeper than 1000 levels (Python raises RecursionError)",
}

// reason formats the scanner's error for Class.Reason. Invalid UTF-8 wins
// over any JSON error, as Python fails to decode the line before parsing it.
func (s *scanner) reason(line []byte) string {
	for i := 0; i < len(line); {
		if line[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Sprintf("invalid UTF-8 at byte %d", i)
		}
		i += n
	}
	msg := errText[s.err]
	if strings.Contains(msg, "%s") {
		msg = fmt.Sprintf(msg, describeAt(line, s.errPos))
	}
	return fmt.Sprintf("invalid JSON at column %d: %s", s.errPos+1, msg)
}

// describeAt names the character at line[i] for an error message.
func describeAt(line []byte, i int) string {
	if i >= len(line) {
		return "end of line"
	}
	c := line[i]
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", string(rune(c)))
	}
	r, _ := utf8.DecodeRune(line[i:])
	return fmt.Sprintf("%U", r)
}
