package retention

import "fmt"

// Kind says what Papyra would make of one line of a store.
type Kind uint8

const (
	// Blank is a line that is empty once Python's str.strip() has removed
	// its leading and trailing whitespace.
	Blank Kind = iota
	// Record is a line that json.loads turns into a dict.
	Record
	// NonRecord is anything else: invalid UTF-8, invalid or truncated JSON,
	// or valid JSON that is not an object (array, string, number, ...).
	NonRecord
)

func (k Kind) String() string {
	switch k {
	case Blank:
		return "blank"
	case Record:
		return "record"
	case NonRecord:
		return "non-record"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Class is what retention needs to know about one line: the planner's input.
// Package pyjson classifies a line's content the way Papyra reads it.
type Class struct {
	Kind Kind
	// Timestamp is the value of the record's top-level "timestamp" key (the
	// last one if the key is repeated). A "timestamp" nested deeper does not
	// count.
	Timestamp Timestamp
	// ReprSize is the UTF-8 length of Python's repr() of the decoded dict.
	// It is only computed when the classifier is asked for it; it is 0
	// otherwise and for blank and non-record lines.
	ReprSize int64
	// Reason says, for a NonRecord, why it is not a record, for example
	// `invalid JSON at column 17: unexpected "t"` (columns count bytes from
	// 1), `invalid UTF-8 at byte 40` (bytes count from 0) or
	// `not a JSON object (array)`.
	Reason string
}
