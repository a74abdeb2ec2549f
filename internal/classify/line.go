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

// appendLines appends to lines the lines of block, at most limit of them, split as
// [ndjson.AppendLines] splits them and classified by c as [Line] classifies them; rest is
// what is left of block after them. A record as Papyra writes it, the common case, is found
// and checked in one pass.
func appendLines(c *pyjson.Classifier, lines []ndjson.Line, block []byte, off int64, wantRepr bool, limit int) (_ []ndjson.Line, rest []byte) {
	for range limit {
		if len(block) == 0 {
			break
		}
		if !wantRepr {
			if ts, n, ok := c.RecordLine(block); ok {
				lines = append(lines, ndjson.Line{Off: off, Raw: block[:n:n], Len: int64(n), Term: 1, Terminated: true,
					Class: retention.Class{Kind: retention.Record, Timestamp: ts}})
				block, off = block[n:], off+int64(n)
				continue
			}
		}
		// Any line may end at a "\r": looking for one costs a search of the line, and only
		// the lines that are not Papyra's records get here.
		l := ndjson.FirstLine(block, off, true)
		l.Class = lineWith(c, &l, wantRepr)
		lines = append(lines, l)
		block, off = block[l.Len:], off+l.Len
	}
	return lines, block
}
