package testutil

import (
	"bytes"
	"fmt"
	"os"
)

// Line is one line of a store as Python's universal-newline reader sees it.
type Line struct {
	Off        int64  // offset of its first byte
	Raw        []byte // its bytes with the terminator
	Data       []byte // its bytes without the terminator
	Terminated bool   // false for a last line without "\n", "\r\n" or "\r"
}

// SplitLines splits b at "\n", "\r\n" and a lone "\r". A "\r" at the very end counts as a
// terminator. The lines share b's memory.
func SplitLines(b []byte) []Line {
	var out []Line
	start := 0
	for start < len(b) {
		rest := b[start:]
		nl := bytes.IndexByte(rest, '\n')
		seg := rest
		if nl >= 0 {
			seg = rest[:nl]
		}
		if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
			end := cr + 1
			if end < len(rest) && rest[end] == '\n' {
				end++
			}
			out = append(out, Line{Off: int64(start), Raw: rest[:end], Data: rest[:cr], Terminated: true})
			start += end
			continue
		}
		if nl < 0 {
			out = append(out, Line{Off: int64(start), Raw: rest, Data: rest})
			break
		}
		out = append(out, Line{Off: int64(start), Raw: rest[:nl+1], Data: rest[:nl], Terminated: true})
		start += nl + 1
	}
	return out
}

// Contents is a store written by test writers, read back and checked line by line.
type Contents struct {
	Size  int64
	Lines int
	// Count says how often each record appears; a correct store has 1 everywhere.
	Count map[Key]int
	// Stamp is the timestamp of each record.
	Stamp map[Key]float64
	// Bad lists the lines that are not records as Record writes them (torn, merged, blank).
	Bad []Line
	// Unterminated is set when the file does not end with a line terminator.
	Unterminated bool
}

// ReadContents reads the store at path.
func ReadContents(path string) (*Contents, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseContents(b), nil
}

// ParseContents checks every line of b.
func ParseContents(b []byte) *Contents {
	lines := SplitLines(b)
	c := &Contents{
		Size:  int64(len(b)),
		Lines: len(lines),
		Count: make(map[Key]int, len(lines)),
		Stamp: make(map[Key]float64, len(lines)),
	}
	for _, l := range lines {
		if !l.Terminated {
			c.Unterminated = true
		}
		k, ts, ok := ParseRecord(l.Data)
		if !ok || !l.Terminated || len(l.Raw) != len(l.Data)+1 || l.Raw[len(l.Data)] != '\n' {
			c.Bad = append(c.Bad, l)
			continue
		}
		c.Count[k]++
		c.Stamp[k] = ts
	}
	return c
}

// Problems lists, at most limit of them, the ways the contents break the rules every test
// holds a store to: each line a whole record, no record twice.
func (c *Contents) Problems(limit int) []string {
	var out []string
	add := func(format string, args ...any) bool {
		if len(out) < limit {
			out = append(out, fmt.Sprintf(format, args...))
			return true
		}
		return false
	}
	for _, l := range c.Bad {
		if !add("corrupt line at offset %d: %q", l.Off, Abbrev(l.Raw, 120)) {
			break
		}
	}
	for k, n := range c.Count {
		if n != 1 && !add("record %s appears %d times", k, n) {
			break
		}
	}
	return out
}

// Abbrev shortens b for a failure message.
func Abbrev(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return fmt.Sprintf("%s…(%d bytes)", b[:n], len(b))
}
