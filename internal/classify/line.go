package classify

import (
	"fmt"

	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// Line is the retention engine's view of one line of a store file: its content as
// pyjson.Classify sees it, except that an oversize line is not a record, and neither is an
// unterminated one (a crash remnant; the caller keeps a write in progress out).
func Line(l *ndjson.Line, wantRepr bool) retention.Class {
	return lineWith(nil, l, wantRepr)
}

// lineWith is Line, with c (when not nil) remembering the keys of the lines it has seen.
func lineWith(c *pyjson.Classifier, l *ndjson.Line, wantRepr bool) retention.Class {
	switch {
	case l.Oversize:
		return retention.Class{Kind: retention.NonRecord, Reason: fmt.Sprintf("line of %d bytes is over the %d-byte limit for a record", l.Len, ndjson.DefaultMaxLine)}
	case !l.Terminated:
		c := pyjson.Classify(l.Data(), false)
		if c.Kind == retention.Blank {
			return c
		}
		return retention.Class{Kind: retention.NonRecord, Reason: "unterminated last line left by an interrupted write"}
	}
	return c.Classify(l.Data(), wantRepr)
}
