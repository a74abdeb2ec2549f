package units

import "math/bits"

// maxFracDigits is the number of fraction digits kept when parsing a
// decimal; later digits are ignored. 10^18 still fits in a uint64, and no
// unit is large enough for a 19th digit to matter after scaling to an
// integer count of nanoseconds or bytes.
const maxFracDigits = 18

// decimal is an unsigned decimal number split into its integer part and a
// fraction num/den (den a power of ten, num < den).
type decimal struct {
	whole uint64
	num   uint64
	den   uint64
	// overflow is set when the integer part does not fit in a uint64.
	overflow bool
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanDecimal reads digits with an optional '.' and fraction from the start
// of s. It returns the number, the count of bytes consumed and whether at
// least one digit was seen ("." alone is not a number).
func scanDecimal(s string) (d decimal, n int, ok bool) {
	d.den = 1
	digits := 0
	for n < len(s) && isDigit(s[n]) {
		hi, lo := bits.Mul64(d.whole, 10)
		lo, carry := bits.Add64(lo, uint64(s[n]-'0'), 0)
		if hi != 0 || carry != 0 {
			d.overflow = true
		}
		d.whole = lo
		n++
		digits++
	}
	if n < len(s) && s[n] == '.' {
		n++
		kept := 0
		for n < len(s) && isDigit(s[n]) {
			if kept < maxFracDigits {
				d.num = d.num*10 + uint64(s[n]-'0')
				d.den *= 10
				kept++
			}
			n++
			digits++
		}
	}
	return d, n, digits > 0
}

// times returns d × unit rounded toward zero and whether the result fits in
// a uint64.
func (d decimal) times(unit uint64) (uint64, bool) {
	if d.overflow {
		return 0, false
	}
	hi, v := bits.Mul64(d.whole, unit)
	if hi != 0 {
		return 0, false
	}
	if d.num != 0 {
		// num < den, so num×unit < den×2^64 and the quotient fits.
		fh, fl := bits.Mul64(d.num, unit)
		q, _ := bits.Div64(fh, fl, d.den)
		var carry uint64
		v, carry = bits.Add64(v, q, 0)
		if carry != 0 {
			return 0, false
		}
	}
	return v, true
}

// hasFraction reports whether the number has a non-zero fraction.
func (d decimal) hasFraction() bool { return d.num != 0 }

// formatFixed writes v/den (den a power of ten) as a decimal without
// trailing zeros in the fraction, e.g. 1500/1000 → "1.5".
func formatFixed(v, den uint64) string {
	whole, frac := v/den, v%den
	s := utoa(whole)
	if frac == 0 {
		return s
	}
	var buf [20]byte
	i := len(buf)
	for d := den; d > 1; d /= 10 {
		i--
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	f := buf[i:]
	for len(f) > 0 && f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	return s + "." + string(f)
}

func utoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return string(buf[i:])
}
