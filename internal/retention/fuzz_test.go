package retention

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzClassify checks the classifier's invariants on any input: it never
// panics, Classify and Repr agree on what a record is and on its size, and
// asking for the size changes nothing else.
func FuzzClassify(f *testing.F) {
	paths, _ := filepath.Glob(fixtures + "json/*/*.ndjson")
	for _, path := range paths {
		for _, l := range readLines(f, path) {
			f.Add(l.text)
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
		if ok != (l.Kind == Record) {
			t.Fatalf("Classify says %v (%s), Repr ok = %v", l.Kind, l.Reason, ok)
		}
		switch l.Kind {
		case Record:
			if int64(len(r)) != l.ReprSize {
				t.Fatalf("ReprSize %d, len(Repr) %d: %q", l.ReprSize, len(r), r)
			}
			if !utf8.ValidString(r) { // repr() escapes lone surrogates
				t.Fatalf("Repr is not UTF-8: %q", r)
			}
			if l.Reason != "" {
				t.Fatalf("a record with a reason: %q", l.Reason)
			}
		case NonRecord:
			if l.Reason == "" {
				t.Fatal("a non-record without a reason")
			}
		case Blank:
			if !utf8.Valid(line) {
				t.Fatal("invalid UTF-8 classified blank")
			}
		}
		l0 := Classify(line, false)
		if l0.Kind != l.Kind || l0.Reason != l.Reason || l0.Timestamp != l.Timestamp || l0.ReprSize != 0 {
			t.Fatalf("wantRepr changes the result: %+v vs %+v", l0, l)
		}
		if l.Kind == Record && !utf8.Valid(line) {
			t.Fatal("invalid UTF-8 classified a record")
		}
	})
}

// FuzzPlanner compares the streaming planner with the reference on stores
// and policies decoded from the fuzzer's bytes.
func FuzzPlanner(f *testing.F) {
	f.Add(uint32(60000), uint8(3), uint16(500), false, []byte("\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0"))
	f.Add(uint32(0), uint8(0), uint16(40), true, []byte("abcdefghijklmnopqrstuvwxyz"))
	f.Add(uint32(0), uint8(5), uint16(0), false, []byte("\xff\xfe\xfd\x00\x01\x02\x03"))
	f.Add(uint32(1500), uint8(0), uint16(0), false, []byte("\x05\x05\x05\x09\x09\x09"))
	f.Fuzz(func(t *testing.T, maxAgeMs uint32, maxRecords uint8, maxBytes uint16, stored bool, data []byte) {
		p := Policy{
			MaxAge:        time.Duration(maxAgeMs) * time.Millisecond,
			MaxRecords:    int64(maxRecords),
			MaxTotalBytes: int64(maxBytes),
		}
		if stored {
			p.SizeBasis = SizeBasisStored
		}
		cutoff := float64(plannerNow.UnixNano())/1e9 - p.MaxAge.Seconds()
		var lines []refLine
		for i := 0; i+2 < len(data); i += 3 {
			kind, ts, size := data[i], data[i+1], data[i+2]
			var l Line
			switch kind % 16 {
			case 0:
				l.Kind = Blank
			case 1:
				l.Kind = NonRecord
			case 2:
				l.Kind = Record
				l.Timestamp = Timestamp{Kind: TimestampKind(ts % 9)}
				if l.Timestamp.Kind == TimestampFloat {
					l.Timestamp = floatTimestamp(math.NaN())
				}
			case 3:
				l.Kind = Record
				l.Timestamp = Timestamp{Kind: TimestampInt, bits: uint64(int64(cutoff) + int64(ts%8) - 4)}
			default:
				l.Kind = Record
				l.Timestamp = floatTimestamp(cutoff + float64(int(ts)-128)/16)
			}
			if l.Kind == Record {
				l.ReprSize = int64(size)
			}
			lines = append(lines, refLine{l, int64(kind>>4) * int64(size) / 4})
		}
		plan := planLines(lines, p, plannerNow)
		wantD, wantC := referencePlan(lines, p, plannerNow)
		if got := decisionsOf(plan); !slices.Equal(got, wantD) {
			t.Fatalf("decisions %v, reference %v", got, wantD)
		}
		if got := plan.Counts(); got != wantC {
			t.Fatalf("counts %+v, reference %+v", got, wantC)
		}
	})
}
