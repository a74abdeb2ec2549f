package config

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/papyrad/papyrad/internal/units"
)

// reader decodes raw YAML values, recording a problem for each value it
// rejects. Decoders return ok == false after recording the problem.
type reader struct {
	*problems
	// base is the directory relative paths in the file are resolved
	// against: the file's directory, or the working directory for Parse.
	base string
	// cwd resolves relative paths that came from the environment.
	cwd string
}

// describe names the kind of a raw value for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a mapping"
	case bool:
		return fmt.Sprintf("%v (a boolean)", x)
	default:
		return fmt.Sprintf("%v", x)
	}
}

// get returns m[k], treating a null value like a missing key.
func get(m map[string]any, k string) (any, bool) {
	v, ok := m[k]
	return v, ok && v != nil
}

// mapping returns v as a mapping; nil (absent) gives an empty one.
func (r *reader) mapping(v any, f field) (map[string]any, bool) {
	if v == nil {
		return map[string]any{}, true
	}
	m, ok := asMap(v)
	if !ok {
		r.add(f, "must be a mapping of keys to values, not %s", describe(v))
	}
	return m, ok
}

func (r *reader) str(v any, f field) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	r.add(f, "must be a string, not %s (quote it)", describe(v))
	return "", false
}

// boolean reads true or false; a value from the environment is the text "true" or "false".
func (r *reader) boolean(v any, f field) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	r.add(f, "must be true or false, not %s", describe(v))
	return false, false
}

func (r *reader) nonEmpty(v any, f field) (string, bool) {
	s, ok := r.str(v, f)
	if ok && strings.TrimSpace(s) == "" {
		r.add(f, "must not be empty")
		return "", false
	}
	return s, ok
}

// path reads a file system path, resolving a relative one against the
// configuration file's directory (or, for a value from the environment,
// the working directory), and cleans it.
func (r *reader) path(v any, f field) (string, bool) {
	s, ok := r.nonEmpty(v, f)
	if !ok {
		return "", false
	}
	if strings.ContainsRune(s, 0) {
		r.add(f, "must not contain a NUL byte")
		return "", false
	}
	if !filepath.IsAbs(s) {
		base := r.base
		if f.env != "" {
			base = r.cwd
		}
		s = filepath.Join(base, s)
	}
	return filepath.Clean(s), true
}

func (r *reader) enum(v any, f field, allowed ...string) (string, bool) {
	s, ok := r.str(v, f)
	if !ok {
		return "", false
	}
	if slices.Contains(allowed, s) {
		return s, true
	}
	msg := fmt.Sprintf("%q is not one of %s", s, strings.Join(allowed, ", "))
	if g := suggest(s, allowed); g != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", g)
	}
	r.add(f, "%s", msg)
	return "", false
}

// number converts YAML numbers (and numeric strings, as the environment
// gives them) to float64.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func (r *reader) duration(v any, f field) (time.Duration, bool) {
	if s, ok := v.(string); ok {
		d, err := units.ParseDuration(s)
		if err != nil {
			r.add(f, "%v", err)
			return 0, false
		}
		return d, true
	}
	if n, ok := number(v); ok {
		if n == 0 {
			return 0, true
		}
		r.add(f, "%v has no unit (write e.g. %vs, %vm, %vh or %vd)", v, v, v, v, v)
		return 0, false
	}
	r.add(f, "must be a duration such as 90s, 12h or 7d, not %s", describe(v))
	return 0, false
}

// positiveDuration reads a duration that must be greater than zero.
func (r *reader) positiveDuration(v any, f field) (time.Duration, bool) {
	d, ok := r.duration(v, f)
	if ok && d <= 0 {
		r.add(f, "must be greater than 0, not %s", units.FormatDuration(d))
		return 0, false
	}
	return d, ok
}

// nonNegDuration reads a duration that must not be negative.
func (r *reader) nonNegDuration(v any, f field) (time.Duration, bool) {
	d, ok := r.duration(v, f)
	if ok && d < 0 {
		r.add(f, "must not be negative, not %s", units.FormatDuration(d))
		return 0, false
	}
	return d, ok
}

// size reads a byte count: a YAML integer or a string with units. With
// perSecond, a trailing "/s" is allowed ("10MiB/s").
func (r *reader) size(v any, f field, perSecond bool) (int64, bool) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if perSecond {
			s = strings.TrimSuffix(s, "/s")
		}
		n, err := units.ParseSize(s)
		if err != nil {
			r.add(f, "%v", err)
			return 0, false
		}
		return n, true
	case int, int64, uint64, float64:
		n, _ := number(x)
		switch {
		case n < 0:
			r.add(f, "must not be negative, not %v", x)
		case n != math.Trunc(n):
			r.add(f, "%v is not a whole number of bytes", x)
		case n >= math.MaxInt64:
			r.add(f, "%v is too large", x)
		default:
			return int64(n), true
		}
		return 0, false
	}
	r.add(f, "must be a size such as 6000, 512MiB or 1GB, not %s", describe(v))
	return 0, false
}

// integer reads a whole number within [lo, hi].
func (r *reader) integer(v any, f field, lo, hi int64) (int64, bool) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			r.add(f, "%v is too large (at most %d)", x, hi)
			return 0, false
		}
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || math.Abs(x) >= 1<<63 {
			r.add(f, "must be a whole number, not %v", x)
			return 0, false
		}
		n = int64(x)
	case string:
		var err error
		n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			r.add(f, "must be a whole number, not %q", x)
			return 0, false
		}
	default:
		r.add(f, "must be a whole number, not %s", describe(v))
		return 0, false
	}
	if n < lo {
		r.add(f, "must be at least %d, not %d", lo, n)
		return 0, false
	}
	if n > hi {
		r.add(f, "must be at most %d, not %d", hi, n)
		return 0, false
	}
	return n, true
}

// float reads a finite number of at least lo.
func (r *reader) float(v any, f field, lo float64) (float64, bool) {
	n, ok := number(v)
	if _, isBool := v.(bool); !ok || isBool {
		r.add(f, "must be a number, not %s", describe(v))
		return 0, false
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		r.add(f, "must be a finite number, not %v", v)
		return 0, false
	}
	if n < lo {
		r.add(f, "must be at least %v, not %v", lo, v)
		return 0, false
	}
	return n, true
}

// isNone reports whether v is the string "none" (an explicit "nothing").
func isNone(v any) bool {
	s, ok := v.(string)
	return ok && strings.TrimSpace(s) == "none"
}
