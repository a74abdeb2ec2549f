package config

import (
	"math"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/papyrad/papyrad/internal/window"
)

// opt is a setting that one layer (the defaults section or a store) may or
// may not set.
type opt[T any] struct {
	val T
	set bool
}

func some[T any](v T) opt[T] { return opt[T]{val: v, set: true} }

// pick returns the store's value if it set one, else the defaults
// section's, else the built-in default.
func pick[T any](store, defaults opt[T], builtin T) T {
	if store.set {
		return store.val
	}
	if defaults.set {
		return defaults.val
	}
	return builtin
}

// limit is a retention limit, which a layer may also clear with "none".
type limit[T any] struct {
	opt[T]
	cleared bool
}

// over returns l if it says anything (a value or "none"), else under.
func (l limit[T]) over(under limit[T]) limit[T] {
	if l.set || l.cleared {
		return l
	}
	return under
}

// value returns the limit's value, or the zero value (no limit).
func (l limit[T]) value() T {
	var zero T
	if l.set && !l.cleared {
		return l.val
	}
	return zero
}

// schedule is a validated cron spec.
type schedule struct {
	spec string
	cron cron.Schedule
}

// windows is a validated window list.
type windows struct {
	specs []string
	set   window.Set
}

// retentionLayer is what one layer says about retention.
type retentionLayer struct {
	invalid       bool // a problem was recorded; skip checks that would repeat it
	none          bool // "retention: none"
	present       bool // a mapping was written
	maxAge        limit[time.Duration]
	maxRecords    limit[int]
	maxTotalBytes limit[int64]
	sizeBasis     opt[SizeBasis]
}

// archiveLayer is what one layer says about the archive.
type archiveLayer struct {
	invalid  bool // a problem was recorded; skip checks that would repeat it
	none     bool // "archive: none"
	present  bool // a mapping was written
	dir      opt[string]
	compress opt[Compress]
	maxAge   opt[time.Duration]
	// The remote archive's keys.
	url             opt[string]
	endpoint        opt[string]
	region          opt[string]
	pathStyle       opt[bool]
	tlsVerify       opt[bool]
	caFile          opt[string]
	credentialsFile opt[string]
	profile         opt[string]
	lockMode        opt[string]
	retainUntil     opt[time.Time]
	retainFor       opt[time.Duration]
	legalHold       opt[bool]
	sse             opt[string]
	kmsKeyID        opt[string]
	partSize        opt[int64]
}

// layer holds the settings a store inherits, as written in the defaults
// section or in one store.
type layer struct {
	schedule            opt[schedule]
	windows             opt[windows]
	maxDeferral         opt[time.Duration]
	jitter              opt[time.Duration]
	minInterval         opt[time.Duration]
	trafficSample       opt[time.Duration]
	maxRecordsPerSecond opt[float64]
	maxBytesPerSecond   opt[int64]
	diskReserve         opt[int64]
	diskFactor          opt[float64]
	retention           retentionLayer
	archive             archiveLayer
	quarantineDir       opt[string]
	partialLineGrace    opt[time.Duration]
	drainTimeout        opt[time.Duration]
	consumerGroups      opt[ConsumerGroups]
	consumerGroupMaxAge opt[time.Duration]
	ageBasis            opt[AgeBasis]
	trimStep            opt[int]
}

// layer decodes the inheritable keys of m (the defaults section or a
// store); f is m's field.
func (r *reader) layer(m map[string]any, f field) *layer {
	l := &layer{}
	durations := []struct {
		key      string
		dst      *opt[time.Duration]
		positive bool
		none     bool // "none" is accepted for 0
	}{
		{"max_deferral", &l.maxDeferral, true, false},
		{"jitter", &l.jitter, false, false},
		{"min_interval", &l.minInterval, false, false},
		{"partial_line_grace", &l.partialLineGrace, false, false},
		{"drain_timeout", &l.drainTimeout, false, false},
		// none: no age after which retention wins; groups always do.
		{"consumer_group_max_age", &l.consumerGroupMaxAge, false, true},
	}
	for _, d := range durations {
		v, ok := get(m, d.key)
		if !ok {
			continue
		}
		if d.none && isNone(v) {
			*d.dst = some(time.Duration(0))
			continue
		}
		read := r.nonNegDuration
		if d.positive {
			read = r.positiveDuration
		}
		if x, ok := read(v, f.key(d.key)); ok {
			*d.dst = some(x)
		}
	}
	if v, ok := get(m, "schedule"); ok {
		if s, ok := r.str(v, f.key("schedule")); ok {
			if c, err := parseSchedule(s); err != nil {
				r.add(f.key("schedule"), "%v", err)
			} else {
				l.schedule = some(schedule{spec: s, cron: c})
			}
		}
	}
	if v, ok := get(m, "windows"); ok {
		if w, ok := r.windows(v, f.key("windows")); ok {
			l.windows = some(w)
		}
	}
	if v, ok := get(m, "traffic"); ok {
		tf := f.key("traffic")
		if t, ok := r.mapping(v, tf); ok {
			if v, ok := get(t, "sample"); ok {
				if d, ok := r.positiveDuration(v, tf.key("sample")); ok {
					l.trafficSample = some(d)
				}
			}
			if v, ok := get(t, "max_records_per_second"); ok {
				if n, ok := r.float(v, tf.key("max_records_per_second"), 0); ok {
					l.maxRecordsPerSecond = some(n)
				}
			}
			if v, ok := get(t, "max_bytes_per_second"); ok {
				if n, ok := r.size(v, tf.key("max_bytes_per_second"), true); ok {
					l.maxBytesPerSecond = some(n)
				}
			}
		}
	}
	if v, ok := get(m, "disk"); ok {
		df := f.key("disk")
		if d, ok := r.mapping(v, df); ok {
			if v, ok := get(d, "reserve"); ok {
				if n, ok := r.size(v, df.key("reserve"), false); ok {
					l.diskReserve = some(n)
				}
			}
			if v, ok := get(d, "factor"); ok {
				if n, ok := r.float(v, df.key("factor"), 1); ok {
					l.diskFactor = some(n)
				}
			}
		}
	}
	if v, ok := get(m, "retention"); ok {
		l.retention = r.retention(v, f.key("retention"))
	}
	if v, ok := get(m, "archive"); ok {
		l.archive = r.archive(v, f.key("archive"))
	}
	if v, ok := get(m, "quarantine_dir"); ok {
		if p, ok := r.path(v, f.key("quarantine_dir")); ok {
			l.quarantineDir = some(p)
		}
	}
	if v, ok := get(m, "consumer_groups"); ok {
		if s, ok := r.enum(v, f.key("consumer_groups"), string(ConsumerGroupsIgnore), string(ConsumerGroupsDelivered), string(ConsumerGroupsAcked)); ok {
			l.consumerGroups = some(ConsumerGroups(s))
		}
	}
	if v, ok := get(m, "age_basis"); ok {
		if s, ok := r.enum(v, f.key("age_basis"), string(AgeBasisTimestamp), string(AgeBasisID)); ok {
			l.ageBasis = some(AgeBasis(s))
		}
	}
	if v, ok := get(m, "trim_step"); ok {
		if n, ok := r.integer(v, f.key("trim_step"), 1, math.MaxInt32); ok {
			l.trimStep = some(int(n))
		}
	}
	return l
}

// windows reads a list of window strings; an empty list means any time.
func (r *reader) windows(v any, f field) (windows, bool) {
	list, ok := v.([]any)
	if !ok {
		r.add(f, `must be a list of windows such as ["01:00-05:00"] ([] for any time), not %s`, describe(v))
		return windows{}, false
	}
	w := windows{specs: []string{}, set: window.Set{}}
	good := true
	for i, item := range list {
		s, ok := r.str(item, f.index(i))
		if !ok {
			good = false
			continue
		}
		win, err := window.Parse(s)
		if err != nil {
			r.add(f.index(i), "%v", err)
			good = false
			continue
		}
		w.specs = append(w.specs, s)
		w.set = append(w.set, win)
	}
	return w, good
}

// retention reads "none" or a mapping of limits, each of which may also be
// "none" to clear a limit inherited from the defaults section.
func (r *reader) retention(v any, f field) (l retentionLayer) {
	defer r.flag(&l.invalid)()
	if isNone(v) {
		l.none = true
		return l
	}
	if _, ok := v.(string); ok {
		r.add(f, `must be a mapping (max_age, max_records, max_total_bytes, size_basis) or "none", not %s`, describe(v))
		return l
	}
	m, ok := r.mapping(v, f)
	if !ok {
		return l
	}
	l.present = true
	if v, ok := get(m, "max_age"); ok {
		if isNone(v) {
			l.maxAge.cleared = true
		} else if d, ok := r.positiveDuration(v, f.key("max_age")); ok {
			l.maxAge.opt = some(d)
		}
	}
	if v, ok := get(m, "max_records"); ok {
		if isNone(v) {
			l.maxRecords.cleared = true
		} else if n, ok := r.integer(v, f.key("max_records"), 1, math.MaxInt); ok {
			l.maxRecords.opt = some(int(n))
		}
	}
	if v, ok := get(m, "max_total_bytes"); ok {
		if isNone(v) {
			l.maxTotalBytes.cleared = true
		} else if n, ok := r.size(v, f.key("max_total_bytes"), false); ok {
			if n < 1 {
				r.add(f.key("max_total_bytes"), `must be at least 1 byte (write "none" for no size limit)`)
			} else {
				l.maxTotalBytes.opt = some(n)
			}
		}
	}
	if v, ok := get(m, "size_basis"); ok {
		if s, ok := r.enum(v, f.key("size_basis"), string(SizeBasisPapyra), string(SizeBasisStored)); ok {
			l.sizeBasis = some(SizeBasis(s))
		}
	}
	return l
}

// archive reads "none" or a mapping.
func (r *reader) archive(v any, f field) (l archiveLayer) {
	defer r.flag(&l.invalid)()
	if isNone(v) {
		l.none = true
		return l
	}
	if _, ok := v.(string); ok {
		r.add(f, `must be a mapping (dir or url, compress, max_age, ...) or "none", not %s`, describe(v))
		return l
	}
	m, ok := r.mapping(v, f)
	if !ok {
		return l
	}
	l.present = true
	if v, ok := get(m, "dir"); ok {
		if p, ok := r.path(v, f.key("dir")); ok {
			l.dir = some(p)
		}
	}
	if v, ok := get(m, "compress"); ok {
		if s, ok := r.enum(v, f.key("compress"), string(CompressZstd), string(CompressGzip), string(CompressNone)); ok {
			l.compress = some(Compress(s))
		}
	}
	if v, ok := get(m, "max_age"); ok {
		if d, ok := r.nonNegDuration(v, f.key("max_age")); ok {
			l.maxAge = some(d)
		}
	}
	r.remoteArchive(m, f, &l)
	return l
}

// flag returns a function that sets *invalid if problems were recorded
// since flag was called.
func (r *reader) flag(invalid *bool) func() {
	n := len(r.list)
	return func() { *invalid = len(r.list) > n }
}
