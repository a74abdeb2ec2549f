package pyjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil"
)

// scannerClassify is the full scanner's decision, the oracle of the fast
// path: the byte-by-byte parser that also measures repr sizes.
func scannerClassify(line []byte) retention.Class {
	var s scanner
	return s.classify(line)
}

// fastSeeds are lines that probe the fast path's edges: every value type as
// the timestamp, escapes in keys, whitespace JSON allows and Python's strip
// does, numbers on both sides of the exact conversion, and near misses.
var fastSeeds = []string{
	`{"timestamp": 1796081156.0556886}`, `{"timestamp": 1733180000.123456}`,
	`{"timestamp": 9007199254740993}`, `{"timestamp": 9007199254740993.0}`,
	`{"timestamp": 1e400}`, `{"timestamp": -1e-400}`, `{"timestamp": 12345678901234567890123}`,
	`{"timestamp": -0.0}`, `{"timestamp": -0}`, `{"timestamp": 0.1e-19}`, `{"timestamp": 1E+19}`,
	`{"timestamp": 4.9406564584124654e-324}`, `{"timestamp": 2.2250738585072011e-308}`,
	`{"timestamp": NaN}`, `{"timestamp": -Infinity}`, `{"timestamp": Infinity}`, `{"timestamp": -Inf}`,
	`{"timestamp": true}`, `{"timestamp": false}`, `{"timestamp": null}`, `{"timestamp": "1"}`,
	`{"timestamp": []}`, `{"timestamp": [1]}`, `{"timestamp": {}}`, `{"timestamp": {"timestamp": 1}}`,
	`{"timest\u0061mp": 7}`, `{"timestamp": 1, "timestamp": "x"}`, `{"a": {"timestamp": 1}}`,
	`{"timestamp\u0000": 1}`, `{"\ud800": 1, "timestamp": 2}`, `{"a":"\ud83d\ude00"}`,
	"{\"a\":\"caf\xc3\xa9\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\x7f\"}",
	"{\"a\":\"\x1f\"}", "{\r\n\t\"a\" :\t1 ,\"b\":[ 1 , 2 ] }", "\u3000{}\u2028", "{}\v",
	`{"a": 01}`, `{"a": 1.}`, `{"a": 1.e5}`, `{"a": 1e}`, `{"a": -}`, `{"a": .5}`, `{"a": +1}`,
	`{"a": tru}`, `{"a": nul}`, `{"a": "\x"}`, `{"a": "\u12"}`, `{"a": "abc\"def"}`, `{"a": "ab\\"}`,
	`{"a": 1,}`, `{"a" 1}`, `{"a": 1 "b": 2}`, `{"a": [1,]}`, `{"a": [,1]}`, `{"a": 1}}`, `{"a": 1} {}`,
	`{"a": "` + strings.Repeat("x", 300) + `\"` + strings.Repeat("y", 30) + `"}`,
	"{\"a\": " + strings.Repeat("[", 999) + strings.Repeat("]", 999) + "}",
	"{\"a\": " + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + "}",
	"{\"a\": " + strings.Repeat("{\"b\": ", 999) + "1" + strings.Repeat("}", 999) + "}",
	`{"a": ` + strings.Repeat("9", 4300) + `}`, `{"a": ` + strings.Repeat("9", 4301) + `}`,
	`{"a": -` + strings.Repeat("9", 4301) + `.5}`, `[]`, `"x"`, `1`, ``, `{`,
}

// FuzzFastRecord checks that the fast path decides every line exactly as
// the full scanner does: the same kind, timestamp and reason.
func FuzzFastRecord(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
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
	f.Fuzz(func(t *testing.T, line []byte) {
		got, want := Classify(line, false), scannerClassify(line)
		if got != want {
			t.Fatalf("%q: fast path %+v, scanner %+v", line, got, want)
		}
		if got := (*Classifier)(nil).Classify(line, false); got != want {
			t.Fatalf("%q, a nil Classifier: fast path %+v, scanner %+v", line, got, want)
		}
		// With the line's own keys remembered, matched where they recur.
		var c Classifier
		c.Classify(line, false)
		if got := c.Classify(line, false); got != want {
			t.Fatalf("%q, its keys remembered: fast path %+v, scanner %+v", line, got, want)
		}
	})
}

// FuzzClassifierKeys checks that what a Classifier remembers from one line never changes what
// it decides about the next: b is decided exactly as the scanner decides it after a.
func FuzzClassifierKeys(f *testing.F) {
	lines := [][]byte{
		[]byte(`{"kind": "event", "system_id": "s", "payload": {"timestamp": 1}, "timestamp": 1796081156.0556886}`),
		[]byte(`{"kind": "audit", "system_id": "s", "timestamp": 1796081156.5, "registry_size": 40, "registry_dead": []}`),
		[]byte(`{"timestamp": "x", "kind": "event"}`),
		[]byte(`{"kind": "event", "k\u0069nd": 1, "timest\u0061mp": 2, "cafÃ©_key": 3}`),
		[]byte(`{"kind":"event","timestamp":1}`),
	}
	for _, a := range lines {
		for _, b := range lines {
			f.Add(a, b)
		}
		f.Add(a, []byte(`["kind": "event"]`))
		f.Add(a, []byte(`{"x": "kind": 1}`))
		f.Add(a, []byte(`{"kind": `))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var c Classifier
		c.Classify(a, false)
		if got, want := c.Classify(b, false), scannerClassify(b); got != want {
			t.Fatalf("%q after %q: fast path %+v, scanner %+v", b, a, got, want)
		}
	})
}

// TestFastRecordSeeds runs the seeds through both parsers and checks that
// the fast path itself accepts the records among them (so that the
// comparison is not only between two runs of the scanner).
func TestFastRecordSeeds(t *testing.T) {
	records := 0
	for _, s := range fastSeeds {
		line := []byte(s)
		got, want := Classify(line, false), scannerClassify(line)
		if got != want {
			t.Errorf("%q: fast path %+v, scanner %+v", s, got, want)
		}
		start, end := pyStrip(line)
		_, ok := false, false
		if start < end && line[start] == '{' {
			_, ok = fastRecord(line[start:end], nil)
		}
		// A store's line holds no "\n" or "\r" (a Redis entry may): the fast path leaves a record
		// with them between its tokens to the scanner.
		if fast := want.Kind == retention.Record && !bytes.ContainsAny(line, "\r\n"); ok != fast {
			t.Errorf("%q: fastRecord says %v, the scanner %v", s, ok, want.Kind)
		}
		if ok {
			records++
		}
	}
	if records < 30 {
		t.Fatalf("only %d records among the seeds", records)
	}
}

// FuzzExactFloat compares the integer conversion of floats with strconv,
// which rounds as Python's float() does.
func FuzzExactFloat(f *testing.F) {
	for _, s := range []string{"1796081156.0556886", "9007199254740993", "9007199254740995.0",
		"0.1", "123456789.125", "1e-05", "1e+16", "9999999999999999999", "1.7976931348623157e19",
		"900719925474099.35", "90071992547409935e-1", "0.0000000000000000001", "18014398509481985"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		checkExactFloat(t, text)
	})
}

// TestExactFloatTies converts numbers whose value lies exactly halfway
// between two floats, or just beside, with the decimal point anywhere.
func TestExactFloatTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	converted := 0
	for range 200000 {
		m := rng.Uint64()>>rng.IntN(11) | 1<<53
		m &^= 1<<rng.IntN(12) - 1
		m += uint64(rng.IntN(3)) - 1
		s := strconv.FormatUint(m, 10)
		k := rng.IntN(len(s)) + 1
		text := s[:k]
		if k < len(s) {
			text += "." + s[k:]
		}
		if checkExactFloat(t, []byte(text)) {
			converted++
		}
	}
	if converted < 100000 {
		t.Fatalf("only %d of the numbers took the exact conversion", converted)
	}
}

// TestEpochFloat converts timestamps as time.time() writes them, with one to ten digits after
// the point and every kind of byte after them, inside a block of lines: those with one to eight
// digits and no exponent take epochFloat, and every one gets strconv's value.
func TestEpochFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200000 {
		secs := strconv.FormatUint(1_000_000_000+rng.Uint64N(9_000_000_000), 10)
		if rng.IntN(50) == 0 {
			secs = "0" + secs[1:] // a leading zero: not a JSON number
		}
		frac := rng.IntN(11)
		digits := make([]byte, frac)
		for k := range digits {
			digits[k] = byte('0' + rng.IntN(10))
		}
		num := secs + "." + string(digits)
		next := []string{"}", ", ", "e5", "E-3", "\n", " "}[rng.IntN(6)]
		block := []byte(num + next + `, "timestamp": 1}` + "\n" + `{"kind": "event"}`)
		_, _, fast := epochFloat(block, 0)
		wantFast := secs[0] != '0' && frac >= 1 && frac <= 8 && next[0]|0x20 != 'e'
		if fast != wantFast {
			t.Fatalf("%s: epochFloat took it: %v, want %v", block[:len(num)+len(next)], fast, wantFast)
		}
		f, end, ok := plainFloat(block, 0)
		if !ok {
			continue
		}
		text := block[:end]
		if want := parseFloat(text); math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("%s: plainFloat %v (%x), strconv %v (%x)", text, f, math.Float64bits(f), want, math.Float64bits(want))
		}
		if wantFast && end != len(num) {
			t.Fatalf("%s: plainFloat ends at %d, want %d", block, end, len(num))
		}
	}
}

// TestLemireFloat checks the multiplication on its own against strconv, for mantissas of
// every length and every power of ten it has, and that it leaves few to the division.
func TestLemireFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 400000
	done := 0
	for range n {
		m := rng.Uint64() >> rng.IntN(64)
		if m == 0 {
			continue
		}
		q := rng.IntN(2*len(pow10)-1) - (len(pow10) - 1)
		neg := rng.IntN(2) == 0
		f, ok := lemireFloat(m, q, neg)
		if !ok {
			continue
		}
		done++
		text := strconv.FormatUint(m, 10) + "e" + strconv.Itoa(q)
		if neg {
			text = "-" + text
		}
		if want := parseFloat([]byte(text)); math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("%s: %v (%x), strconv %v (%x)", text, f, math.Float64bits(f), want, math.Float64bits(want))
		}
	}
	if done < n*95/100 {
		t.Fatalf("only %d of %d conversions done by multiplication", done, n)
	}
}

// checkExactFloat checks exactFloat on text when it is a JSON number and
// reports whether exactFloat converted it.
func checkExactFloat(t *testing.T, text []byte) bool {
	t.Helper()
	if len(text) == 0 || (text[0] != '-' && !isDigit(text[0])) {
		return false
	}
	var ts retention.Timestamp
	end, ok := fastNumber(text, 0, false, &ts)
	if isDigit(text[0]) {
		// Alone, and followed by what follows a member's value.
		for _, b := range [][]byte{text, append(text[:len(text):len(text)], ", "...)} {
			if skipEnd, skipOK := skipNumber(b, 0); skipOK != ok || ok && skipEnd != end {
				t.Fatalf("%q: skipNumber ends at %d, %v; fastNumber at %d, %v", b, skipEnd, skipOK, end, ok)
			}
		}
	}
	if !ok || end != len(text) {
		return false
	}
	neg := text[0] == '-'
	digits := btoi(neg)
	i := digits
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	intEnd := i
	if i < len(text) && text[i] == '.' {
		for i++; i < len(text) && isDigit(text[i]); i++ {
		}
	}
	if intEnd == i && i < len(text) && text[i] != 'e' && text[i] != 'E' {
		return false
	}
	f, end, plain := plainFloat(text, 0)
	if plain {
		if want := parseFloat(text); end != len(text) || math.Float64bits(f) != math.Float64bits(want) {
			t.Fatalf("%s: plainFloat %v (%x) ending at %d, strconv %v (%x)", text, f, math.Float64bits(f), end, want, math.Float64bits(want))
		}
	}
	// Inside a block of lines, where plainFloat can read 24 bytes at once (epochFloat).
	inBlock := append(append([]byte(nil), text...), `}, "timestamp": 0}`+"\n"+`{"kind": "event"}`...)
	if f2, end2, ok := plainFloat(inBlock, 0); ok != plain || ok && (end2 != end || math.Float64bits(f2) != math.Float64bits(f)) {
		t.Fatalf("%s: plainFloat in a block %v (%x) ending at %d, %v; alone %v (%x) ending at %d, %v", text, f2, math.Float64bits(f2), end2, ok, f, math.Float64bits(f), end, plain)
	}
	got, ok := exactFloat(text, neg, digits, intEnd, i, len(text))
	if !ok {
		return false
	}
	want := parseFloat(text)
	if math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("%s: %v (%x), strconv %v (%x)", text, got, math.Float64bits(got), want, math.Float64bits(want))
	}
	return true
}
