package pyjson

import (
	"math"
	"math/big"
	"math/bits"
)

// pow10Mant holds, for each power of ten 10^q with |q| < len(pow10), its 128 most significant
// bits, truncated: 10^q = (hi·2^64 + lo)·2^(floor(q·log2 10) - 127) plus what the truncation
// dropped, hi's top bit set. The powers of ten from 10^0 to 10^38 fit in 128 bits and are exact.
var pow10Mant = func() (t [2*len(pow10) - 1]struct{ hi, lo uint64 }) {
	ten := big.NewInt(10)
	for q := -(len(pow10) - 1); q < len(pow10); q++ {
		p := new(big.Int).Exp(ten, big.NewInt(int64(abs(q))), nil)
		shift := 127 - floorLog2Pow10(q) // 10^q·2^shift lies in [2^127, 2^128)
		v := new(big.Int)
		if q >= 0 {
			v.Lsh(p, uint(shift))
		} else {
			v.Quo(v.Lsh(big.NewInt(1), uint(shift)), p)
		}
		words := v.FillBytes(make([]byte, 16))
		e := &t[q+len(pow10)-1]
		for _, b := range words[:8] {
			e.hi = e.hi<<8 | uint64(b)
		}
		for _, b := range words[8:] {
			e.lo = e.lo<<8 | uint64(b)
		}
	}
	return t
}()

// floorLog2Pow10 returns floor(q·log2 10), by the multiplication Eisel and Lemire use (exact
// for |q| up to several thousands).
func floorLog2Pow10(q int) int { return (217706 * q) >> 16 }

func abs(q int) int {
	if q < 0 {
		return -q
	}
	return q
}

// lemireFloat returns m·10^q, negated if neg, rounded as float() rounds it, for m nonzero and
// |q| < len(pow10), by Eisel and Lemire's method: one or two 64×128-bit multiplications by
// the power's truncated bits, and false in the rare cases where the truncation leaves the
// rounding in doubt (the caller then divides), or where the result is not a normal float.
func lemireFloat(m uint64, q int, neg bool) (float64, bool) {
	p := pow10Mant[q+len(pow10)-1]
	clz := bits.LeadingZeros64(m)
	m <<= clz
	// The biased exponent of the result if the product's top bit is set.
	exp2 := uint64(floorLog2Pow10(q)+64+1023) - uint64(clz)
	hi, lo := bits.Mul64(m, p.hi)
	if hi&0x1ff == 0x1ff && lo+m < m {
		// The low bits dropped from the power could carry into those kept: add them in.
		yHi, yLo := bits.Mul64(m, p.lo)
		mHi, mLo := hi, lo+yHi
		if mLo < lo {
			mHi++
		}
		if mHi&0x1ff == 0x1ff && mLo+1 == 0 && yLo+m < m {
			return 0, false
		}
		hi, lo = mHi, mLo
	}
	top := hi >> 63
	mant := hi >> (top + 9) // 54 bits
	exp2 -= 1 ^ top
	if lo == 0 && hi&0x1ff == 0 && mant&3 == 1 {
		// Exactly halfway between two floats, or just beside: the truncation cannot tell.
		return 0, false
	}
	mant = (mant + mant&1) >> 1
	if mant>>53 > 0 {
		mant >>= 1
		exp2++
	}
	if exp2-1 >= 0x7ff-1 {
		return 0, false
	}
	b := exp2<<52 | mant&(1<<52-1)
	if neg {
		b |= 1 << 63
	}
	return math.Float64frombits(b), true
}
