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
	bufSize int // the buffer size asked for; Block's new buffers have at least this
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
	return NewScannerBuffer(r, base, make([]byte, max(bufSize, 4096)), maxLine)
}

// NewScannerBuffer is NewScanner reading into buf, memory the caller has no other use for:
// len(buf) is the read size (a buffer under 4096 bytes is replaced). See [Scanner.Buffer] to
// have it back.
func NewScannerBuffer(r io.Reader, base int64, buf []byte, maxLine int) *Scanner {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	if len(buf) < 4096 {
		buf = make([]byte, 4096)
	}
	return &Scanner{r: r, buf: buf, off: base, maxLine: maxLine, bufSize: len(buf)}
}

// Buffer returns the memory the scanner reads into now, which is the memory it was given or
// one of Block's next buffers, or, after a long line, a larger one. A caller that is done
// with the scanner and with the lines it returned may use it again.
func (s *Scanner) Buffer() []byte { return s.buf }

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
		// A line longer than the buffer: grow in large steps, up to the line limit, since
		// every buffer outgrown stays in the process's memory until the runtime returns it.
		n := 4 * len(s.buf)
		if n > s.maxLine && len(s.buf) < s.maxLine {
			n = s.maxLine
		}
		n = max(n, 2*len(s.buf))
		nb := make([]byte, n)
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

// Block returns, at offset off, a run of whole lines: those Next would return one by one from
// the data buffered now (reading more if none is complete yet), up to the last whose
// terminator the buffered bytes settle. The block (with the capacity after it) is the caller's: the scanner goes on in next
// (its capacity reused if large enough, otherwise a new buffer), so the block stays valid
// after later calls. [AppendLines] splits it. Block returns nil when the next line is not
// one Next would return whole from the buffer (a line over the limit, a last line without a
// terminator, a lone "\r" at the end of the stream, or an error): Next returns it.
func (s *Scanner) Block(next []byte) (block []byte, off int64) {
	searched := 0 // bytes from s.start known to end no line (bar a last "\r")
	for {
		data := s.buf[s.start:s.end]
		cut := 0
		if i := bytes.LastIndexByte(data[searched:], '\n'); i >= 0 {
			cut = searched + i + 1
		}
		// A "\r" after the last "\n" ends a line too, unless it is the last byte buffered
		// (it may be the first half of "\r\n").
		from := max(cut, searched)
		if cr := bytes.LastIndexByte(data[from:], '\r'); cr >= 0 && from+cr+1 < len(data) {
			cut = from + cr + 1
		}
		if cut > 0 {
			rest := data[cut:]
			nb := next[:cap(next)]
			if len(nb) < s.bufSize || len(nb) < 2*len(rest) {
				nb = make([]byte, max(s.bufSize, 2*len(rest)))
			}
			s.end = copy(nb, rest)
			s.start = 0
			s.buf = nb
			off = s.off
			s.off += int64(cut)
			return data[:cut], off
		}
		searched = max(len(data)-1, 0)
		if s.end-s.start >= s.maxLine || !s.fill() {
			return nil, s.off
		}
	}
}

// AppendLines appends to lines the lines of block, which starts at offset off and holds
// whole lines (a [Scanner.Block]); their Raw share block's memory. cr says whether block may
// hold a "\r": false only when the caller has seen that it does not.
func AppendLines(lines []Line, block []byte, off int64, cr bool) []Line {
	for len(block) > 0 {
		l := FirstLine(block, off, cr)
		lines = append(lines, l)
		block = block[l.Len:]
		off += l.Len
	}
	return lines
}

// FirstLine returns the first line of block, a non-empty run of whole lines (as for
// [AppendLines]) that starts at offset off; its Raw shares block's memory.
func FirstLine(block []byte, off int64, cr bool) Line {
	n, term := lineEnd(block, cr)
	l := n + term
	return Line{Off: off, Raw: block[:l:l], Len: int64(l), Term: term, Terminated: term > 0}
}

// lineEnd returns the content and terminator lengths of the line at the start of block;
// cr says whether block holds a "\r" at all.
func lineEnd(block []byte, cr bool) (content, term int) {
	n, term := bytes.IndexByte(block, '\n'), 1
	if n < 0 { // only a "\r" can end the last line
		n, term = len(block), 0
	}
	if cr {
		if i := bytes.IndexByte(block[:n], '\r'); i >= 0 {
			n, term = i, 1
			if i+1 < len(block) && block[i+1] == '\n' {
				term = 2
			}
		}
	}
	return n, term
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
