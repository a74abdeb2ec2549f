package units

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"90s", 90 * time.Second},
		{"12h", 12 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"250ms", 250 * time.Millisecond},
		{"7d", 7 * Day},
		{"2w", 14 * Day},
		{"1w2d", 9 * Day},
		{"7d12h", 7*Day + 12*time.Hour},
		{"1.5d", 36 * time.Hour},
		{".5h", 30 * time.Minute},
		{"1.h", time.Hour},
		{"1d1d", 2 * Day},
		{"1500us", 1500 * time.Microsecond},
		{"1µs", time.Microsecond},
		{"1μs", time.Microsecond},
		{"3ns", 3},
		{"-1h", -time.Hour},
		{"+1h", time.Hour},
		{" 30s ", 30 * time.Second},
		{"0s", 0},
		{"0.000000001s", 1},
		{"0.0000000019s", 1}, // truncated below the nanosecond
		{"1.000000000000000000000001s", time.Second},
		{"2562047h47m16.854775807s", math.MaxInt64},
		{"-2562047h47m16.854775808s", math.MinInt64},
		{"15250w1d23h47m16.854775807s", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `invalid duration "": empty`},
		{"   ", `invalid duration "   ": empty`},
		{"7x", `invalid duration "7x": unknown unit "x" (use ms, s, m, h, d, w)`},
		{"30", `invalid duration "30": missing unit after "30" (use ms, s, m, h, d, w)`},
		{"1h30", `missing unit after "30"`},
		{"h", `invalid duration "h": expected a number at "h"`},
		{"-", `expected a number`},
		{".", `expected a number at "."`},
		{"1h 30m", `unexpected white space`},
		{"5 days", `unexpected white space`},
		{"5days", `unknown unit "days" (did you mean "d"?)`},
		{"10min", `unknown unit "min" (did you mean "m"?)`},
		{"3D", `unknown unit "D" (did you mean "d"?)`},
		{"1M", `unknown unit "M" (use ms, s, m, h, d, w)`},
		{"1e3s", `unknown unit "e"`},
		{"2562047h47m16.854775808s", "out of range (at most 2562047h47m16.854775807s)"},
		{"-2562047h47m16.854775809s", "out of range (at least -2562047h47m16.854775808s)"},
		{"15251w", "out of range"},
		{"99999999999999999999s", "out of range"},
		{"9223372036854775807h", "out of range"},
		{"1h-1m", `unknown unit "h-"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseDuration(tt.in)
			if err == nil {
				t.Fatalf("ParseDuration(%q) succeeded, want error containing %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseDuration(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{7 * Day, "7d"},
		{14 * Day, "14d"},
		{Day, "1d"},
		{36 * time.Hour, "36h"},
		{60 * time.Second, "1m"},
		{90 * time.Second, "1m30s"},
		{72 * time.Hour, "3d"},
		{time.Hour + 5*time.Second, "1h5s"},
		{2500 * time.Millisecond, "2.5s"},
		{250 * time.Millisecond, "250ms"},
		{1500 * time.Microsecond, "1.5ms"},
		{1500, "1.5us"},
		{999, "999ns"},
		{-time.Hour, "-1h"},
		{-2 * Day, "-2d"},
		{math.MaxInt64, "2562047h47m16.854775807s"},
		{math.MinInt64, "-2562047h47m16.854775808s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatDuration(tt.in); got != tt.want {
				t.Fatalf("FormatDuration(%d) = %q, want %q", int64(tt.in), got, tt.want)
			}
			back, err := ParseDuration(tt.want)
			if err != nil || back != tt.in {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.want, back, err, tt.in)
			}
		})
	}
}

// TestParseDurationMatchesGo checks that inputs in Go's own form mean what
// time.ParseDuration says they mean.
func TestParseDurationMatchesGo(t *testing.T) {
	for _, in := range []string{"1h2m3s", "1.5h", "300ms", "-1.5h", "2h45m", "0.1s", "1.0000001s", "10us", "123456789ns", "1h1h", "+5m"} {
		want, err := time.ParseDuration(in)
		if err != nil {
			t.Fatalf("time.ParseDuration(%q): %v", in, err)
		}
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; time.ParseDuration says %v", in, got, err, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"6000", 6000},
		{"6000B", 6000},
		{"6000 B", 6000},
		{"1KB", 1000},
		{"1kB", 1000},
		{"1KiB", 1024},
		{"512MiB", 512 << 20},
		{"512 MiB", 512 << 20},
		{"512  MiB", 512 << 20},
		{" 1GB ", 1_000_000_000},
		{"1.5GiB", 3 << 29},
		{"2GiB", 2 << 30},
		{"1TB", 1e12},
		{"1TiB", 1 << 40},
		{"1PB", 1e15},
		{"1PiB", 1 << 50},
		{"0.5KB", 500},
		{"0.1KiB", 102}, // rounded down
		{"1.0B", 1},
		{"8191.9999999999PiB", 9223372036854663218},
		{"9223372036854775807", math.MaxInt64},
		{"9223372036854775807 B", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err != nil {
				t.Fatalf("ParseSize(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSizeErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `invalid size "": empty`},
		{"-1", `invalid size "-1": must not be negative`},
		{"-1GiB", `must not be negative`},
		{"GiB", `expected a number`},
		{"1.5", `a byte count must be whole`},
		{"1.5B", `a byte count must be whole`},
		{"1gb", `unknown unit "gb" (did you mean "GB"?)`},
		{"1Gb", `unknown unit "Gb" (did you mean "GB"?)`},
		{"1mib", `unknown unit "mib" (did you mean "MiB"?)`},
		{"1kb", `unknown unit "kb" (did you mean "KB"?)`},
		{"1M", `unknown unit "M" (ambiguous: write MB for powers of 1000 or MiB for powers of 1024)`},
		{"1k", `ambiguous: write KB`},
		{"1EiB", `unknown unit "EiB" (use B, KB, MB, GB, TB, PB or KiB, MiB, GiB, TiB, PiB)`},
		{"1bytes", `did you mean "B"?`},
		{"1e9", `unknown unit "e9"`},
		{"1,000", `unknown unit ",000"`},
		{"8192PiB", `too large (at most 9223372036854775807 B)`},
		{"9223372036854775808", `too large`},
		{"99999999999999999999999", `too large`},
		{"18446744073709551616", `too large`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseSize(tt.in)
			if err == nil {
				t.Fatalf("ParseSize(%q) succeeded, want error containing %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseSize(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{999, "999 B"},
		{1000, "1 KB"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{6000, "6 KB"},
		{3 << 29, "1.5 GiB"},
		{1 << 30, "1 GiB"},
		{2 << 30, "2 GiB"},
		{1_000_000_000, "1 GB"},
		{1234567, "1234567 B"},
		{1 << 50, "1 PiB"},
		{5 << 50, "5 PiB"},
		{1e15, "1 PB"},
		{1e18, "1000 PB"},
		{-1536, "-1.5 KiB"},
		{math.MaxInt64, "9223372036854775807 B"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatSize(tt.in); got != tt.want {
				t.Fatalf("FormatSize(%d) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.in < 0 {
				return
			}
			back, err := ParseSize(tt.want)
			if err != nil || back != tt.in {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.want, back, err, tt.in)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "90s", "1h30m", "7d", "1w2d", "1.5d", "-1h", "250ms", "7x", "", "1µs", "99999999999999999999w", ".", "1..5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid duration ") {
				t.Fatalf("error %q does not say what failed", err)
			}
			return
		}
		out := FormatDuration(d)
		back, err := ParseDuration(out)
		if err != nil {
			t.Fatalf("ParseDuration(%q) = %v, but ParseDuration(FormatDuration) = %q: %v", s, d, out, err)
		}
		if back != d {
			t.Fatalf("round trip %q → %d → %q → %d", s, int64(d), out, int64(back))
		}
		// Go's form must agree with Go where Go accepts it.
		if want, err := time.ParseDuration(s); err == nil && want != d {
			t.Fatalf("ParseDuration(%q) = %d, time.ParseDuration = %d", s, int64(d), int64(want))
		}
	})
}

func FuzzFormatDuration(f *testing.F) {
	for _, d := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, int64(36 * time.Hour), int64(Week)} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		out := FormatDuration(time.Duration(n))
		back, err := ParseDuration(out)
		if err != nil || int64(back) != n {
			t.Fatalf("FormatDuration(%d) = %q, parses to %d, %v", n, out, int64(back), err)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "6000", "512MiB", "512 MiB", "1.5GiB", "1GB", "1kB", "8192PiB", "-1", "1.5", "1gb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid size ") {
				t.Fatalf("error %q does not say what failed", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		out := FormatSize(n)
		back, err := ParseSize(out)
		if err != nil || back != n {
			t.Fatalf("round trip %q → %d → %q → %d, %v", s, n, out, back, err)
		}
	})
}

func FuzzFormatSize(f *testing.F) {
	for _, n := range []int64{0, 1, 1000, 1024, 1536, math.MaxInt64} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		if n < 0 {
			n = -(n + 1)
		}
		out := FormatSize(n)
		back, err := ParseSize(out)
		if err != nil || back != n {
			t.Fatalf("FormatSize(%d) = %q, parses to %d, %v", n, out, back, err)
		}
	})
}

func TestFormatAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{29*Day + 3*time.Hour + 59*time.Minute, "29d 3h"},
		{5*time.Hour + 3*time.Minute + 59*time.Second, "5h 3m"},
		{time.Hour + 49*time.Second, "1h 0m"},
		{3*time.Minute + 12*time.Second + 900*time.Millisecond, "3m 12s"},
		{42 * time.Second, "42s"},
		{7 * Day, "7d 0h"},
		{999 * time.Millisecond, "0s"},
		{-2 * time.Hour, "-2h 0m"},
		{0, "0s"},
	} {
		if got := FormatAge(tc.d); got != tc.want {
			t.Errorf("FormatAge(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
