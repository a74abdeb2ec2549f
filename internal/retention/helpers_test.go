package retention_test

import (
	"os"
	"testing"
	"time"
)

// fixtures is where the Papyra-written fixtures live.
const fixtures = "../../testdata/papyra/"

// goldenNow is the "now" the fixture expectations hold for (any time between
// 2001 and 2100 does).
var goldenNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// storedLine is one logical line of a store and its size with terminator.
type storedLine struct {
	text   []byte
	stored int64
}

// splitLines splits a store as a backend does, on "\n", "\r\n" and a lone
// "\r" like Python's universal newlines.
func splitLines(data []byte) []storedLine {
	var out []storedLine
	start := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			out = append(out, storedLine{data[start:i], int64(i + 1 - start)})
			start = i + 1
		case '\r':
			end := i
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			out = append(out, storedLine{data[start:end], int64(i + 1 - start)})
			start = i + 1
		}
	}
	if start < len(data) {
		out = append(out, storedLine{data[start:], int64(len(data) - start)})
	}
	return out
}

func readLines(t testing.TB, path string) []storedLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return splitLines(data)
}

func TestSplitLines(t *testing.T) {
	got := splitLines([]byte("a\nb\r\nc\rd\r\r\ne"))
	want := []storedLine{{[]byte("a"), 2}, {[]byte("b"), 3}, {[]byte("c"), 2}, {[]byte("d"), 2}, {[]byte(""), 2}, {[]byte("e"), 1}}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i].text) != string(want[i].text) || got[i].stored != want[i].stored {
			t.Errorf("line %d: got %q/%d, want %q/%d", i, got[i].text, got[i].stored, want[i].text, want[i].stored)
		}
	}
}
