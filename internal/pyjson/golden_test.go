package pyjson

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/papyrad/papyrad/internal/retention"
)

// fixtures is where the Papyra-written fixtures live.
const fixtures = "../../testdata/papyra/"

// TestGoldenReprSizes checks every case of repr_sizes.ndjson: the UTF-8
// length of Python's repr() of the decoded dict.
func TestGoldenReprSizes(t *testing.T) {
	f, err := os.Open(fixtures + "repr_sizes.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		var c struct {
			Line string `json:"line"`
			Len  int64  `json:"repr_utf8_len"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		l := Classify([]byte(c.Line), true)
		r, ok := Repr([]byte(c.Line))
		if l.Kind != retention.Record || !ok {
			t.Errorf("line %d %s: %v (%s), want a record", n, c.Line, l.Kind, l.Reason)
			continue
		}
		if l.ReprSize != c.Len || int64(len(r)) != c.Len {
			t.Errorf("line %d %s: ReprSize %d, len(Repr) %d (%s), want %d", n, c.Line, l.ReprSize, len(r), r, c.Len)
		}
		if l0 := Classify([]byte(c.Line), false); l0.ReprSize != 0 || l0.Kind != retention.Record {
			t.Errorf("line %d: without wantRepr got %+v", n, l0)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 200 {
		t.Fatalf("only %d cases read", n)
	}
}
