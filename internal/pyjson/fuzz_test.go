package pyjson

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil"
)

// FuzzClassify checks the classifier's invariants on any input: it never
// panics, Classify and Repr agree on what a record is and on its size, and
// asking for the size changes nothing else.
func FuzzClassify(f *testing.F) {
	paths, _ := filepath.Glob(fixtures + "json/*/*.ndjson")
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range testutil.SplitLines(data) {
			f.Add(l.Data)
		}
	}
	if file, err := os.Open(fixtures + "repr_sizes.ndjson"); err == nil {
		sc := bufio.NewScanner(file)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c struct {
				Line string `json:"line"`
			}
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				f.Add([]byte(c.Line))
			}
		}
		file.Close()
	}
	for _, s := range []string{
		"", "\u3000", `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`, `{"timestamp": 1E400}`,
		`{"a": "\ud83d\ude00\ud800"}`, "{\"a\": \"\xff\"}", `[{}]`, `{"a": -0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		l := Classify(line, true)
		r, ok := Repr(line)
		if ok != (l.Kind == retention.Record) {
			t.Fatalf("Classify says %v (%s), Repr ok = %v", l.Kind, l.Reason, ok)
		}
		switch l.Kind {
		case retention.Record:
			if int64(len(r)) != l.ReprSize {
				t.Fatalf("ReprSize %d, len(Repr) %d: %q", l.ReprSize, len(r), r)
			}
			if !utf8.ValidString(r) { // repr() escapes lone surrogates
				t.Fatalf("Repr is not UTF-8: %q", r)
			}
			if l.Reason != "" {
				t.Fatalf("a record with a reason: %q", l.Reason)
			}
		case retention.NonRecord:
			if l.Reason == "" {
				t.Fatal("a non-record without a reason")
			}
		case retention.Blank:
			if !utf8.Valid(line) {
				t.Fatal("invalid UTF-8 classified blank")
			}
		}
		l0 := Classify(line, false)
		if l0.Kind != l.Kind || l0.Reason != l.Reason || l0.Timestamp != l.Timestamp || l0.ReprSize != 0 {
			t.Fatalf("wantRepr changes the result: %+v vs %+v", l0, l)
		}
		if l.Kind == retention.Record && !utf8.Valid(line) {
			t.Fatal("invalid UTF-8 classified a record")
		}
	})
}
