package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/papyrad/papyrad/internal/errs"
)

// Error is one problem found in a configuration. Load and Parse return all
// problems at once, joined with errors.Join and ordered by their position
// in the file (problems from the environment first); use errors.As on each
// of them, or errors.Is(err, errs.ErrInvalid) on the whole: bad YAML, unknown keys,
// values out of range, unknown PAPYRAD_ variables. Failing to read the file is not
// errs.ErrInvalid.
type Error struct {
	// File is the configuration file, "" when parsed from bytes.
	File string
	// Line is the 1-based line of the offending key in the file, 0 when the
	// value did not come from the file (the environment, a built-in default)
	// or its line is not known.
	Line int
	// Field names the setting, e.g. "stores[2] (cluster): redis.url",
	// "daemon.max_concurrent (from PAPYRAD_MAX_CONCURRENT)",
	// "defaults.traffic.sample"; "" for the document as a whole.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "FILE:LINE: FIELD: MSG", leaving out the parts not known.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is errs.ErrInvalid.
func (e *Error) Is(target error) bool { return target == errs.ErrInvalid }

// field names one setting: where it sits in the YAML document (to find its
// line) and how error messages show it.
type field struct {
	// path is the YAML path from the root, list indices as decimal strings:
	// "stores", "1", "redis", "url".
	path []string
	// label is shown before the field path, e.g. "stores[1] (edge)".
	label string
	// from is the number of leading path components the label stands for.
	from int
	// env is the environment variable the value came from, if any.
	env string
}

// key returns the field of key k inside f.
func (f field) key(k string) field {
	f.path = append(slices.Clip(f.path), k)
	return f
}

// index returns the field of list item i inside f.
func (f field) index(i int) field { return f.key(strconv.Itoa(i)) }

// name is the field path as shown: "traffic.sample", "windows[1]".
func (f field) name() string {
	var b strings.Builder
	for _, p := range f.path[min(f.from, len(f.path)):] {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func (f field) String() string {
	s := f.name()
	switch {
	case f.label != "" && s != "":
		s = f.label + ": " + s
	case f.label != "":
		s = f.label
	}
	if f.env != "" {
		s += " (from " + f.env + ")"
	}
	return s
}

// problems collects every error found while reading one configuration.
type problems struct {
	file  string
	lines map[string]int // YAML path joined with "\x00" → line
	list  []*Error
	// flags, for a store described by flags, maps field names to the flags
	// that set them.
	flags map[string]string
}

// add records a problem with field f.
func (p *problems) add(f field, format string, args ...any) {
	name := f.String()
	if fl := p.flagName(f); fl != "" {
		name = fl
	}
	p.list = append(p.list, &Error{File: p.file, Line: p.line(f), Field: name, Msg: fmt.Sprintf(format, args...)})
}

// required records that f is missing; when says when it is needed ("for
// backend redis").
func (p *problems) required(f field, when string) {
	if fl := p.flagName(f); fl != "" {
		p.list = append(p.list, &Error{Msg: fl + " is required " + when})
		return
	}
	p.add(f, "required %s", when)
}

// addKey records a problem with key k inside f, shown as a problem of f (an
// unknown key has no field name of its own) but placed on k's line.
func (p *problems) addKey(f field, k string, format string, args ...any) {
	p.list = append(p.list, &Error{File: p.file, Line: p.line(f.key(k)), Field: f.String(), Msg: fmt.Sprintf(format, args...)})
}

// line finds the line of f, or of its nearest ancestor that has one.
func (p *problems) line(f field) int {
	if f.env != "" {
		return 0
	}
	for n := len(f.path); n > 0; n-- {
		if l, ok := p.lines[strings.Join(f.path[:n], "\x00")]; ok {
			return l
		}
	}
	return 0
}

// err returns the problems ordered by line (line 0 first, keeping the
// order found among equals) and joined, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.SortStableFunc(p.list, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, len(p.list))
	for i, e := range p.list {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// suggest returns the known name closest to s, or "" if none is close
// enough to be a plausible typo.
func suggest(s string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		if strings.EqualFold(s, k) {
			return k
		}
		d := editDistance(strings.ToLower(s), strings.ToLower(k))
		limit := 2
		if len(s) < 5 {
			limit = 1
		}
		if len(s) < 3 {
			limit = 0
		}
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes each cost one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30 // not a typo of any key
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
