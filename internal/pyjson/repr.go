package pyjson

import (
	"math"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"
)

var (
	nan    = math.NaN()
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

// isPrintable is CPython's Py_UNICODE_ISPRINTABLE for a non-ASCII code
// point: false for the categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs, which
// is exactly Go's unicode.IsPrint (letters, marks, numbers, punctuation,
// symbols; ASCII space is the only printable separator and is handled by the
// caller). The two differ only through their Unicode versions; see the
// package documentation.
func isPrintable(r rune) bool {
	if r < 0x10000 {
		bmp := bmpPrintable()
		return bmp[r>>6]&(1<<(r&63)) != 0
	}
	return unicode.IsPrint(r)
}

// bmpPrintable caches unicode.IsPrint for the Basic Multilingual Plane as a
// bitmap (8 KiB): the table lookups behind IsPrint cost several binary
// searches per character.
var bmpPrintable = sync.OnceValue(func() *[1024]uint64 {
	var t [1024]uint64
	for r := rune(0); r < 0x10000; r++ {
		if unicode.IsPrint(r) {
			t[r>>6] |= 1 << (r & 63)
		}
	}
	return &t
})

// reprLenNonASCII is the length in a str repr() of a code point >= 0x80:
// its UTF-8 bytes when printable, else \xNN, \uNNNN or \UNNNNNNNN.
func reprLenNonASCII(r rune) int {
	if isPrintable(r) { // never true for surrogates
		return utf8.RuneLen(r)
	}
	switch {
	case r < 0x100:
		return 4
	case r < 0x10000:
		return 6
	}
	return 10
}

// appendPyStr appends the repr() of a string given as validated raw JSON
// string content, with sq the number of ' and dq whether there is a ".
func appendPyStr(out, content []byte, sq int, dq bool) []byte {
	quote := byte('\'')
	if sq > 0 && !dq {
		quote = '"'
	}
	out = append(out, quote)
	for i := 0; i < len(content); {
		var r rune
		r, i = decodeNext(content, i)
		out = appendPyRune(out, r, quote)
	}
	return append(out, quote)
}

const hexDigits = "0123456789abcdef"

func appendPyRune(out []byte, r rune, quote byte) []byte {
	switch {
	case r == rune(quote) || r == '\\':
		return append(out, '\\', byte(r))
	case r == '\t':
		return append(out, `\t`...)
	case r == '\n':
		return append(out, `\n`...)
	case r == '\r':
		return append(out, `\r`...)
	case r < 0x20 || r == 0x7f:
		return append(out, '\\', 'x', hexDigits[r>>4], hexDigits[r&15])
	case r < 0x7f:
		return append(out, byte(r))
	case isPrintable(r):
		return utf8.AppendRune(out, r)
	case r < 0x100:
		return append(out, '\\', 'x', hexDigits[r>>4], hexDigits[r&15])
	case r < 0x10000:
		out = append(out, '\\', 'u')
		for sh := 12; sh >= 0; sh -= 4 {
			out = append(out, hexDigits[r>>sh&15])
		}
		return out
	}
	out = append(out, '\\', 'U')
	for sh := 28; sh >= 0; sh -= 4 {
		out = append(out, hexDigits[r>>sh&15])
	}
	return out
}

// Python's float repr() (format_float_short with the 'r' mode): the value
// is 0.DIGITS × 10^decpt with the shortest DIGITS that round-trip; it is
// written in fixed notation when -4 < decpt <= 16, in scientific notation
// (at least two exponent digits) otherwise, and a fixed integral value gets
// ".0".

// floatReprLenDigits is the repr length for nd significant digits and
// decimal point position decpt.
func floatReprLenDigits(neg bool, nd, decpt int) int64 {
	n := 0
	if neg {
		n = 1
	}
	switch {
	case decpt <= -4 || decpt > 16:
		n += nd
		if nd > 1 {
			n++ // '.'
		}
		e := decpt - 1
		if e < 0 {
			e = -e
		}
		n += 2 // 'e' and the sign
		switch {
		case e < 100:
			n += 2
		default:
			n += 3 // |exponent| of a float64 stays below 1000
		}
	case decpt <= 0:
		n += 2 - decpt + nd // 0.000ddd
	case decpt < nd:
		n += nd + 1 // ddd.ddd
	default:
		n += decpt + 2 // ddd000.0
	}
	return int64(n)
}

// shortest returns the shortest round-trip digits of a finite non-zero
// |f| and its decpt, using buf for storage.
func shortest(buf []byte, f float64) (digits []byte, decpt int) {
	s := strconv.AppendFloat(buf[:0], math.Abs(f), 'e', -1, 64)
	// s is "d.ddde±XX" or "de±XX".
	e := len(s) - 1
	for s[e] != 'e' {
		e--
	}
	exp := 0
	for _, c := range s[e+2:] {
		exp = exp*10 + int(c-'0')
	}
	if s[e+1] == '-' {
		exp = -exp
	}
	digits = s[:e]
	if len(digits) > 1 { // drop the '.'
		copy(digits[1:], digits[2:])
		digits = digits[:len(digits)-1]
	}
	return digits, exp + 1
}

// floatReprLen is the length of repr(f).
func floatReprLen(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 3 // nan
	case math.IsInf(f, 0):
		if f < 0 {
			return 4 // -inf
		}
		return 3 // inf
	case f == 0:
		if math.Signbit(f) {
			return 4 // -0.0
		}
		return 3 // 0.0
	}
	var buf [32]byte
	digits, decpt := shortest(buf[:], f)
	return floatReprLenDigits(f < 0, len(digits), decpt)
}

// appendFloatRepr appends repr(f).
func appendFloatRepr(out []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(out, "nan"...)
	case math.IsInf(f, 1):
		return append(out, "inf"...)
	case math.IsInf(f, -1):
		return append(out, "-inf"...)
	}
	if math.Signbit(f) {
		out = append(out, '-')
	}
	if f == 0 {
		return append(out, "0.0"...)
	}
	var buf [32]byte
	digits, decpt := shortest(buf[:], f)
	nd := len(digits)
	switch {
	case decpt <= -4 || decpt > 16:
		out = append(out, digits[0])
		if nd > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'e')
		e := decpt - 1
		if e < 0 {
			out = append(out, '-')
			e = -e
		} else {
			out = append(out, '+')
		}
		if e < 10 {
			out = append(out, '0')
		}
		return strconv.AppendInt(out, int64(e), 10)
	case decpt <= 0:
		out = append(out, "0."...)
		for range -decpt {
			out = append(out, '0')
		}
		return append(out, digits...)
	case decpt < nd:
		out = append(out, digits[:decpt]...)
		out = append(out, '.')
		return append(out, digits[decpt:]...)
	default:
		out = append(out, digits...)
		for range decpt - nd {
			out = append(out, '0')
		}
		return append(out, ".0"...)
	}
}

// floatReprLenFromText computes the repr length of a JSON float straight
// from its text when that is safe, which is the common case for what
// Python's json.dumps writes: a decimal with at most 15 significant digits
// converts to the nearest double and back to the very same digits (DBL_DIG
// is 15), so they are the shortest round-trip digits as long as the value is
// a normal double. b[digits:intEnd] holds the integer digits,
// b[intEnd+1:fracEnd] the fraction digits if any, and b[fracEnd:end] the
// exponent part if any.
func floatReprLenFromText(b []byte, digits, intEnd, fracEnd, end int, neg bool) (int64, bool) {
	exp := 0
	if fracEnd < end { // e[+-]ddd
		k := fracEnd + 1
		eneg := false
		switch b[k] {
		case '-':
			eneg = true
			k++
		case '+':
			k++
		}
		for k < end && b[k] == '0' {
			k++
		}
		if end-k > 4 {
			return 0, false // astronomically large exponent
		}
		for ; k < end; k++ {
			exp = exp*10 + int(b[k]-'0')
		}
		if eneg {
			exp = -exp
		}
	}
	nInt := intEnd - digits
	fracStart := intEnd + 1
	if fracEnd <= intEnd {
		fracStart = fracEnd // no fraction
	}
	// The digits form one sequence: integer digits at positions
	// 0..nInt-1, fraction digits after them.
	first := -1
	for k := digits; k < intEnd; k++ {
		if b[k] != '0' {
			first = k - digits
			break
		}
	}
	if first < 0 {
		for k := fracStart; k < fracEnd; k++ {
			if b[k] != '0' {
				first = nInt + k - fracStart
				break
			}
		}
	}
	if first < 0 { // zero
		if neg {
			return 4, true // -0.0
		}
		return 3, true
	}
	last := -1
	for k := fracEnd - 1; k >= fracStart; k-- {
		if b[k] != '0' {
			last = nInt + k - fracStart
			break
		}
	}
	if last < 0 {
		for k := intEnd - 1; k >= digits; k-- {
			if b[k] != '0' {
				last = k - digits
				break
			}
		}
	}
	nd := last - first + 1
	decpt := nInt - first + exp
	if nd > 15 || decpt < -300 || decpt > 300 {
		return 0, false
	}
	return floatReprLenDigits(neg, nd, decpt), true
}
