package retention

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// TimestampKind is the JSON type of a record's "timestamp" value.
type TimestampKind uint8

const (
	TimestampMissing TimestampKind = iota // no top-level "timestamp" key
	TimestampNull
	TimestampBool
	TimestampString
	TimestampInt    // an integer that fits in an int64
	TimestampBigInt // an integer beyond int64 (Python ints are unbounded)
	TimestampFloat  // a float, including NaN, Infinity and overflow to ±inf
	TimestampArray
	TimestampObject
)

var timestampKindNames = [...]string{
	TimestampMissing: "missing",
	TimestampNull:    "null",
	TimestampBool:    "bool",
	TimestampString:  "string",
	TimestampInt:     "int",
	TimestampBigInt:  "big int",
	TimestampFloat:   "float",
	TimestampArray:   "array",
	TimestampObject:  "object",
}

func (k TimestampKind) String() string {
	if int(k) < len(timestampKindNames) {
		return timestampKindNames[k]
	}
	return fmt.Sprintf("TimestampKind(%d)", uint8(k))
}

// Timestamp is a record's "timestamp" value, kept only as far as retention
// needs it: its JSON type and, for numbers, its exact value.
type Timestamp struct {
	Kind TimestampKind
	bits uint64 // TimestampInt: the int64; TimestampFloat: the float64 bits; TimestampBool: 0 or 1
	big  string // TimestampBigInt: the decimal text, with its '-' if negative
}

// FloatTimestamp is a float timestamp (NaN and ±Inf included).
func FloatTimestamp(f float64) Timestamp {
	return Timestamp{Kind: TimestampFloat, bits: math.Float64bits(f)}
}

// IntTimestamp is an integer timestamp within the int64 range.
func IntTimestamp(i int64) Timestamp {
	return Timestamp{Kind: TimestampInt, bits: uint64(i)}
}

// BigIntTimestamp is an integer timestamp beyond the int64 range, given as
// its decimal text with a leading '-' if negative.
func BigIntTimestamp(decimal string) Timestamp {
	return Timestamp{Kind: TimestampBigInt, big: decimal}
}

// BoolTimestamp is a true or false timestamp.
func BoolTimestamp(b bool) Timestamp {
	t := Timestamp{Kind: TimestampBool}
	if b {
		t.bits = 1
	}
	return t
}

// IsNumber reports whether the timestamp is an int or a float, the only
// kinds the age rule can keep.
func (t Timestamp) IsNumber() bool {
	return t.Kind == TimestampInt || t.Kind == TimestampBigInt || t.Kind == TimestampFloat
}

// Float64 returns the timestamp as a float64 (rounded for big ints) for
// display, and NaN when it is not a number.
func (t Timestamp) Float64() float64 {
	switch t.Kind {
	case TimestampFloat:
		return math.Float64frombits(t.bits)
	case TimestampInt:
		return float64(int64(t.bits))
	case TimestampBigInt:
		f, _ := strconv.ParseFloat(t.big, 64)
		return f
	}
	return math.NaN()
}

// String shows the timestamp for messages: a number in decimal (a float in
// Go's shortest form; pyjson.TimestampRepr shows it as Python does), a bool
// as True or False, any other kind as <kind>.
func (t Timestamp) String() string {
	switch t.Kind {
	case TimestampFloat:
		return strconv.FormatFloat(math.Float64frombits(t.bits), 'g', -1, 64)
	case TimestampInt:
		return strconv.FormatInt(int64(t.bits), 10)
	case TimestampBigInt:
		return t.big
	case TimestampBool:
		if t.bits != 0 {
			return "True"
		}
		return "False"
	}
	return "<" + t.Kind.String() + ">"
}

// AtLeast reports whether the timestamp is a number >= cutoff, comparing as
// Python does: an int against a float exactly, whatever their magnitudes, and
// NaN never. Non-numbers, bools included, are never at least the cutoff.
func (t Timestamp) AtLeast(cutoff float64) bool {
	switch t.Kind {
	case TimestampFloat:
		return math.Float64frombits(t.bits) >= cutoff
	case TimestampInt:
		return intAtLeast(int64(t.bits), cutoff)
	case TimestampBigInt:
		return bigAtLeast(t.big, cutoff)
	}
	return false
}

const two63 = 9223372036854775808.0 // 2^63, exact as a float64

func intAtLeast(i int64, c float64) bool {
	switch {
	case math.IsNaN(c):
		return false
	case c <= -two63: // at or below every int64
		return true
	case c >= two63:
		return false
	}
	// -2^63 < c < 2^63, and so is its ceiling (floats of magnitude 2^52
	// and above are integers), which converts to int64 exactly; for an
	// integer i, i >= c exactly when i >= ceil(c).
	return i >= int64(math.Ceil(c))
}

// bigAtLeast compares an integer beyond the int64 range, given as decimal
// text, with a float.
func bigAtLeast(text string, c float64) bool {
	var i big.Int
	if _, ok := i.SetString(text, 10); !ok {
		return false // not the decimal text BigIntTimestamp asks for
	}
	switch {
	case math.IsNaN(c), math.IsInf(c, 1):
		return false
	case math.IsInf(c, -1):
		return true
	}
	// As for int64: i >= c exactly when i >= ceil(c), an integral float
	// that converts to a big.Int exactly.
	ceil, _ := big.NewFloat(math.Ceil(c)).Int(nil)
	return i.Cmp(ceil) >= 0
}
