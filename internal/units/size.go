package units

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Decimal (SI) and binary (IEC) byte multiples.
const (
	KB int64 = 1000
	MB       = 1000 * KB
	GB       = 1000 * MB
	TB       = 1000 * GB
	PB       = 1000 * TB

	KiB int64 = 1 << 10
	MiB       = 1 << 20
	GiB       = 1 << 30
	TiB       = 1 << 40
	PiB       = 1 << 50
)

type sizeUnit struct {
	name string
	size int64
}

// iecUnits and siUnits are ordered from the largest down; FormatSize relies
// on that order to break ties.
var (
	iecUnits = []sizeUnit{{"PiB", PiB}, {"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}}
	siUnits  = []sizeUnit{{"PB", PB}, {"TB", TB}, {"GB", GB}, {"MB", MB}, {"KB", KB}}
)

// sizeUnits maps every accepted unit symbol to its multiple. Symbols are
// case-sensitive, with one exception: "kB", the SI spelling of kilobyte, is
// accepted beside "KB".
var sizeUnits = map[string]int64{"B": 1, "kB": KB}

func init() {
	for _, u := range append(append([]sizeUnit(nil), iecUnits...), siUnits...) {
		sizeUnits[u.name] = u.size
	}
}

const sizeUnitList = "use B, KB, MB, GB, TB, PB or KiB, MiB, GiB, TiB, PiB"

// ParseSize parses a byte count: plain bytes ("6000") or a number with a
// unit, decimal (B, KB, MB, GB, TB, PB: powers of 1000) or binary (KiB,
// MiB, GiB, TiB, PiB: powers of 1024). Unit symbols are case-sensitive
// (so that "Mb" is never silently read as megabytes) except that "kB" is
// accepted as KB; a wrong case is reported with the right spelling. A
// fraction is allowed with a unit larger than a byte and the result is
// rounded down to a whole byte ("1.5GiB", "0.5 KB"); plain bytes must be
// whole. One or more spaces may separate the number and the unit
// ("512 MiB"); surrounding white space is ignored. Negative sizes and
// results beyond math.MaxInt64 are errors. Single-letter units such as
// "M" are rejected because they do not say whether 1000 or 1024 is meant.
func ParseSize(s string) (int64, error) {
	in := s
	fail := func(format string, args ...any) (int64, error) {
		return 0, fmt.Errorf("invalid size %q: "+format, append([]any{in}, args...)...)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return fail("empty")
	}
	if s[0] == '-' {
		return fail("must not be negative")
	}
	d, n, ok := scanDecimal(s)
	if !ok {
		return fail("expected a number (e.g. 6000, 512MiB, 1GB)")
	}
	u := strings.TrimLeft(s[n:], " \t")
	mult := int64(1)
	if u != "" {
		m, ok := sizeUnits[u]
		if !ok {
			return fail("unknown unit %q (%s)", u, sizeUnitHint(u))
		}
		mult = m
	}
	if mult == 1 && d.hasFraction() {
		return fail("a byte count must be whole (use a larger unit for fractions, e.g. 1.5KiB)")
	}
	v, ok := d.times(uint64(mult))
	if !ok || v > math.MaxInt64 {
		return fail("too large (at most %s)", FormatSize(math.MaxInt64))
	}
	return int64(v), nil
}

// sizeUnitHint says what to write instead of an unknown unit.
func sizeUnitHint(u string) string {
	for name := range sizeUnits {
		if strings.EqualFold(name, u) && name != "kB" {
			return fmt.Sprintf("did you mean %q?", name)
		}
	}
	switch strings.ToUpper(u) {
	case "K", "M", "G", "T", "P":
		up := strings.ToUpper(u)
		return fmt.Sprintf("ambiguous: write %sB for powers of 1000 or %siB for powers of 1024", up, up)
	case "BYTE", "BYTES":
		return `did you mean "B"?`
	}
	return sizeUnitList
}

// FormatSize prints n exactly, in the form with the shortest number that
// ParseSize reads back to n, preferring binary units on a tie: 1536 → "1.5 KiB", 2147483648 → "2 GiB",
// 1000000000 → "1 GB", 1234567 → "1234567 B", 0 → "0 B". At most three
// fraction digits are used. Negative values are printed with a '-' (for
// logs; ParseSize rejects them).
func FormatSize(n int64) string {
	if n == 0 {
		return "0 B"
	}
	u := uint64(n)
	sign := ""
	if n < 0 {
		sign = "-"
		u = -u
	}
	// Candidates compete on the length of the number alone, so that
	// "1.5 KiB" beats "1536 B" but "1234567 B" beats "1234.567 KB".
	best, bestUnit := utoa(u), "B"
	try := func(units []sizeUnit) {
		for _, unit := range units {
			size := uint64(unit.size)
			if u < size {
				continue
			}
			// thousandths = u×1000/size, exact when the remainder is zero.
			hi, lo := bits.Mul64(u, 1000)
			thousandths, rem := bits.Div64(hi, lo, size)
			if rem != 0 {
				continue
			}
			if s := formatFixed(thousandths, 1000); len(s) < len(best) {
				best, bestUnit = s, unit.name
			}
		}
	}
	try(iecUnits)
	try(siUnits)
	return sign + best + " " + bestUnit
}
