package pyjson

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/papyrad/papyrad/internal/retention"
)

const (
	// maxDepth is the deepest nesting of objects and arrays accepted; see the
	// package documentation.
	maxDepth = 1000
	// maxIntDigits is Python's default int_max_str_digits.
	maxIntDigits = 4300
	// linearKeys is how many keys an object may have before duplicate keys
	// are looked up through a hash index instead of a linear scan.
	linearKeys = 32
)

// scanner is a recursive-descent parser for one line that follows the
// grammar of CPython's json scanner and, as it goes, counts the length of
// the decoded value's repr() (wantRepr) or writes it out (build).
//
// Errors are recorded in err/errPos; after a failure every method returns
// promptly and the results are meaningless.
type scanner struct {
	b        []byte // the line up to the end of its stripped text
	pos      int
	wantRepr bool
	build    bool
	out      []byte // build: the repr text so far

	// The keys of the objects being parsed, as a stack: each object owns the
	// entries from the depth it found on entry. The first entries live in
	// the scanner itself so that ordinary lines need no allocation.
	mem      [16]member
	memMore  []member     // entries beyond mem; its length is a high-water mark
	nmem     int          // the stack's depth
	memSpans []memberSpan // build: where each entry's repr text is

	ts retention.Timestamp // the top-level "timestamp" seen last

	// The string scanned last.
	strStart, strEnd int // its content, between the quotes
	strEsc           bool
	strDecLen        int // its decoded length, in (generalised) UTF-8 bytes
	strSQ            int // number of ' characters
	strDQ            bool

	err    errCode
	errPos int
}

// member is a key of an object being parsed, with its value's repr size.
type member struct {
	kStart, kEnd int // raw key content in scanner.b
	kLen         int // decoded length
	kEsc         bool
	valSize      int64 // repr size of the current (last) value
}

// memberSpan locates, in scanner.out, the repr of a member's key and of its
// current value.
type memberSpan struct{ kOut, kOutEnd, vOut, vEnd int }

// member returns the i-th entry of the member stack.
func (s *scanner) member(i int) *member {
	if i < len(s.mem) {
		return &s.mem[i]
	}
	return &s.memMore[i-len(s.mem)]
}

// reserve pushes an entry on the member stack and returns it.
func (s *scanner) reserve() *member {
	i := s.nmem
	s.nmem++
	if s.build {
		if i == len(s.memSpans) {
			s.memSpans = append(s.memSpans, memberSpan{})
		}
	}
	if i < len(s.mem) {
		return &s.mem[i]
	}
	if j := i - len(s.mem); j == len(s.memMore) {
		s.memMore = append(s.memMore, member{})
	}
	return &s.memMore[i-len(s.mem)]
}

// keySig returns a one-bit signature of a key's decoded text (from its
// length and first byte), so that a key whose bit is not yet set in an
// object cannot repeat an earlier one.
func (s *scanner) keySig(m *member) uint64 {
	var c byte
	if m.kEnd > m.kStart {
		c = s.b[m.kStart]
		if c == '\\' {
			r, _ := decodeNext(s.b[m.kStart:m.kEnd], 0)
			var buf [4]byte
			c = appendWTF8(buf[:0], r)[0]
		}
	}
	return 1 << ((uint(m.kLen)*7 + uint(c)) & 63)
}

func (s *scanner) fail(code errCode, pos int) {
	if s.err == errNone {
		s.err = code
		s.errPos = pos
	}
}

func (s *scanner) skipWS() {
	b := s.b
	i := s.pos
	if i < len(b) && b[i] > ' ' { // the usual case
		return
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	s.pos = i
}

// value parses one JSON value at s.pos and returns its repr size. depth is
// the nesting depth of the container holding it (0 at top level). capture
// says whether the value is the top-level "timestamp".
func (s *scanner) value(depth int, capture bool) int64 {
	b := s.b
	i := s.pos
	if i >= len(b) {
		s.fail(errEOF, i)
		return 0
	}
	switch c := b[i]; c {
	case '"':
		if capture {
			s.ts = retention.Timestamp{Kind: retention.TimestampString}
		}
		n := s.str()
		if s.build && s.err == errNone {
			s.out = appendPyStr(s.out, b[s.strStart:s.strEnd], s.strSQ, s.strDQ)
		}
		return n
	case '{':
		if capture {
			s.ts = retention.Timestamp{Kind: retention.TimestampObject}
		}
		return s.object(depth + 1)
	case '[':
		if capture {
			s.ts = retention.Timestamp{Kind: retention.TimestampArray}
		}
		return s.array(depth + 1)
	case 't':
		if capture {
			s.ts = retention.BoolTimestamp(true)
		}
		return s.literal("true", "True")
	case 'f':
		if capture {
			s.ts = retention.BoolTimestamp(false)
		}
		return s.literal("false", "False")
	case 'n':
		if capture {
			s.ts = retention.Timestamp{Kind: retention.TimestampNull}
		}
		return s.literal("null", "None")
	case 'N':
		if capture {
			s.ts = retention.FloatTimestamp(nan)
		}
		return s.literal("NaN", "nan")
	case 'I':
		if capture {
			s.ts = retention.FloatTimestamp(posInf)
		}
		return s.literal("Infinity", "inf")
	case '-':
		if i+1 < len(b) && b[i+1] == 'I' {
			if capture {
				s.ts = retention.FloatTimestamp(negInf)
			}
			return s.literal("-Infinity", "-inf")
		}
		return s.number(capture)
	default:
		if c >= '0' && c <= '9' {
			return s.number(capture)
		}
		s.fail(errUnexpected, i)
		return 0
	}
}

// literal consumes lit and returns the length of its Python repr.
func (s *scanner) literal(lit, repr string) int64 {
	if !bytes.HasPrefix(s.b[s.pos:], []byte(lit)) {
		if lit[0] == '-' {
			s.fail(errNumber, s.pos)
		} else {
			s.fail(errUnexpected, s.pos)
		}
		return 0
	}
	s.pos += len(lit)
	if s.build {
		s.out = append(s.out, repr...)
	}
	return int64(len(repr))
}

func (s *scanner) object(depth int) int64 {
	if depth > maxDepth {
		s.fail(errDepth, s.pos)
		return 0
	}
	b := s.b
	outStart := len(s.out)
	s.pos++ // '{'
	s.skipWS()
	if s.pos < len(b) && b[s.pos] == '}' {
		s.pos++
		if s.build {
			s.out = append(s.out, "{}"...)
		}
		return 2
	}
	if s.build {
		s.out = append(s.out, '{')
	}
	base := s.nmem
	var index map[uint64]int // built once the object has many keys
	var seen uint64          // keySig bits of the keys so far
	size := int64(2)         // the braces
	dup := false
	for {
		if s.pos >= len(b) || b[s.pos] != '"' {
			s.fail(errKey, s.pos)
			return 0
		}
		ksize := s.str()
		if s.err != errNone {
			return 0
		}
		// The key goes on the member stack at once; it is dropped again if
		// it repeats an earlier key.
		slot := s.nmem
		key := s.reserve()
		*key = member{kStart: s.strStart, kEnd: s.strEnd, kLen: s.strDecLen, kEsc: s.strEsc}
		var span memberSpan
		if s.build {
			span.kOut = len(s.out)
			s.out = appendPyStr(s.out, b[s.strStart:s.strEnd], s.strSQ, s.strDQ)
			span.kOutEnd = len(s.out)
			s.out = append(s.out, ": "...)
		}
		s.skipWS()
		if s.pos >= len(b) || b[s.pos] != ':' {
			s.fail(errColon, s.pos)
			return 0
		}
		s.pos++
		s.skipWS()

		found, h := -1, uint64(0)
		sig := s.keySig(key)
		switch n := slot - base; {
		case n == 0:
		case index == nil && n < linearKeys:
			if seen&sig != 0 {
				found = s.findLinear(base, slot)
			}
		default:
			if index == nil {
				index = make(map[uint64]int, 2*n)
				for k := base; k < slot; k++ {
					if hk := s.keyHash(s.member(k)); index[hk] == 0 {
						index[hk] = k + 1
					}
				}
			}
			h = s.keyHash(key)
			if k := index[h]; k != 0 {
				if s.sameKey(s.member(k-1), key) {
					found = k - 1
				} else { // a hash collision: look everywhere
					found = s.findLinear(base, slot)
				}
			}
		}
		seen |= sig
		capture := depth == 1 && s.isTimestampKey(key)

		vOut := len(s.out)
		vsize := s.value(depth, capture)
		if s.err != errNone {
			return 0
		}
		// Nested objects have popped their own keys: s.nmem is slot+1.
		if found >= 0 {
			s.nmem = slot
			m := s.member(found)
			size += vsize - m.valSize
			m.valSize = vsize
			if s.build {
				s.memSpans[found].vOut, s.memSpans[found].vEnd = vOut, len(s.out)
			}
			dup = true
		} else {
			if slot > base {
				size += 2 // ", "
			}
			size += ksize + 2 + vsize
			s.member(slot).valSize = vsize
			if s.build {
				span.vOut, span.vEnd = vOut, len(s.out)
				s.memSpans[slot] = span
			}
			if index != nil && index[h] == 0 {
				index[h] = slot + 1
			}
		}

		s.skipWS()
		if s.pos < len(b) {
			switch b[s.pos] {
			case ',':
				s.pos++
				s.skipWS()
				if s.build {
					s.out = append(s.out, ", "...)
				}
				continue
			case '}':
				s.pos++
				if s.build {
					s.out = append(s.out, '}')
					if dup {
						s.rebuild(outStart, base)
					}
				}
				s.nmem = base
				return size
			}
		}
		s.fail(errObjectDelim, s.pos)
		return 0
	}
}

// rebuild rewrites the repr of an object that had duplicate keys so that
// each key appears once, at its first position, with its last value.
func (s *scanner) rebuild(outStart, base int) {
	old := append([]byte(nil), s.out[outStart:]...)
	s.out = append(s.out[:outStart], '{')
	for k, m := range s.memSpans[base:s.nmem] {
		if k > 0 {
			s.out = append(s.out, ", "...)
		}
		s.out = append(s.out, old[m.kOut-outStart:m.kOutEnd-outStart]...)
		s.out = append(s.out, ": "...)
		s.out = append(s.out, old[m.vOut-outStart:m.vEnd-outStart]...)
	}
	s.out = append(s.out, '}')
}

// findLinear returns the index of the earlier key of the object starting at
// base that equals the key in slot, or -1.
func (s *scanner) findLinear(base, slot int) int {
	key := s.member(slot)
	for k := base; k < slot; k++ {
		if s.sameKey(s.member(k), key) {
			return k
		}
	}
	return -1
}

// sameKey reports whether two keys decode to the same string.
func (s *scanner) sameKey(a, b *member) bool {
	if a.kLen != b.kLen {
		return false
	}
	ka, kb := s.b[a.kStart:a.kEnd], s.b[b.kStart:b.kEnd]
	if !a.kEsc && !b.kEsc {
		return bytes.Equal(ka, kb)
	}
	i, j := 0, 0
	for i < len(ka) && j < len(kb) {
		var ra, rb rune
		ra, i = decodeNext(ka, i)
		rb, j = decodeNext(kb, j)
		if ra != rb {
			return false
		}
	}
	return i == len(ka) && j == len(kb)
}

var keySeed = maphash.MakeSeed()

// keyHash hashes a key's decoded text (lone surrogates encoded like any
// other code point), so that equal keys hash alike however they are escaped.
func (s *scanner) keyHash(m *member) uint64 {
	raw := s.b[m.kStart:m.kEnd]
	if !m.kEsc {
		return maphash.Bytes(keySeed, raw)
	}
	dec := make([]byte, 0, m.kLen)
	for i := 0; i < len(raw); {
		var r rune
		r, i = decodeNext(raw, i)
		dec = appendWTF8(dec, r)
	}
	return maphash.Bytes(keySeed, dec)
}

// isTimestampKey reports whether a key decodes to "timestamp".
func (s *scanner) isTimestampKey(m *member) bool {
	if m.kLen != len("timestamp") {
		return false
	}
	raw := s.b[m.kStart:m.kEnd]
	if !m.kEsc {
		return string(raw) == "timestamp"
	}
	const want = "timestamp"
	k := 0
	for i := 0; i < len(raw); k++ {
		var r rune
		r, i = decodeNext(raw, i)
		if k >= len(want) || r != rune(want[k]) {
			return false
		}
	}
	return k == len(want)
}

func (s *scanner) array(depth int) int64 {
	if depth > maxDepth {
		s.fail(errDepth, s.pos)
		return 0
	}
	b := s.b
	s.pos++ // '['
	s.skipWS()
	if s.pos < len(b) && b[s.pos] == ']' {
		s.pos++
		if s.build {
			s.out = append(s.out, "[]"...)
		}
		return 2
	}
	if s.build {
		s.out = append(s.out, '[')
	}
	size := int64(2)
	for first := true; ; first = false {
		if !first {
			size += 2 // ", "
		}
		size += s.value(depth, false)
		if s.err != errNone {
			return 0
		}
		s.skipWS()
		if s.pos < len(b) {
			switch b[s.pos] {
			case ',':
				s.pos++
				s.skipWS()
				if s.build {
					s.out = append(s.out, ", "...)
				}
				continue
			case ']':
				s.pos++
				if s.build {
					s.out = append(s.out, ']')
				}
				return size
			}
		}
		s.fail(errArrayDelim, s.pos)
		return 0
	}
}

// str scans the string starting at s.pos (its opening quote), validating it
// as CPython's scanstring does with strict=True, records its extent in the
// scanner and returns the length of its repr() when wantRepr is set (the
// count of ASCII text is kept regardless; it is cheap).
func (s *scanner) str() int64 {
	b := s.b
	i := s.pos + 1
	start := i
	var n int64 // repr length of the characters, before quote escaping
	sq, dq, esc, adj := 0, false, false, 0
	for {
		// Runs of plain text are short in most records: look at up to 16
		// bytes one at a time, then switch to 8 at a time.
		j := i
		lim := min(j+16, len(b))
		for j < lim && plainASCII[b[j]] {
			j++
		}
		if j == lim {
			for j+8 <= len(b) {
				if m := specialBytes(binary.LittleEndian.Uint64(b[j:])); m != 0 {
					j += bits.TrailingZeros64(m) >> 3
					break
				}
				j += 8
			}
			for j < len(b) && plainASCII[b[j]] {
				j++
			}
		}
		n += int64(j - i)
		i = j
		if i >= len(b) {
			s.fail(errEOF, i)
			return 0
		}
		c := b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			s.strStart, s.strEnd = start, i
			s.strEsc, s.strDecLen = esc, i-start+adj
			s.strSQ, s.strDQ = sq, dq
			size := n + 2
			if sq > 0 && dq { // repr uses ' and escapes each one
				size += int64(sq)
			}
			return size
		case c == '\'':
			sq++
			n++
			i++
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				s.fail(errEOF, i+1)
				return 0
			}
			switch b[i+1] {
			case '"':
				dq = true
				n++
			case '\\':
				n += 2
			case '/':
				n++
			case 'b', 'f':
				n += 4
			case 'n', 'r', 't':
				n += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					s.fail(errUEscape, i)
					return 0
				}
				raw := 6
				if r >= 0xd800 && r < 0xdc00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
					if r2, ok := hex4(b, i+8); ok && r2 >= 0xdc00 && r2 < 0xe000 {
						r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
						raw = 12
					}
				}
				adj += wtf8Len(r) - raw
				i += raw
				switch {
				case r == '\'':
					sq++
					n++
				case r == '"':
					dq = true
					n++
				case r < utf8.RuneSelf:
					n += int64(asciiReprLen[r])
				case s.wantRepr:
					n += int64(reprLenNonASCII(r))
				}
				continue
			default:
				s.fail(errEscape, i)
				return 0
			}
			adj--
			i += 2
		case c < 0x20:
			s.fail(errControl, i)
			return 0
		case c == 0x7f:
			n += 4
			i++
		default: // c >= 0x80
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				s.fail(errUTF8, i)
				return 0
			}
			if s.wantRepr {
				if r < 0x300 && r >= 0xa1 && r != 0xad {
					n += 2 // printable Latin-1 and Latin Extended
				} else {
					n += int64(reprLenNonASCII(r))
				}
			}
			i += size
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialBytes flags (in its high bit) each byte of the 8 in x, read little
// endian, that is not in plainASCII: a control character, ", ', \\, DEL or a
// non-ASCII byte. The lowest flag is always exact; flags above it may be
// spurious, which is all a scan for the first such byte needs.
func specialBytes(x uint64) uint64 {
	zero := func(v uint64) uint64 { return (v - lsb) &^ v & msb }
	return zero(x^(lsb*'"')) | zero(x^(lsb*'\\')) | zero(x^(lsb*'\'')) |
		(x-lsb*0x20)&^x&msb | // < 0x20
		(x|(x+lsb))&msb // >= 0x7f
}

// hex4 decodes the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// decodeNext decodes one character of string content already validated by
// str, combining surrogate pairs as Python does.
func decodeNext(b []byte, i int) (rune, int) {
	c := b[i]
	if c < utf8.RuneSelf {
		if c != '\\' {
			return rune(c), i + 1
		}
		switch b[i+1] {
		case 'b':
			return '\b', i + 2
		case 'f':
			return '\f', i + 2
		case 'n':
			return '\n', i + 2
		case 'r':
			return '\r', i + 2
		case 't':
			return '\t', i + 2
		case 'u':
			r, _ := hex4(b, i+2)
			if r >= 0xd800 && r < 0xdc00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if r2, ok := hex4(b, i+8); ok && r2 >= 0xdc00 && r2 < 0xe000 {
					return 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00), i + 12
				}
			}
			return r, i + 6
		}
		return rune(b[i+1]), i + 2 // \" \\ \/
	}
	r, n := utf8.DecodeRune(b[i:])
	return r, i + n
}

// wtf8Len is the UTF-8 length of a code point, counting a lone surrogate as
// the three bytes it would take if UTF-8 allowed it.
func wtf8Len(r rune) int {
	switch {
	case r < 0x80:
		return 1
	case r < 0x800:
		return 2
	case r < 0x10000:
		return 3
	}
	return 4
}

// appendWTF8 appends r in UTF-8, lone surrogates included (see wtf8Len).
func appendWTF8(b []byte, r rune) []byte {
	if r >= 0xd800 && r < 0xe000 {
		return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return utf8.AppendRune(b, r)
}

// number scans the number at s.pos (see lexNumber) and returns its repr size, capturing it
// as the timestamp when capture is set.
func (s *scanner) number(capture bool) int64 {
	b := s.b
	start := s.pos
	neg, digits, intEnd, fracEnd, i, isFloat, ok := lexNumber(b, start)
	if !ok {
		s.fail(errNumber, start)
		return 0
	}
	s.pos = i
	text := b[start:i]

	if !isFloat {
		nd := intEnd - digits
		if nd > maxIntDigits {
			s.fail(errBigInt, start)
			return 0
		}
		if capture {
			s.ts = intTimestamp(text)
		}
		negZero := neg && nd == 1 && b[digits] == '0'
		if s.build {
			if negZero {
				s.out = append(s.out, '0')
			} else {
				s.out = append(s.out, text...)
			}
		}
		if negZero {
			return 1
		}
		return int64(len(text))
	}

	if !capture && !s.wantRepr {
		return 0
	}
	var f float64
	parsed := false
	if capture || s.build {
		f = parseFloat(text)
		parsed = true
		if capture {
			s.ts = retention.FloatTimestamp(f)
		}
		if s.build {
			s.out = appendFloatRepr(s.out, f)
		}
	}
	if !s.wantRepr {
		return 0
	}
	if n, ok := floatReprLenFromText(b, digits, intEnd, fracEnd, i, neg); ok {
		return n
	}
	if !parsed {
		f = parseFloat(text)
	}
	return floatReprLen(f)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lexNumber finds the number at b[i] as CPython's json scanner does:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, the fraction and the exponent only taken
// when complete, an int when neither is present and a float otherwise. It returns where its
// parts end: the integer digits are digits..intEnd, the fraction intEnd+1..fracEnd (if
// fracEnd > intEnd), the exponent fracEnd..end (if end > fracEnd). ok is false when no
// number starts there. (Plain results, not a struct: they stay in registers on a hot path.)
func lexNumber(b []byte, i int) (neg bool, digits, intEnd, fracEnd, end int, isFloat, ok bool) {
	neg = b[i] == '-'
	if neg {
		i++
	}
	digits = i
	if i >= len(b) || !isDigit(b[i]) {
		return
	}
	intEnd = intPartEnd(b, i)
	fracEnd = fractionEnd(b, intEnd)
	end = exponentEnd(b, fracEnd)
	return neg, digits, intEnd, fracEnd, end, end > intEnd, true
}

// intPartEnd returns the index after the integer part that starts with the digit at b[i]: a
// lone 0, or digits that do not start with one.
func intPartEnd(b []byte, i int) int {
	if b[i] == '0' {
		return i + 1
	}
	for i++; i < len(b) && isDigit(b[i]); i++ {
	}
	return i
}

// fractionEnd returns the index after the fraction (a '.' and at least one digit) at b[i],
// or i when none is there.
func fractionEnd(b []byte, i int) int {
	if i+1 < len(b) && b[i] == '.' && isDigit(b[i+1]) {
		for i += 2; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i
}

// exponentEnd returns the index after the exponent (an 'e' or 'E', maybe a sign, and at
// least one digit) at b[i], or i when none is there.
func exponentEnd(b []byte, i int) int {
	if i >= len(b) || b[i]|0x20 != 'e' {
		return i
	}
	j := i + 1
	if j < len(b) && (b[j] == '+' || b[j] == '-') {
		j++
	}
	if j >= len(b) || !isDigit(b[j]) {
		return i
	}
	for j++; j < len(b) && isDigit(b[j]); j++ {
	}
	return j
}

// intTimestamp builds the timestamp for the text of a JSON integer: Python's
// ints are unbounded, so one beyond int64 keeps its decimal text.
func intTimestamp(text []byte) retention.Timestamp {
	if len(text) <= 18 { // cannot overflow
		neg := text[0] == '-'
		var v int64
		for _, c := range text[btoi(neg):] {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		return retention.IntTimestamp(v)
	}
	if v, err := strconv.ParseInt(string(text), 10, 64); err == nil {
		return retention.IntTimestamp(v)
	}
	return retention.BigIntTimestamp(string(text))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseFloat converts a JSON number as Python's float() does: correctly
// rounded, with overflow giving ±inf and underflow ±0.
func parseFloat(text []byte) float64 {
	// ParseFloat's only possible error here is ErrRange, for which it
	// returns the same ±inf or ±0 as Python.
	f, _ := strconv.ParseFloat(string(text), 64)
	return f
}

// plainASCII marks the bytes a JSON string may hold as they are and that
// repr() shows as one character without affecting the choice of quotes.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['"'], t['\\'], t['\''] = false, false, false
	return t
}()

// asciiReprLen is the length of an ASCII character in a str repr(),
// leaving aside the quotes: \t \n \r and \\ take two, other control
// characters and DEL take four (\xNN).
var asciiReprLen = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c == '\t' || c == '\n' || c == '\r' || c == '\\':
			t[c] = 2
		case c < 0x20 || c == 0x7f:
			t[c] = 4
		default:
			t[c] = 1
		}
	}
	return t
}()
