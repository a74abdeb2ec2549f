package ndjson

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type got struct {
	off        int64
	data       string
	n          int64
	terminated bool
	oversize   bool
}

func scanAll(t *testing.T, r io.Reader, finalCR bool, maxLine int) []got {
	t.Helper()
	s := NewScanner(r, 100, 4096, maxLine)
	s.FinalCR = finalCR
	var out []got
	for {
		l, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got{l.Off, string(l.Data()), l.Len, l.Terminated, l.Oversize})
	}
}

func TestScannerUniversalNewlines(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		finalCR bool
		want    []got
	}{
		{"empty", "", false, nil},
		{"lf", "a\nbc\n", false, []got{{100, "a", 2, true, false}, {102, "bc", 3, true, false}}},
		{"crlf", "a\r\nb\n", false, []got{{100, "a", 3, true, false}, {103, "b", 2, true, false}}},
		{"lone cr", "a\rb\n", false, []got{{100, "a", 2, true, false}, {102, "b", 2, true, false}}},
		{"blank lines", "\n\r\n", false, []got{{100, "", 1, true, false}, {101, "", 2, true, false}}},
		{"unterminated", "a\nxyz", false, []got{{100, "a", 2, true, false}, {102, "xyz", 3, false, false}}},
		{"cr at end, live file", "a\r", false, []got{{100, "a\r", 2, false, false}}},
		{"cr at end, final", "a\r", true, []got{{100, "a", 2, true, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				g := scanAll(t, r, tc.finalCR, 0)
				if len(g) != len(tc.want) {
					t.Fatalf("got %d lines %+v, want %+v", len(g), g, tc.want)
				}
				for i := range g {
					if g[i] != tc.want[i] {
						t.Errorf("line %d: got %+v, want %+v", i, g[i], tc.want[i])
					}
				}
			}
		})
	}
}

func TestScannerOversize(t *testing.T) {
	long := strings.Repeat("x", 20000)
	in := "a\n" + long + "\r\n" + "b\n" + long
	g := scanAll(t, iotest.HalfReader(strings.NewReader(in)), false, 5000)
	want := []got{
		{100, "a", 2, true, false},
		{102, "", 20002, true, true},
		{20104, "b", 2, true, false},
		{20106, "", 20000, false, true},
	}
	if len(g) != len(want) {
		t.Fatalf("got %+v", g)
	}
	for i := range g {
		if g[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i, g[i], want[i])
		}
	}
}

func TestScannerLongLineGrowsBuffer(t *testing.T) {
	long := strings.Repeat("y", 100000)
	g := scanAll(t, strings.NewReader(long+"\n"), false, 0)
	if len(g) != 1 || g[0].data != long || g[0].n != 100001 {
		t.Fatalf("long line not returned whole: %d lines", len(g))
	}
}

func FuzzScanner(f *testing.F) {
	f.Add([]byte("a\nb\r\nc\rd"), 4096, false)
	f.Add([]byte("\r\r\n\n\r"), 1, true)
	f.Fuzz(func(t *testing.T, in []byte, maxLine int, finalCR bool) {
		if maxLine < 1 || maxLine > 1<<16 {
			maxLine = 16
		}
		s := NewScanner(iotest.HalfReader(strings.NewReader(string(in))), 0, 4096, maxLine)
		s.FinalCR = finalCR
		var total int64
		for {
			l, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Off != total {
				t.Fatalf("line at %d, expected %d", l.Off, total)
			}
			if !l.Oversize && int64(len(l.Data())+l.Term) != l.Len {
				t.Fatalf("content %d + terminator %d != line %d", len(l.Data()), l.Term, l.Len)
			}
			if l.Terminated != (l.Term > 0) {
				t.Fatalf("terminated %v with a %d-byte terminator", l.Terminated, l.Term)
			}
			if !l.Oversize && (string(in[l.Off:l.Off+int64(len(l.Data()))]) != string(l.Data()) || string(in[l.Off:l.Off+l.Len]) != string(l.Raw)) {
				t.Fatalf("content mismatch at %d", l.Off)
			}
			total += l.Len
		}
		if total != int64(len(in)) {
			t.Fatalf("lines cover %d bytes of %d", total, len(in))
		}
	})
}

// blockAll reads r with Block, falling back on Next as a caller must, and splits the blocks
// with AppendLines, pieces lines at a time (cut with FirstLine).
func blockAll(t *testing.T, r io.Reader, finalCR bool, bufSize, maxLine, pieces int) []got {
	t.Helper()
	s := NewScanner(r, 100, bufSize, maxLine)
	s.FinalCR = finalCR
	var out []got
	var spare []byte
	add := func(l Line) {
		out = append(out, got{l.Off, string(l.Data()), l.Len, l.Terminated, l.Oversize})
	}
	for {
		if blk, off := s.Block(spare); blk != nil {
			held := string(blk) // later calls must not change a block handed out
			var lines []Line
			for rest := blk; len(rest) > 0; {
				n := 0
				for k := 0; k < pieces && n < len(rest); k++ {
					n += int(FirstLine(rest[n:], 0, true).Len)
				}
				lines = AppendLines(lines, rest[:n], off, len(lines)%2 == 0 || bytes.IndexByte(rest[:n], '\r') >= 0)
				rest, off = rest[n:], off+int64(n)
			}
			for _, l := range lines {
				if !l.Terminated {
					t.Fatalf("an unterminated line in a block: %+v", l)
				}
				add(l)
			}
			spare = nil
			if len(out)%2 == 0 {
				spare = make([]byte, 0, 2*bufSize)
			}
			defer func() {
				if string(blk) != held {
					t.Errorf("block at %d changed after it was handed out", off)
				}
			}()
			continue
		}
		l, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		add(l)
	}
}

// TestScannerBlock checks that reading in blocks gives the lines Next gives, whatever the
// terminators, line lengths and reads.
func TestScannerBlock(t *testing.T) {
	long := strings.Repeat("x", 9000)
	for _, in := range []string{
		"", "a\nb\r\nc\rd", "a\nb\r\nc\rd\r", "a\nb\r", "\r\r\n\n\r", "only\rcarriage\rreturns\r",
		strings.Repeat("short\n", 3000), "a\n" + long + "\r\n" + "b\n" + long, long + "\r" + long + "\n",
		strings.Repeat("\n", 5000) + "x",
	} {
		for _, finalCR := range []bool{false, true} {
			for _, maxLine := range []int{5000, 1 << 16} {
				want := scanAll(t, strings.NewReader(in), finalCR, maxLine)
				for _, r := range []func(io.Reader) io.Reader{
					func(r io.Reader) io.Reader { return r }, iotest.HalfReader, iotest.OneByteReader,
				} {
					g := blockAll(t, r(strings.NewReader(in)), finalCR, 4096, maxLine, 7)
					if len(g) != len(want) {
						t.Fatalf("%.40q finalCR=%v maxLine=%d: %d lines, want %d", in, finalCR, maxLine, len(g), len(want))
					}
					for i := range g {
						if g[i] != want[i] {
							t.Fatalf("%.40q line %d: got %+v, want %+v", in, i, g[i], want[i])
						}
					}
				}
			}
		}
	}
}

// FuzzScannerBlock compares reading in blocks with reading line by line.
func FuzzScannerBlock(f *testing.F) {
	f.Add([]byte("a\nb\r\nc\rd"), 16, uint8(3), false)
	f.Add([]byte("\r\r\n\n\r"), 1, uint8(1), true)
	f.Fuzz(func(t *testing.T, in []byte, maxLine int, pieces uint8, finalCR bool) {
		if maxLine < 1 || maxLine > 1<<16 {
			maxLine = 16
		}
		want := scanAll(t, strings.NewReader(string(in)), finalCR, maxLine)
		g := blockAll(t, iotest.HalfReader(strings.NewReader(string(in))), finalCR, 4096, maxLine, int(pieces)+1)
		if len(g) != len(want) {
			t.Fatalf("%d lines, want %d", len(g), len(want))
		}
		for i := range g {
			if g[i] != want[i] {
				t.Fatalf("line %d: got %+v, want %+v", i, g[i], want[i])
			}
		}
	})
}
