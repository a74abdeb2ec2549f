package pyjson

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/papyrad/papyrad/internal/retention"
)

// TestTimestampAtLeast compares timestamps with cutoffs as Python's
// ts >= cutoff does (expected values from CPython): ints against floats
// exactly, whatever their size.
func TestTimestampAtLeast(t *testing.T) {
	zeros400 := strings.Repeat("0", 400)
	tests := []struct {
		ts, cutoff string
		want       bool
	}{
		// Around 2**53, where float64(int) rounds.
		{"9007199254740993", "9007199254740994.0", false},
		{"9007199254740995", "9007199254740996.0", false},
		{"9007199254740995", "9007199254740994.0", true},
		{"9007199254740992", "9007199254740992.0", true},
		// Around 2**63, the edge of int64.
		{"9223372036854775807", "9.223372036854775808e18", false},
		{"9223372036854775807", "9.223372036854774784e18", true},
		{"-9223372036854775808", "-9.223372036854775808e18", true},
		{"-9223372036854775808", "-9.223372036854777856e18", true},
		{"-9223372036854775808", "-9.223372036854774784e18", false},
		{"9223372036854775808", "9.223372036854775808e18", true},
		{"9223372036854775808", "9.223372036854777856e18", false},
		// Big ints.
		{"18446744073709551615", "1.8446744073709552e19", false},
		{"18446744073709551616", "1.8446744073709552e19", true},
		{"18446744073709551617", "1.8446744073709552e19", true},
		{"-18446744073709551617", "-1.8446744073709552e19", false},
		{"-18446744073709551616", "-1.8446744073709552e19", true},
		{"1" + zeros400, "inf", false},
		{"1" + zeros400, "1e308", true},
		{"-1" + zeros400, "-inf", true},
		{"-1" + zeros400, "-1e308", false},
		{"1000000000000000000000000000000", "1e30", false},
		{"10000000000000000000000", "1e22", true},
		{"100000000000000000000000", "1e23", true},
		// Small ints against fractions.
		{"5", "4.5", true},
		{"4", "4.5", false},
		{"-5", "-5.5", true},
		{"-6", "-5.5", false},
		{"0", "-0.0", true},
		{"0", "5e-324", false},
		{"-0", "-5e-324", true},
		{"4102444800", "1767139200.0", true},
		{"978307200", "1767139200.0", false},
		// Floats and the non-finite values.
		{"1767139200.0", "1767139200.0", true},
		{"1767139199.9999998", "1767139200.0", false},
		{"NaN", "0.0", false},
		{"Infinity", "1e308", true},
		{"-Infinity", "-1e308", false},
		{"Infinity", "inf", true},
		{"-Infinity", "-inf", true},
		{"5", "nan", false},
		{"1000000000000000000000000000000", "nan", false},
		{"1.5", "nan", false},
		// Not numbers: never kept by the age rule.
		{"true", "0.5", false},
		{"false", "-1.0", false},
		{"null", "-inf", false},
		{`"9999999999"`, "0.0", false},
		{"[]", "-inf", false},
		{"{}", "-inf", false},
	}
	for _, tc := range tests {
		t.Run(tc.ts[:min(len(tc.ts), 30)]+">="+tc.cutoff, func(t *testing.T) {
			l := Classify([]byte(`{"timestamp": `+tc.ts+`}`), false)
			if l.Kind != retention.Record {
				t.Fatalf("not a record: %s", l.Reason)
			}
			cutoff, err := strconv.ParseFloat(tc.cutoff, 64)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Timestamp.AtLeast(cutoff); got != tc.want {
				t.Errorf("%v timestamp %s AtLeast(%v) = %v, want %v", l.Timestamp.Kind, l.Timestamp, cutoff, got, tc.want)
			}
		})
	}
	var missing retention.Timestamp
	if missing.AtLeast(math.Inf(-1)) || missing.IsNumber() {
		t.Error("a missing timestamp counts as a number")
	}
}

func TestTimestampFloat64(t *testing.T) {
	for _, tc := range []struct {
		ts   string
		want float64
	}{
		{"4102444800.5", 4102444800.5},
		{"-7", -7},
		{"18446744073709551616", 18446744073709551616},
		{"Infinity", math.Inf(1)},
	} {
		l := Classify([]byte(`{"timestamp": `+tc.ts+`}`), false)
		if got := l.Timestamp.Float64(); got != tc.want {
			t.Errorf("%s: Float64() = %v, want %v", tc.ts, got, tc.want)
		}
	}
	if f := Classify([]byte(`{"timestamp": "x"}`), false).Timestamp.Float64(); !math.IsNaN(f) {
		t.Errorf("string timestamp: Float64() = %v, want NaN", f)
	}
}
