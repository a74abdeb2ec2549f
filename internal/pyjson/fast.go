package pyjson

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unicode/utf8"

	"github.com/papyrad/papyrad/internal/retention"
)

// fastRecord decides, in one pass and without the member stack the repr
// size needs, whether b (a stripped line starting with '{') is a record,
// and returns its top-level "timestamp" (the last one when repeated, as
// classify keeps it). It accepts exactly what the scanner accepts; on
// anything else it returns false and the caller runs the scanner, which
// says why. Duplicate keys need no bookkeeping here: the last timestamp wins
// either way.
func fastRecord(b []byte, keys *keyCache) (retention.Timestamp, bool) {
	v := validator{keys: keys}
	keys.begin()
	i, ok := v.object(b, 1, 1)
	return v.ts, ok && skipSpace(b, i) == len(b)
}

// validator holds what fastRecord has found so far, and the keys it may
// match and remembers (nil: none).
type validator struct {
	ts   retention.Timestamp
	keys *keyCache
}

// object validates the members of the object whose '{' is just before
// b[i], at nesting depth depth, and returns the index after its '}'.
func (v *validator) object(b []byte, i, depth int) (int, bool) {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		var capture bool
		// keyCache.match, in line: a record's every key goes through here.
		n, ts := 0, false
		if k := v.keys; k != nil && len(b)-i >= maxKeyLen {
			s := b[i : i+maxKeyLen]
			w0, w1, w2 := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:]), binary.LittleEndian.Uint64(s[16:])
			var ok bool
			if n, ts, ok = k.predicted(w0, w1, w2); !ok {
				n, ts = k.lookup(w0, w1, w2)
			}
		}
		if n > 0 {
			i += n
			capture = depth == 1 && ts
		} else {
			end, esc, ok := fastString(b, i+1)
			if !ok {
				return 0, false
			}
			isTS := (end-i == 10 || esc) && isTimestamp(b[i+1:end], esc)
			capture = depth == 1 && isTS
			// Papyra writes ": " and ", ": take them in one step.
			if end+2 < len(b) && b[end+1] == ':' && b[end+2] == ' ' {
				if v.keys != nil {
					v.keys.learn(b[i:end+3], isTS)
				}
				i = end + 3
			} else {
				i = skipSpace(b, end+1)
				if i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i++
			}
		}
		if i < len(b) && b[i] <= ' ' {
			i = skipSpace(b, i)
		}
		var ok bool
		switch {
		case i >= len(b):
			return 0, false
		case capture:
			if i, ok = v.value(b, i, depth, true); !ok {
				return 0, false
			}
		case b[i] == '"':
			var end int
			if end, _, ok = fastString(b, i+1); !ok {
				return 0, false
			}
			i = end + 1
		case b[i] >= '0' && b[i] <= '9':
			if i, ok = skipNumber(b, i); !ok {
				return 0, false
			}
		default:
			if i, ok = v.value(b, i, depth, false); !ok {
				return 0, false
			}
		}
		if i+1 < len(b) && b[i] == ',' && b[i+1] == ' ' {
			i += 2
			if i < len(b) && b[i] <= ' ' {
				i = skipSpace(b, i)
			}
			continue
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			continue
		case '}':
			return i + 1, true
		}
		return 0, false
	}
}

// array validates the elements of the array whose '[' is just before b[i]
// and returns the index after its ']'.
func (v *validator) array(b []byte, i, depth int) (int, bool) {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = v.value(b, i, depth, false); !ok {
			return 0, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			continue
		case ']':
			return i + 1, true
		}
		return 0, false
	}
}

// value validates the value at b[i] inside a container at nesting depth
// depth and returns the index after it; capture says whether it is the
// top-level "timestamp".
func (v *validator) value(b []byte, i, depth int, capture bool) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	var ts retention.Timestamp
	var lit string
	switch c := b[i]; c {
	case '"':
		end, _, ok := fastString(b, i+1)
		if !ok {
			return 0, false
		}
		ts, i = retention.Timestamp{Kind: retention.TimestampString}, end+1
	case '{', '[':
		if depth >= maxDepth {
			return 0, false
		}
		var ok bool
		if c == '{' {
			ts = retention.Timestamp{Kind: retention.TimestampObject}
			i, ok = v.object(b, i+1, depth+1)
		} else {
			ts = retention.Timestamp{Kind: retention.TimestampArray}
			i, ok = v.array(b, i+1, depth+1)
		}
		if !ok {
			return 0, false
		}
	case 't':
		ts, lit = retention.BoolTimestamp(true), "true"
	case 'f':
		ts, lit = retention.BoolTimestamp(false), "false"
	case 'n':
		ts, lit = retention.Timestamp{Kind: retention.TimestampNull}, "null"
	case 'N':
		ts, lit = retention.FloatTimestamp(nan), "NaN"
	case 'I':
		ts, lit = retention.FloatTimestamp(posInf), "Infinity"
	default:
		if c == '-' && i+1 < len(b) && b[i+1] == 'I' {
			ts, lit = retention.FloatTimestamp(negInf), "-Infinity"
			break
		}
		if c != '-' && (c < '0' || c > '9') {
			return 0, false
		}
		return fastNumber(b, i, capture, &v.ts)
	}
	if lit != "" {
		if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
			return 0, false
		}
		i += len(lit)
	}
	if capture {
		v.ts = ts
	}
	return i, true
}

// skipSpace skips spaces and tabs from b[i:]. JSON also allows "\n" and "\r" between
// tokens, and the scanner takes them (a Redis entry may hold them), but a store's lines never
// do: where the validator runs over a block of lines ([Classifier.RecordLine]) either one ends
// a line, which must not be taken as part of a record that goes on after it.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// quoteBytes flags (in its high bit) each byte of the 8 in x, read little
// endian, that ends a run of plain string content: '"', '\\', a control
// character or a non-ASCII byte. The lowest flag is exact; flags above it
// may be spurious.
func quoteBytes(x uint64) uint64 {
	q, s := x^(lsb*'"'), x^(lsb*'\\')
	// x-0x20 borrows into the high bit below 0x20; x has it from 0x80.
	return ((q-lsb)&^q | (s-lsb)&^s | (x - lsb*0x20) | x) & msb
}

// fastString validates the content of a string that starts at b[i] (just
// after its opening quote) as the scanner's str does, and returns the index
// of its closing quote and whether it holds an escape.
func fastString(b []byte, i int) (end int, esc, ok bool) {
	for {
		for i+8 <= len(b) {
			if m := quoteBytes(binary.LittleEndian.Uint64(b[i : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(b) && b[i] >= 0x20 && b[i] < 0x80 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return 0, false, false
		}
	special:
		switch c := b[i]; {
		case c == '"':
			return i, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					return 0, false, false
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		default: // c >= 0x80
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, false
			}
			i += size
		}
	}
}

// isTimestamp reports whether a key's raw content decodes to "timestamp".
func isTimestamp(raw []byte, esc bool) bool {
	const want = "timestamp"
	if !esc {
		return string(raw) == want
	}
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

// fastNumber scans the number at b[i] as the scanner's number does and
// returns where it ends; when capture is set it stores the number in ts.
func fastNumber(b []byte, i int, capture bool, ts *retention.Timestamp) (int, bool) {
	if capture {
		if f, end, ok := plainFloat(b, i); ok {
			*ts = retention.FloatTimestamp(f)
			return end, true
		}
	}
	start := i
	neg, digits, intEnd, fracEnd, end, isFloat, ok := lexNumber(b, i)
	if !ok {
		return 0, false
	}
	i = end
	if !isFloat {
		if intEnd-digits > maxIntDigits {
			return 0, false
		}
		if capture {
			*ts = intTimestamp(b[start:i])
		}
		return i, true
	}
	if capture {
		f, ok := exactFloat(b, neg, digits, intEnd, fracEnd, i)
		if !ok {
			f = parseFloat(b[start:i])
		}
		*ts = retention.FloatTimestamp(f)
	}
	return i, true
}

// skipNumber returns the index after the number that starts with the digit at b[i], as
// lexNumber reads it, and false where fastNumber would: a number is only checked here, not
// converted.
func skipNumber(b []byte, i int) (int, bool) {
	intEnd := intPartEnd(b, i)
	if intEnd < len(b) && b[intEnd] != '.' && b[intEnd]|0x20 != 'e' {
		// An integer, the common case: no fraction or exponent to look for.
		return intEnd, intEnd-i <= maxIntDigits
	}
	end := exponentEnd(b, fractionEnd(b, intEnd))
	return end, end > intEnd || intEnd-i <= maxIntDigits
}

// plainFloat converts the number at b[i] when it has the form time.time()'s repr gives a
// timestamp, -?[1-9][0-9]*\.[0-9]+ with at most 19 digits and no exponent, in one pass over
// its digits, eight at a time. It returns the value and where the number ends, as lexNumber
// and exactFloat would; false for any other form, which the caller takes the long way.
func plainFloat(b []byte, i int) (f float64, end int, ok bool) {
	if f, end, ok := epochFloat(b, i); ok {
		return f, end, true
	}
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	if i >= len(b) || b[i] < '1' || b[i] > '9' {
		return 0, 0, false
	}
	dot := i + digitRun(b, i)
	if dot+1 >= len(b) || b[dot] != '.' {
		return 0, 0, false
	}
	end = dot + 1 + digitRun(b, dot+1)
	frac := end - dot - 1
	if frac == 0 || dot-i+frac > 19 || end < len(b) && b[end]|0x20 == 'e' {
		return 0, 0, false
	}
	f, ok = decimalFloat(appendDigits(appendDigits(0, b, i, dot), b, dot+1, end), -frac, neg)
	return f, end, ok
}

// epochFloat is plainFloat for the form nearly every timestamp has: time.time() between 2001
// and 2286, ten digits, a point and one to eight more, where 24 bytes from b[i] on can be
// read at once (inside a block of lines, all but the last few). It reads them as three words
// and finds the digits and their value in those, without a loop; false for any other form.
func epochFloat(b []byte, i int) (float64, int, bool) {
	if i < 0 || len(b)-i < 24 {
		return 0, 0, false
	}
	s := b[i : i+24]
	x0, x1 := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:])
	// [1-9] and nine digits, then '.' (s[10]).
	if s[0] == '0' || nonDigits(x0) != 0 || nonDigits(x1)&0xffff != 0 || s[10] != '.' {
		return 0, 0, false
	}
	// The digits after the point: up to eight, counted in one word (all eight when no byte
	// of it is another, and then the next must not be a digit either).
	frac := bits.TrailingZeros64(nonDigits(binary.LittleEndian.Uint64(s[11:]))) >> 3
	end := 11 + frac
	if frac == 8 && isDigit(s[end]) {
		return 0, 0, false
	}
	if frac == 0 || s[end]|0x20 == 'e' {
		return 0, 0, false
	}
	// The fraction's digits end the word at end-8; the bytes before them are cleared.
	y := binary.LittleEndian.Uint64(s[end-8:]) & lowNibbles &^ (1<<(8*(8-frac)) - 1)
	m := (eightDigits(x0&lowNibbles)*100+uint64(s[8]-'0')*10+uint64(s[9]-'0'))*pow10[frac] + eightDigits(y)
	f, ok := decimalFloat(m, -frac, false)
	return f, i + end, ok
}

// nonDigits returns x (eight bytes read little endian) with the bytes that are ASCII digits
// zeroed: the lowest nonzero byte is the first that is not a digit (a carry out of a byte at
// or above 0xfa only reaches bytes after that non-digit).
func nonDigits(x uint64) uint64 {
	return (x&0xf0f0f0f0f0f0f0f0 ^ 0x3030303030303030) | ((x+0x0606060606060606)&0xf0f0f0f0f0f0f0f0 ^ 0x3030303030303030)
}

// digitRun returns how many ASCII digits start b[i:], looking at eight bytes at a time.
func digitRun(b []byte, i int) int {
	n := i
	for ; n+8 <= len(b); n += 8 {
		if z := nonDigits(binary.LittleEndian.Uint64(b[n:])); z != 0 {
			return n + bits.TrailingZeros64(z)>>3 - i
		}
	}
	for n < len(b) && isDigit(b[n]) {
		n++
	}
	return n - i
}

// exactPow10 holds the powers of ten that a float64 holds exactly.
var exactPow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
}

// pow10 holds the powers of ten that fit in a uint64.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// exactFloat converts a JSON float of at most 19 significant digits whose
// decimal exponent, once the fraction's digits are taken into the
// mantissa, is within ±19 (±22 for digits that fit in 53 bits): the
// quotient or product of two integers below 2^64, which integer
// arithmetic, or one float operation on exact operands, rounds exactly as
// float() does (to nearest, ties to even). It returns false for any other
// number.
// digits..intEnd are the integer digits, intEnd+1..fracEnd the fraction's
// (if fracEnd > intEnd), and fracEnd..end the exponent (if end > fracEnd).
func exactFloat(b []byte, neg bool, digits, intEnd, fracEnd, end int) (float64, bool) {
	frac := 0
	if fracEnd > intEnd {
		frac = fracEnd - intEnd - 1
	}
	if intEnd-digits+frac > 19 {
		return 0, false
	}
	m := appendDigits(0, b, digits, intEnd)
	if frac > 0 {
		m = appendDigits(m, b, intEnd+1, fracEnd)
	}
	e := 0
	if end > fracEnd {
		j := fracEnd + 1
		eneg := b[j] == '-'
		if b[j] == '+' || b[j] == '-' {
			j++
		}
		if end-j > 3 {
			return 0, false
		}
		for _, c := range b[j:end] {
			e = e*10 + int(c-'0')
		}
		if eneg {
			e = -e
		}
	}
	return decimalFloat(m, e-frac, neg)
}

// decimalFloat returns m·10^e, negated if neg, rounded as float() rounds it, for m below 2^64
// (false when e is out of the range exactFloat describes). Past one float operation on exact
// operands, it multiplies by the power's bits (lemireFloat), and where that leaves the
// rounding in doubt, multiplies or divides the integers exactly.
func decimalFloat(m uint64, e int, neg bool) (float64, bool) {
	var f float64
	switch {
	case m == 0:
	case m <= 1<<53 && e >= -22 && e <= 22:
		// Both operands exact: one correctly rounded operation.
		f = float64(m)
		if e < 0 {
			f /= exactPow10[-e]
		} else {
			f *= exactPow10[e]
		}
	case e > -len(pow10) && e < len(pow10):
		if f, ok := lemireFloat(m, e, neg); ok {
			return f, true
		}
		if e < 0 {
			f = divideFloat(m, e)
			break
		}
		hi, lo := bits.Mul64(m, pow10[e])
		f = roundToFloat(hi, lo, 0)
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

// divideFloat returns m / 10^-e rounded to the nearest float64, for e in (-len(pow10), 0).
func divideFloat(m uint64, e int) float64 {
	// m·2^s / 10^-e, with s chosen to leave a quotient of 63 or 64 bits and the remainder as
	// the sticky bit.
	d := pow10[-e]
	s := 63 - bits.Len64(m) + bits.Len64(d)
	var hi, lo uint64
	if s >= 64 {
		hi = m << (s - 64)
	} else {
		hi, lo = m>>(64-s), m<<s
	}
	q, r := bits.Div64(hi, lo, d)
	if r != 0 {
		// A sticky bit: q has 63 or 64 bits, so rounding to 53 never looks at its last
		// one alone.
		q |= 1
	}
	return roundToFloat(0, q, -s)
}

// appendDigits returns m followed by the decimal digits b[from:to], eight at a time where it
// can; m and the result must fit in a uint64.
func appendDigits(m uint64, b []byte, from, to int) uint64 {
	for ; to-from >= 8; from += 8 {
		m = m*1e8 + eightDigits(binary.LittleEndian.Uint64(b[from:])&lowNibbles)
	}
	if n := to - from; n > 0 && to >= 8 {
		// The last n digits end a word whose first 8-n bytes are cleared to zero digits.
		x := binary.LittleEndian.Uint64(b[to-8:]) & lowNibbles &^ (1<<(8*(8-n)) - 1)
		return m*pow10[n] + eightDigits(x)
	}
	for _, c := range b[from:to] {
		m = m*10 + uint64(c-'0')
	}
	return m
}

// lowNibbles keeps each byte's low four bits: a digit's value.
const lowNibbles = 0x0f0f0f0f0f0f0f0f

// eightDigits returns the number whose eight decimal digits are the bytes of x, most
// significant first in memory (x read little endian, each byte a digit's value).
func eightDigits(x uint64) uint64 {
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	return (x*10000 + x>>32) & 0xffffffff
}

// roundToFloat returns (hi·2^64 + lo)·2^exp rounded to the nearest float64,
// ties to even, for a nonzero value whose result is a normal float.
func roundToFloat(hi, lo uint64, exp int) float64 {
	if hi != 0 {
		// Fold the low word into a sticky bit: 64 bits of hi are plenty.
		n := bits.LeadingZeros64(hi)
		top := hi<<n | lo>>(64-n) // lo>>64 is 0 in Go
		if lo<<n != 0 {
			top |= 1
		}
		lo, exp = top, exp+64-n
	}
	shift := bits.Len64(lo) - 53
	if shift <= 0 {
		return math.Ldexp(float64(lo), exp)
	}
	mant := lo >> shift
	rem := lo & (1<<shift - 1)
	half := uint64(1) << (shift - 1)
	if rem > half || rem == half && mant&1 == 1 {
		mant++
	}
	exp += shift
	if mant == 1<<53 {
		mant, exp = 1<<52, exp+1
	}
	// mant·2^exp with mant in [2^52, 2^53): the float's bits, when it is normal.
	if be := exp + 52 + 1023; be > 0 && be < 2047 {
		return math.Float64frombits(uint64(be)<<52 | mant&(1<<52-1))
	}
	return math.Ldexp(float64(mant), exp)
}
