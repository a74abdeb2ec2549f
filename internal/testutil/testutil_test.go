package testutil

import (
	"strings"
	"testing"
)

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string // Raw of each line
		last bool     // the last line is terminated
	}{
		{"", nil, true},
		{"a\n", []string{"a\n"}, true},
		{"a\r\nb\rc\n", []string{"a\r\n", "b\r", "c\n"}, true},
		{"a\n\nb", []string{"a\n", "\n", "b"}, false},
		{"a\r", []string{"a\r"}, true},
		{"\r\r\n", []string{"\r", "\r\n"}, true},
	}
	for _, tc := range tests {
		lines := SplitLines([]byte(tc.in))
		var got []string
		var joined strings.Builder
		for _, l := range lines {
			got = append(got, string(l.Raw))
			joined.Write(l.Raw)
			if !strings.HasPrefix(string(l.Raw), string(l.Data)) {
				t.Errorf("%q: Data %q is not a prefix of Raw %q", tc.in, l.Data, l.Raw)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("SplitLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if joined.String() != tc.in {
			t.Errorf("SplitLines(%q) does not cover the input", tc.in)
		}
		if len(lines) > 0 && lines[len(lines)-1].Terminated != tc.last {
			t.Errorf("SplitLines(%q): last line terminated = %v", tc.in, !tc.last)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, k := range []Key{{"A", 0}, {"orig", 123456789}} {
		for _, ts := range []float64{Now(), Old(42)} {
			rec := Record(k, ts)
			if rec[len(rec)-1] != '\n' {
				t.Fatalf("Record(%v) does not end with a newline", k)
			}
			got, gotTS, ok := ParseRecord(rec[:len(rec)-1])
			if !ok || got != k || gotTS-ts > 1e-6 || ts-gotTS > 1e-6 {
				t.Errorf("ParseRecord(Record(%v, %f)) = %v, %f, %v", k, ts, got, gotTS, ok)
			}
		}
	}
	rec := Record(Key{"A", 7}, Now())
	for _, bad := range [][]byte{
		rec[:len(rec)-5], // torn
		append(rec[:len(rec)-1:len(rec)-1], rec[:len(rec)-1]...), // two merged
		[]byte(strings.Replace(string(rec[:len(rec)-1]), `"seq": 7`, `"seq": x`, 1)),
		nil,
	} {
		if _, _, ok := ParseRecord(bad); ok {
			t.Errorf("ParseRecord(%q) accepted a damaged record", bad)
		}
	}
}

func TestParseContents(t *testing.T) {
	var b []byte
	b = AppendRecord(b, Key{"A", 0}, Now())
	b = AppendRecord(b, Key{"A", 1}, Now())
	b = AppendRecord(b, Key{"A", 1}, Now())
	b = append(b, "garbage\n"...)
	b = append(b, Record(Key{"A", 2}, Now())[:20]...)
	c := ParseContents(b)
	if c.Lines != 5 || len(c.Bad) != 2 || !c.Unterminated || c.Count[Key{"A", 1}] != 2 {
		t.Fatalf("ParseContents: lines %d, bad %d, unterminated %v, counts %v", c.Lines, len(c.Bad), c.Unterminated, c.Count)
	}
	if p := c.Problems(10); len(p) != 3 {
		t.Errorf("Problems() = %q, want 3 problems", p)
	}
}
