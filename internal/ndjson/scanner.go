package ndjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/papyrad/papyrad/internal/retention"
)

// DefaultMaxLine is the longest line whose content a Scanner hands out. Longer lines are
// reported as Oversize with no content: a store may hold one, but no Papyra record is that large
// and holding it in memory would let one bad line exhaust the process.
const DefaultMaxLine = 16 << 20

// Line is one logical line of a store: where it is, its bytes and, once package classify has
// looked at it, what it is for retention. It is the one line type the scanner, the classifier
// and the backends share.
type Line struct {
	Off        int64  // offset of the line's first byte in the file
	Raw        []byte // the stored bytes, terminator included; valid until the next Next; nil if Oversize
	Len        int64  // bytes the line occupies, terminator included
	Term       int    // bytes of the terminator: 0 (unterminated), 1 or 2
	Terminated bool   // false for a last line with no terminator (a write in progress or a crash remnant)
	Oversize   bool   // content longer than the scanner's limit; Raw is nil
	// Class is the line's classification. The Scanner leaves it zero; package classify sets it.
	Class retention.Class
}

// Data is the line's content without its terminator, sharing Raw's memory; nil if Oversize.
func (l *Line) Data() []byte {
	if l.Oversize {
		return nil
	}
	return l.Raw[:len(l.Raw)-l.Term]
}

// Scanner reads logical lines from a reader.
type Scanner struct {
	r       io.Reader
	buf     []byte
	start   int // first unconsumed byte in buf
	end     int // end of valid data in buf
	off     int64
	maxLine int
	eof     bool
	err     error
	// FinalCR says whether a lone "\r" at the very end of the stream ends a line. When the
	// stream is a snapshot of a file that may still be written, it may be the first half of
	// "\r\n", so it does not.
	FinalCR bool
}

// NewScanner returns a Scanner reading r, whose first byte is at offset base in the file.
// bufSize is the read size; maxLine bounds the content of one line (DefaultMaxLine if <= 0).
func NewScanner(r io.Reader, base int64, bufSize, maxLine int) *Scanner {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	if bufSize < 4096 {
		bufSize = 4096
	}
	return &Scanner{r: r, buf: make([]byte, bufSize), off: base, maxLine: maxLine}
}

// Offset returns the file offset of the next byte the scanner will report.
func (s *Scanner) Offset() int64 { return s.off }

// fill reads more data, compacting or growing the buffer as needed. It returns false at EOF
// or on error.
func (s *Scanner) fill() bool {
	if s.eof || s.err != nil {
		return false
	}
	if s.start > 0 {
		copy(s.buf, s.buf[s.start:s.end])
		s.end -= s.start
		s.start = 0
	}
	if s.end == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.eof = true
			} else {
				s.err = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// terminator finds the end of the line starting at s.start in the buffered data. It returns
// the content length and the terminator length, or ok=false if more data is needed.
func (s *Scanner) terminator() (content, term int, ok bool) {
	data := s.buf[s.start:s.end]
	nl := bytes.IndexByte(data, '\n')
	var window []byte
	if nl >= 0 {
		window = data[:nl]
	} else {
		window = data
	}
	if cr := bytes.IndexByte(window, '\r'); cr >= 0 {
		if cr+1 < len(data) {
			if data[cr+1] == '\n' {
				return cr, 2, true
			}
			return cr, 1, true
		}
		// "\r" is the last buffered byte: it may be followed by "\n".
		if s.eof {
			if s.FinalCR {
				return cr, 1, true
			}
			return 0, 0, false
		}
		return 0, 0, false
	}
	if nl >= 0 {
		return nl, 1, true
	}
	return 0, 0, false
}

// Next returns the next line, or io.EOF when the stream is exhausted.
func (s *Scanner) Next() (Line, error) {
	for {
		if content, term, ok := s.terminator(); ok {
			return s.take(content, term), nil
		}
		// Checked before the buffer grows again: a line is never buffered past the limit.
		if s.end-s.start >= s.maxLine {
			return s.skipOversize()
		}
		if !s.fill() {
			break
		}
	}
	if s.err != nil {
		return Line{}, fmt.Errorf("read at offset %d: %w", s.off+int64(s.end-s.start), s.err)
	}
	// At EOF a final lone "\r" may now count as a terminator.
	if content, term, ok := s.terminator(); ok {
		return s.take(content, term), nil
	}
	if s.start == s.end {
		return Line{}, io.EOF
	}
	line := Line{Off: s.off, Raw: s.buf[s.start:s.end], Len: int64(s.end - s.start)}
	s.off += line.Len
	s.start = s.end
	return line, nil
}

// take consumes the buffered line of content bytes and a terminator of term bytes.
func (s *Scanner) take(content, term int) Line {
	n := content + term
	line := Line{Off: s.off, Raw: s.buf[s.start : s.start+n], Len: int64(n), Term: term, Terminated: true}
	s.start += n
	s.off += int64(n)
	return line
}

// skipOversize consumes a line longer than maxLine without keeping it in memory.
func (s *Scanner) skipOversize() (Line, error) {
	line := Line{Off: s.off, Oversize: true}
	end := func(content, term int) Line {
		line.Len += int64(content + term)
		line.Term, line.Terminated = term, true
		s.start += content + term
		s.off = line.Off + line.Len
		return line
	}
	for {
		if content, term, ok := s.terminator(); ok {
			return end(content, term), nil
		}
		// Keep a trailing "\r" buffered: it may pair with a "\n" in the next read.
		keep := 0
		if s.end > s.start && s.buf[s.end-1] == '\r' {
			keep = 1
		}
		line.Len += int64(s.end - s.start - keep)
		s.start = s.end - keep
		if !s.fill() {
			break
		}
	}
	if s.err != nil {
		return Line{}, fmt.Errorf("read at offset %d: %w", line.Off+line.Len, s.err)
	}
	if content, term, ok := s.terminator(); ok {
		return end(content, term), nil
	}
	line.Len += int64(s.end - s.start)
	s.start = s.end
	s.off = line.Off + line.Len
	return line, nil
}
