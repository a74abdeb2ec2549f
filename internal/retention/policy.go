package retention

import (
	"errors"
	"fmt"
	"time"
)

// SizeBasis says how the total size limit measures a record.
type SizeBasis uint8

const (
	// SizeBasisPapyra measures a record as Papyra does: the UTF-8 length of
	// Python's repr() of the decoded dict (Class.ReprSize).
	SizeBasisPapyra SizeBasis = iota
	// SizeBasisStored measures the bytes the record takes in the store: the
	// line with its terminator (for Redis, the entry's data field).
	SizeBasisStored
)

func (b SizeBasis) String() string {
	switch b {
	case SizeBasisPapyra:
		return "papyra"
	case SizeBasisStored:
		return "stored"
	}
	return fmt.Sprintf("SizeBasis(%d)", uint8(b))
}

// Policy holds the retention limits of a store. A zero limit means no limit,
// like Papyra's None.
type Policy struct {
	// MaxAge keeps the records whose timestamp is at least now - MaxAge.
	MaxAge time.Duration
	// MaxRecords keeps the newest MaxRecords records.
	MaxRecords int64
	// MaxTotalBytes keeps, from the newest back, the records whose sizes
	// add up to at most MaxTotalBytes, stopping at the first that does not
	// fit.
	MaxTotalBytes int64
	// SizeBasis says how MaxTotalBytes measures a record.
	SizeBasis SizeBasis
}

// IsZero reports whether the policy has no limit at all, so that every
// record is kept.
func (p Policy) IsZero() bool {
	return p.MaxAge <= 0 && p.MaxRecords <= 0 && p.MaxTotalBytes <= 0
}

// NeedsRepr reports whether lines must be classified with their repr size
// for this policy.
func (p Policy) NeedsRepr() bool {
	return p.MaxTotalBytes > 0 && p.SizeBasis == SizeBasisPapyra
}

// Validate reports limits that make no sense. The planner treats a negative
// limit as no limit.
func (p Policy) Validate() error {
	var errs []error
	if p.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("max age %v is negative", p.MaxAge))
	}
	if p.MaxRecords < 0 {
		errs = append(errs, fmt.Errorf("max records %d is negative", p.MaxRecords))
	}
	if p.MaxTotalBytes < 0 {
		errs = append(errs, fmt.Errorf("max total bytes %d is negative", p.MaxTotalBytes))
	}
	if p.SizeBasis > SizeBasisStored {
		errs = append(errs, fmt.Errorf("unknown size basis %d", uint8(p.SizeBasis)))
	}
	return errors.Join(errs...)
}

// Decision is what compaction does with one line.
type Decision uint8

const (
	// Keep keeps a record.
	Keep Decision = iota
	// DropAge drops a record older than MaxAge or without a numeric
	// timestamp.
	DropAge
	// DropCount drops a record beyond the newest MaxRecords.
	DropCount
	// DropBytes drops a record that does not fit in MaxTotalBytes.
	DropBytes
	// BlankLine marks a blank line, which is not a record.
	BlankLine
	// NonRecordLine marks a line that is not a record.
	NonRecordLine
)

var decisionNames = [...]string{
	Keep:          "keep",
	DropAge:       "drop-age",
	DropCount:     "drop-count",
	DropBytes:     "drop-bytes",
	BlankLine:     "blank",
	NonRecordLine: "non-record",
}

func (d Decision) String() string {
	if int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return fmt.Sprintf("Decision(%d)", uint8(d))
}

// Dropped reports whether the decision drops a record by a retention rule.
func (d Decision) Dropped() bool {
	return d == DropAge || d == DropCount || d == DropBytes
}
