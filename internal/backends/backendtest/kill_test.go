package backendtest

import (
	"slices"
	"testing"

	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/testutil"
)

// TestTornFragment holds the kill loop's one allowance to exactly the state a forward cut
// short leaves, and nothing near it.
func TestTornFragment(t *testing.T) {
	rec := func(w string, seq int64) []byte {
		return testutil.Record(testutil.Key{Writer: w, Seq: seq}, testutil.Now())
	}
	before := slices.Concat(rec("a", 0), rec("a", 1))
	block := slices.Concat(rec("fwd", 0), rec("fwd", 1), rec("fwd", 2))
	fw := livefile.Unfinished{DestSize: int64(len(before)), Block: block}
	l1 := len(rec("fwd", 0))
	glue := rec("b", 7)

	for _, c := range []struct {
		name string
		file []byte
		fw   livefile.Unfinished
		want bool
	}{
		{"cut in the first line, ending the file", slices.Concat(before, block[:20]), fw, true},
		{"cut in the second line, ending the file", slices.Concat(before, block[:l1+30]), fw, true},
		{"cut, then a writer's record glued on", slices.Concat(before, block[:l1+30], glue), fw, true},
		{"glued record sharing bytes with the block", slices.Concat(before, block[:l1+1], glue), fw, true},
		{"the block started before the size recorded", slices.Concat(before[:len(before)-5], block[:20]), fw, false},
		// Records share their first bytes; these fragments go on past them.
		{"a fragment of another line", slices.Concat(before, rec("a", 2)[:l1-5]), fw, false},
		{"a fragment where whole lines of the block are missing", slices.Concat(before, block[l1:2*l1-5]), fw, false},
		{"a fragment followed by a fragment", slices.Concat(before, block[:20], glue[:30], []byte("\n")), fw, false},
		{"a fragment not at the end", slices.Concat(before, block[:20], []byte("\n"), rec("a", 2)), fw, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := testutil.SplitLines(c.file)
			got := false
			for _, l := range lines {
				if _, _, ok := testutil.ParseRecord(l.Data); !ok || !l.Terminated {
					got = tornFragment(c.file, l, c.fw)
				}
			}
			if got != c.want {
				t.Errorf("tornFragment = %v, want %v", got, c.want)
			}
		})
	}
}
