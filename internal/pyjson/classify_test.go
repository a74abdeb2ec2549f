package pyjson

import (
	"fmt"
	"strings"
	"testing"

	"github.com/papyrad/papyrad/internal/retention"
)

func TestClassifyKind(t *testing.T) {
	tests := []struct {
		name string
		line string
		want retention.Kind
	}{
		{"empty", "", retention.Blank},
		{"spaces", "   ", retention.Blank},
		{"ascii whitespace", "\t\v\f \x1c\x1d\x1e\x1f", retention.Blank},
		{"unicode whitespace", "\u0085\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000", retention.Blank},
		{"empty object", "{}", retention.Record},
		{"padded", " \t{} ", retention.Record},
		{"python-only whitespace around", "\v\u3000{\"a\": 1}\u2028\x1c", retention.Record},
		{"json whitespace inside", "{ \"a\"\t:\r1 ,\n\"b\" : 2 }", retention.Record},
		{"non-finite literals", `{"a": NaN, "b": Infinity, "c": -Infinity}`, retention.Record},
		{"raw DEL in string", "{\"a\": \"\x7f\"}", retention.Record},
		{"raw non-ASCII", `{"a": "naïve café ☕ 日本語 😀"}`, retention.Record},
		{"lone surrogate escape", `{"a": "\ud800"}`, retention.Record},
		{"deep but allowed", "{\"a\": " + strings.Repeat("[", 999) + strings.Repeat("]", 999) + "}", retention.Record},

		{"zero width space is not whitespace", "\u200b{}", retention.NonRecord},
		{"byte order mark", "\ufeff{}", retention.NonRecord},
		{"mongolian vowel separator", "{}\u180e", retention.NonRecord},
		{"vertical tab between tokens", "{\"a\":\v1}", retention.NonRecord},
		{"array", "[1, 2, 3]", retention.NonRecord},
		{"string", `"just a string"`, retention.NonRecord},
		{"number", "12", retention.NonRecord},
		{"null", "null", retention.NonRecord},
		{"true", "true", retention.NonRecord},
		{"NaN", "NaN", retention.NonRecord},
		{"text", "this is not json", retention.NonRecord},
		{"truncated", `{"kind": "event", "truncated": tr`, retention.NonRecord},
		{"unterminated string", `{"a": "abc`, retention.NonRecord},
		{"unterminated object", `{"a": 1`, retention.NonRecord},
		{"unclosed array", `{"a": [1, 2}`, retention.NonRecord},
		{"trailing comma", `{"a":1,}`, retention.NonRecord},
		{"trailing comma in array", `{"a":[1,]}`, retention.NonRecord},
		{"lone comma", `{,}`, retention.NonRecord},
		{"missing colon", `{"a" 1}`, retention.NonRecord},
		{"missing comma", `{"a":1 "b":2}`, retention.NonRecord},
		{"single quotes", `{'a': 1}`, retention.NonRecord},
		{"bare key", `{a: 1}`, retention.NonRecord},
		{"extra data", `{"a":1}{}`, retention.NonRecord},
		{"extra text", `{"a":1} x`, retention.NonRecord},
		{"raw tab in string", "{\"a\": \"\t\"}", retention.NonRecord},
		{"raw NUL in string", "{\"a\": \"\x00\"}", retention.NonRecord},
		{"bad escape", `{"a": "\x41"}`, retention.NonRecord},
		{"short unicode escape", `{"a": "\u12"}`, retention.NonRecord},
		{"bad hex", `{"a": "\u12G4"}`, retention.NonRecord},
		{"bad second escape of a pair", `{"a": "\ud83d\uZZZZ"}`, retention.NonRecord},
		{"backslash at end", `{"a": "\`, retention.NonRecord},
		{"python literal", `{"a": True}`, retention.NonRecord},
		{"partial literal", `{"a": tru}`, retention.NonRecord},
		{"negative NaN", `{"a": -NaN}`, retention.NonRecord},
		{"partial infinity", `{"a": -Inf}`, retention.NonRecord},
		{"minus alone", `{"a": -}`, retention.NonRecord},
		{"dot without fraction", `{"a": 1.}`, retention.NonRecord},
		{"leading dot", `{"a": .5}`, retention.NonRecord},
		{"leading zero", `{"a": 01}`, retention.NonRecord},
		{"plus sign", `{"a": +1}`, retention.NonRecord},
		{"exponent without digits", `{"a": 1e}`, retention.NonRecord},
		{"hex number", `{"a": 0x10}`, retention.NonRecord},
		{"non-ASCII digit", `{"a": 1٣}`, retention.NonRecord},
		{"invalid UTF-8 in string", "{\"a\": \"\xff\"}", retention.NonRecord},
		{"invalid UTF-8 after", "{\"a\": 1}\xff", retention.NonRecord},
		{"invalid UTF-8 alone", "\xc3", retention.NonRecord},
		{"UTF-8 encoded surrogate", "{\"a\": \"\xed\xa0\x80\"}", retention.NonRecord},
		{"overlong UTF-8", "{\"a\": \"\xc0\xaf\"}", retention.NonRecord},
		{"too deep", "{\"a\": " + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + "}", retention.NonRecord},
		{"much too deep", strings.Repeat(`{"a":`, 200000), retention.NonRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, wantRepr := range []bool{false, true} {
				l := Classify([]byte(tc.line), wantRepr)
				if l.Kind != tc.want {
					t.Fatalf("Classify(%q, %v) = %v (%s), want %v", tc.line, wantRepr, l.Kind, l.Reason, tc.want)
				}
				if (l.Reason != "") != (l.Kind == retention.NonRecord) {
					t.Errorf("Classify(%q): reason %q for a %v", tc.line, l.Reason, l.Kind)
				}
			}
			if _, ok := Repr([]byte(tc.line)); ok != (tc.want == retention.Record) {
				t.Errorf("Repr(%q) ok = %v", tc.line, ok)
			}
		})
	}
}

func TestClassifyReason(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"a": 1, "b": tru}`, `invalid JSON at column 15: unexpected "t"`},
		{`{"a": 1`, `invalid JSON at column 8: expecting ',' or '}', found end of line`},
		{`{"a" 1}`, `invalid JSON at column 6: expecting ':' after a key, found "1"`},
		{`{"a": [1 2]}`, `invalid JSON at column 10: expecting ',' or ']', found "2"`},
		{`{1: 2}`, `invalid JSON at column 2: expecting a key in double quotes, found "1"`},
		{"{\"a\": \"x\ty\"}", `invalid JSON at column 9: control character U+0009 in a string`},
		{`{"a": "\q"}`, `invalid JSON at column 8: invalid escape`},
		{`{"a": "\u00G0"}`, `invalid JSON at column 8: invalid \uXXXX escape`},
		{`{"a": 1} 2`, `invalid JSON at column 10: extra data after the value: "2"`},
		{`{"a": -x}`, `invalid JSON at column 7: invalid number`},
		{"{\"a\": \"\u00e9\xff\"}", `invalid UTF-8 at byte 9`},
		{"{\"a\": 1 x \xff", `invalid UTF-8 at byte 10`}, // wins over the JSON error before it
		{"\u00a0[1]", `not a JSON object (array)`},
		{`"s"`, `not a JSON object (string)`},
		{`-1.5`, `not a JSON object (number)`},
		{`Infinity`, `not a JSON object (number)`},
		{`false`, `not a JSON object (boolean)`},
		{`null`, `not a JSON object (null)`},
		{`{"a": 1` + strings.Repeat("0", 4300) + `}`, `invalid JSON at column 7: integer with more than 4300 digits (Python refuses to convert it)`},
		{strings.Repeat("[", 1001), `invalid JSON at column 1001: nesting deeper than 1000 levels (Python raises RecursionError)`},
	}
	for _, tc := range tests {
		name := tc.line
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			l := Classify([]byte(tc.line), true)
			if l.Kind != retention.NonRecord || l.Reason != tc.want {
				t.Errorf("Classify(%.60q) = %v %q, want %q", tc.line, l.Kind, l.Reason, tc.want)
			}
		})
	}
}

// Expected values below come from CPython 3.11's json.loads and repr().

func TestReprFloat(t *testing.T) {
	tests := []struct{ json, repr string }{
		{"1e16", "1e+16"},
		{"1e15", "1000000000000000.0"},
		{"1e-05", "1e-05"},
		{"0.0001", "0.0001"},
		{"5e-324", "5e-324"},
		{"1.5e300", "1.5e+300"},
		{"100000000000000000000.0", "1e+20"},
		{"12345678901234567.0", "1.2345678901234568e+16"},
		{"1E400", "inf"},
		{"-1E400", "-inf"},
		{"NaN", "nan"},
		{"Infinity", "inf"},
		{"-Infinity", "-inf"},
		{"-0.0", "-0.0"},
		{"0.0", "0.0"},
		{"0.1", "0.1"},
		{"0.30000000000000004", "0.30000000000000004"},
		{"123456789.125", "123456789.125"},
		{"4102444800.123456", "4102444800.123456"},
		{"1e22", "1e+22"},
		{"2.5e-5", "2.5e-05"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"1e-400", "0.0"},
		{"-1e-400", "-0.0"},
		{"0e10", "0.0"},
		{"-0e-99999999999999999999", "-0.0"},
		{"9007199254740993.0", "9007199254740992.0"},
		{"1e100", "1e+100"},
		{"123e-7", "1.23e-05"},
		{"-2.5", "-2.5"},
		{"1.0e+0", "1.0"},
		{"0.00001234", "1.234e-05"},
		{"1234567890123456.0", "1234567890123456.0"},
		{"99999999999999999.0", "1e+17"},
		{"2.2250738585072014e-308", "2.2250738585072014e-308"},
		{"4.9406564584124654e-324", "5e-324"},
		{"0.000100", "0.0001"},
		{"1e-4", "0.0001"},
		{"1e-5", "1e-05"},
		{"9.999999999999999e15", "1e+16"},
		{"1e+016", "1e+16"},
		{"1" + strings.Repeat("0", 400) + ".0", "inf"},
		{"0." + strings.Repeat("0", 400) + "1", "0.0"},
		{"1.000000000000000000000000000000000000001", "1.0"},
	}
	for _, tc := range tests {
		t.Run(tc.json[:min(len(tc.json), 30)], func(t *testing.T) {
			checkRepr(t, `{"a": `+tc.json+`}`, "{'a': "+tc.repr+"}")
		})
	}
}

func TestReprInt(t *testing.T) {
	big := "1" + strings.Repeat("0", 4299) // 4300 digits: Python's limit
	tests := []struct{ json, repr string }{
		{"0", "0"},
		{"-0", "0"},
		{"-1", "-1"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"-9223372036854775809", "-9223372036854775809"},
		{big, big},
		{"-" + big, "-" + big},
	}
	for _, tc := range tests {
		t.Run(tc.json[:min(len(tc.json), 30)], func(t *testing.T) {
			checkRepr(t, `{"a": `+tc.json+`}`, "{'a': "+tc.repr+"}")
		})
	}
	for _, line := range []string{`{"a": ` + big + `0}`, `{"a": -` + big + `0}`, `{"a": [` + big + `0]}`} {
		if l := Classify([]byte(line), true); l.Kind != retention.NonRecord {
			t.Errorf("4301 digits: %v, want a non-record", l.Kind)
		}
	}
}

func TestReprString(t *testing.T) {
	tests := []struct {
		json, repr string
		size       int
	}{
		{`"it's"`, "\"it's\"", 6},
		{`"say \"hi\""`, "'say \"hi\"'", 10},
		{`"both ' and \""`, "'both \\' and \"'", 15},
		{`"tab\tnl\ncr\r"`, "'tab\\tnl\\ncr\\r'", 15},
		{`"\u0001\u001f\u007f"`, "'\\x01\\x1f\\x7f'", 14},
		{`"\u0080\u00a0\u00ad"`, "'\\x80\\xa0\\xad'", 14},
		{`"caf\u00e9 \u2028 \u200b"`, "'café \\u2028 \\u200b'", 21},
		{`"\ud800"`, "'\\ud800'", 8},
		{`"\udc00\ud800"`, "'\\udc00\\ud800'", 14},
		{`"\ud83d\ude00"`, "'😀'", 6},
		{`"\ud83d\u0041"`, "'\\ud83dA'", 9},
		{`"\\"`, "'\\\\'", 4},
		{`"日本語"`, "'日本語'", 11},
		{`"\u00ff\u0100\uffff"`, "'ÿĀ\\uffff'", 12},
		{`"\ud800\udc00"`, "'𐀀'", 6},
		{`"\b\f\/"`, "'\\x08\\x0c/'", 11},
		{`"\ue000"`, "'\\ue000'", 8},
		{`"\u0001"`, "'\\x01'", 6},
		{`"\u0378"`, "'\\u0378'", 8},
		{`"\udb40\udc01"`, "'\\U000e0001'", 12},
		{`"\u1680\u3000\u0085"`, "'\\u1680\\u3000\\x85'", 18},
		{`"''\""`, "'\\'\\'\"'", 7},
		{"\"\x7f\"", "'\\x7f'", 6},
		{`""`, "''", 2},
		{`"\u0027"`, "\"'\"", 3},
		{`"\u0022\u0027"`, "'\"\\''", 5},
		{`"` + strings.Repeat("long plain text ", 8) + `'` + `"`, `"` + strings.Repeat("long plain text ", 8) + `'"`, 131},
	}
	for _, tc := range tests {
		t.Run(tc.json[:min(len(tc.json), 30)], func(t *testing.T) {
			if len(tc.repr) != tc.size {
				t.Fatalf("bad test: len(%q) = %d, not %d", tc.repr, len(tc.repr), tc.size)
			}
			checkRepr(t, `{"a": `+tc.json+`}`, "{'a': "+tc.repr+"}")
			// As a key, too.
			checkRepr(t, `{`+tc.json+`: 0}`, "{"+tc.repr+": 0}")
		})
	}
}

// TestReprStringSpecialAtEveryOffset moves each kind of special character
// through a long string, across the 8-byte blocks of the fast scan.
func TestReprStringSpecialAtEveryOffset(t *testing.T) {
	specials := []struct{ json, repr string }{
		{`'`, `'`}, {`\"`, `"`}, {`\\`, `\\`}, {"\x7f", `\x7f`}, {`\n`, `\n`},
		{"é", "é"}, {"\u00a0", `\xa0`}, {"😀", "😀"}, {`\u0000`, `\x00`},
	}
	for _, sp := range specials {
		for off := range 40 {
			text := strings.Repeat("x", off) + sp.json + strings.Repeat("y", 40-off)
			want := strings.Repeat("x", off) + sp.repr + strings.Repeat("y", 40-off)
			quote := "'"
			if sp.json == `'` {
				quote = `"`
			}
			checkRepr(t, `{"a": "`+text+`"}`, "{'a': "+quote+want+quote+"}")
		}
	}
}

func TestReprDict(t *testing.T) {
	tests := []struct{ json, repr string }{
		{`{"a":1,"b":2,"a":3}`, "{'a': 3, 'b': 2}"},
		{`{"a": 1, "b": {"x": 1, "x": [1, {"y": 2, "y": 3}]}, "a": {"z": 0}}`, "{'a': {'z': 0}, 'b': {'x': [1, {'y': 3}]}}"},
		{`{"\u0061": 1, "a": 2}`, "{'a': 2}"},
		{`{"\ud83d\ude00": 1, "😀": 2, "\ud83d": 3, "\ud83d": 4}`, "{'😀': 2, '\\ud83d': 4}"},
		{`{"timestamp": 1.0, "timestamp": 4102444902.0}`, "{'timestamp': 4102444902.0}"},
		{`{"timest\u0061mp": 5}`, "{'timestamp': 5}"},
		{`{"payload": {"timestamp": 1.0}}`, "{'payload': {'timestamp': 1.0}}"},
		{`{"a": -0, "b": 0, "c": -1, "d": 123456789012345678901234567890}`, "{'a': 0, 'b': 0, 'c': -1, 'd': 123456789012345678901234567890}"},
		{`{"a": [], "b": {}, "c": [[]], "d": [1, "x", null, true, false]}`, "{'a': [], 'b': {}, 'c': [[]], 'd': [1, 'x', None, True, False]}"},
		{`{"k'ey": "v"}`, "{\"k'ey\": 'v'}"},
		{"{\"a\" : 1 ,\t\"b\"\r:\n2 }", "{'a': 1, 'b': 2}"},
		{`{"": 1, "": {"": 2, "": 3}}`, "{'': {'': 3}}"},
	}
	for _, tc := range tests {
		t.Run(tc.json, func(t *testing.T) { checkRepr(t, tc.json, tc.repr) })
	}
}

// TestReprManyKeys covers objects large enough for the hashed duplicate
// lookup, with duplicates written differently.
func TestReprManyKeys(t *testing.T) {
	var in, want strings.Builder
	in.WriteString("{")
	want.WriteString("{")
	const n = 100
	for i := range n {
		if i > 0 {
			in.WriteString(", ")
			want.WriteString(", ")
		}
		fmt.Fprintf(&in, `"k%d": %d`, i, i)
		v := i
		if i%10 == 3 {
			v = -i // overwritten below
		}
		fmt.Fprintf(&want, `'k%d': %d`, i, v)
	}
	for i := 3; i < n; i += 10 {
		fmt.Fprintf(&in, `, "\u006b%d": %d`, i, -i) // "\u006b" is "k"
	}
	in.WriteString("}")
	want.WriteString("}")
	checkRepr(t, in.String(), want.String())

	// A key repeated far apart in a large object, and a nested object
	// between the two.
	var b strings.Builder
	b.WriteString(`{"dup": 1`)
	for i := range 40 {
		fmt.Fprintf(&b, `, "x%d": {"dup": %d, "dup": 0}`, i, i)
	}
	b.WriteString(`, "dup": 2}`)
	var w strings.Builder
	w.WriteString(`{'dup': 2`)
	for i := range 40 {
		fmt.Fprintf(&w, `, 'x%d': {'dup': 0}`, i)
	}
	w.WriteString(`}`)
	checkRepr(t, b.String(), w.String())
}

func checkRepr(t *testing.T, line, want string) {
	t.Helper()
	got, ok := Repr([]byte(line))
	if !ok || got != want {
		t.Errorf("Repr(%.80q) = %q, %v; want %q", line, got, ok, want)
	}
	l := Classify([]byte(line), true)
	if l.Kind != retention.Record || l.ReprSize != int64(len(want)) {
		t.Errorf("Classify(%.80q) = %v (%s) size %d, want a record of size %d", line, l.Kind, l.Reason, l.ReprSize, len(want))
	}
}

func TestClassifyTimestamp(t *testing.T) {
	tests := []struct {
		line string
		kind retention.TimestampKind
		str  string
	}{
		{`{"kind": "event"}`, retention.TimestampMissing, "<missing>"},
		{`{"timestamp": null}`, retention.TimestampNull, "<null>"},
		{`{"timestamp": true}`, retention.TimestampBool, "True"},
		{`{"timestamp": false}`, retention.TimestampBool, "False"},
		{`{"timestamp": "2026-01-01"}`, retention.TimestampString, "<string>"},
		{`{"timestamp": [1]}`, retention.TimestampArray, "<array>"},
		{`{"timestamp": {"s": 1}}`, retention.TimestampObject, "<object>"},
		{`{"timestamp": 4102444901}`, retention.TimestampInt, "4102444901"},
		{`{"timestamp": -0}`, retention.TimestampInt, "0"},
		{`{"timestamp": 9223372036854775807}`, retention.TimestampInt, "9223372036854775807"},
		{`{"timestamp": -9223372036854775808}`, retention.TimestampInt, "-9223372036854775808"},
		{`{"timestamp": 9223372036854775808}`, retention.TimestampBigInt, "9223372036854775808"},
		{`{"timestamp": -9223372036854775809}`, retention.TimestampBigInt, "-9223372036854775809"},
		{`{"timestamp": 4102444800.864219}`, retention.TimestampFloat, "4102444800.864219"},
		{`{"timestamp": 1E400}`, retention.TimestampFloat, "inf"},
		{`{"timestamp": NaN}`, retention.TimestampFloat, "nan"},
		{`{"timestamp": Infinity}`, retention.TimestampFloat, "inf"},
		{`{"timestamp": -Infinity}`, retention.TimestampFloat, "-inf"},
		{`{"timestamp": 1.0, "timestamp": 4102444902.0}`, retention.TimestampFloat, "4102444902.0"},
		{`{"timestamp": 5, "timestamp": [1]}`, retention.TimestampArray, "<array>"},
		{`{"timest\u0061mp": 7}`, retention.TimestampInt, "7"},
		{`{"timestamp ": 7}`, retention.TimestampMissing, "<missing>"},
		{`{"kind": "event", "timestamp": 4102444900.5, "payload": {"timestamp": 1.0}}`, retention.TimestampFloat, "4102444900.5"},
		{`{"payload": {"timestamp": 1.0}}`, retention.TimestampMissing, "<missing>"},
		{`{"a": [{"timestamp": 1}], "timestamp": 2}`, retention.TimestampInt, "2"},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			for _, wantRepr := range []bool{false, true} {
				l := Classify([]byte(tc.line), wantRepr)
				if l.Kind != retention.Record {
					t.Fatalf("not a record: %s", l.Reason)
				}
				if l.Timestamp.Kind != tc.kind || TimestampRepr(l.Timestamp) != tc.str {
					t.Errorf("timestamp %v %s, want %v %s", l.Timestamp.Kind, TimestampRepr(l.Timestamp), tc.kind, tc.str)
				}
			}
		})
	}
}

// TestPrintableShortcut checks the range str treats as printable without a
// table lookup.
func TestPrintableShortcut(t *testing.T) {
	for r := rune(0xa1); r < 0x300; r++ {
		if want := r != 0xad; isPrintable(r) != want {
			t.Errorf("isPrintable(%U) = %v, the shortcut in str assumes %v", r, !want, want)
		}
	}
}

func TestPyStrip(t *testing.T) {
	for r := rune(0); r < 0x110000; r++ {
		if r >= 0xd800 && r < 0xe000 {
			continue
		}
		line := []byte(string(r) + "x" + string(r))
		start, end := pyStrip(line)
		stripped := start > 0
		if stripped && (string(line[start:end]) != "x" || end != len(line)-len(string(r))) {
			t.Fatalf("%U: stripped to %q", r, line[start:end])
		}
		if stripped != isPythonSpace(r) {
			t.Errorf("%U: stripped %v, Python's isspace %v", r, stripped, !stripped)
		}
	}
}

// isPythonSpace lists the characters for which Python 3's str.isspace() is
// true.
func isPythonSpace(r rune) bool {
	return strings.ContainsRune("\t\n\v\f\r\x1c\x1d\x1e\x1f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000", r)
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	line := []byte(`{"kind": "event", "system_id": "prod-eu-1", "actor_address": "actor://orders/worker-0", "event_type": "ActorStopped", "payload": {"reason": "naïve café ☕", "attempt": 0, "ratio": 123456789.125}, "timestamp": 978307200.6523992}`)
	for _, wantRepr := range []bool{false, true} {
		if n := testing.AllocsPerRun(100, func() { Classify(line, wantRepr) }); n != 0 {
			t.Errorf("Classify(wantRepr=%v) allocates %v times per line", wantRepr, n)
		}
	}
}
