package rotating

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/retention"
)

// summary is what a run learned about a rotated segment by reading it whole. Rotated segments
// are never written again, only renamed or deleted, so while the inode keeps its size and mtime
// the summary stands for the content, and a later run with an age-only policy can decide the
// segment without reading it: that is what makes a run's I/O follow what it removes rather
// than the size of the set.
type summary struct {
	Dev        uint64  `json:"dev"`
	Ino        uint64  `json:"ino"`
	Size       int64   `json:"size"`
	MtimeNs    int64   `json:"mtime_ns"`
	Lines      int64   `json:"lines"`
	Records    int64   `json:"records"`
	NonRecords int64   `json:"non_records"`
	Blanks     int64   `json:"blanks"`
	Inexact    int64   `json:"inexact"` // records whose timestamp is not a plain float or int a float64 holds exactly
	MinTS      float64 `json:"min_ts"`
	MaxTS      float64 `json:"max_ts"`
}

func newSummary(fi os.FileInfo) *summary {
	st := fi.Sys().(*syscall.Stat_t)
	return &summary{Dev: uint64(st.Dev), Ino: st.Ino, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(),
		MinTS: math.Inf(1), MaxTS: math.Inf(-1)}
}

// add accounts for one line of the segment.
func (s *summary) add(l retention.Class) {
	s.Lines++
	switch l.Kind {
	case retention.Blank:
		s.Blanks++
		return
	case retention.NonRecord:
		s.NonRecords++
		return
	}
	s.Records++
	ts := l.Timestamp
	f := ts.Float64()
	exact := ts.Kind == retention.TimestampFloat && !math.IsNaN(f) ||
		ts.Kind == retention.TimestampInt && math.Abs(f) <= 1<<53
	if !exact {
		s.Inexact++
		return
	}
	s.MinTS = min(s.MinTS, f)
	s.MaxTS = max(s.MaxTS, f)
}

// matches reports whether the summary still describes the file fi.
func (s *summary) matches(fi os.FileInfo) bool {
	st := fi.Sys().(*syscall.Stat_t)
	return s.Dev == uint64(st.Dev) && s.Ino == st.Ino && s.Size == fi.Size() && s.MtimeNs == fi.ModTime().UnixNano()
}

// decide returns what an age-only policy (or none) does with the whole segment, if the summary
// settles it: every record kept (and nothing else in the file), or every record dropped by age
// (and no non-record to quarantine). Boundaries are left to a read: a timestamp equal to the
// cutoff, or any timestamp a float64 does not hold exactly, makes the segment undecided.
func (s *summary) decide(p retention.Policy, cutoff float64) (action, bool) {
	if p.MaxRecords > 0 || p.MaxTotalBytes > 0 || s.NonRecords > 0 || s.Blanks > 0 {
		return 0, false
	}
	if p.MaxAge <= 0 {
		return untouched, true
	}
	switch {
	case s.Inexact == 0 && s.MinTS > cutoff:
		return untouched, true
	case s.Inexact == 0 && s.MaxTS < cutoff:
		return remove, true
	}
	return 0, false
}

// counts is the segment's share of a run's counts under decision a.
func (s *summary) counts(a action) retention.Counts {
	c := retention.Counts{Lines: s.Lines, Records: s.Records}
	if a == untouched {
		c.Kept = s.Records
		c.NoteKept(s.MinTS) // +Inf, ignored, when no record has an exact timestamp
	} else {
		c.DroppedAge = s.Records
	}
	return c
}

// summaries is the cache of one store's segment summaries, kept in the state directory.
type summaries struct {
	path string
	m    map[string]*summary
}

func key(dev, ino uint64) string {
	return strconv.FormatUint(dev, 10) + ":" + strconv.FormatUint(ino, 10)
}

// loadSummaries reads the cache at path. The cache is only ever an optimisation: a missing one
// is empty, and an unreadable one, or an entry that cannot describe a segment, is left out with
// a warning naming the file; the segments it would have described are read.
func loadSummaries(path string, log *zap.Logger) *summaries {
	c := &summaries{path: path, m: map[string]*summary{}}
	if path == "" {
		return c
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c
	}
	var list []*summary
	if err == nil {
		err = json.Unmarshal(b, &list)
	}
	if err != nil {
		log.Warn("segment summaries unreadable; every segment is read", zap.String("file", path), zap.Error(err))
		return c
	}
	bad := 0
	for _, s := range list {
		if !s.valid() {
			bad++
			continue
		}
		c.m[key(s.Dev, s.Ino)] = s
	}
	if bad > 0 {
		log.Warn("segment summaries that cannot describe a segment left out; those segments are read",
			zap.String("file", path), zap.Int("entries", bad))
	}
	return c
}

// valid reports whether s is something add could have built: counts that are not negative
// and add up to the lines, no more lines than bytes, and a range of timestamps exactly when
// some record has an exact one.
func (s *summary) valid() bool {
	if s == nil || s.Size < 0 || s.Records < 0 || s.NonRecords < 0 || s.Blanks < 0 || s.Inexact < 0 {
		return false
	}
	if s.Lines > s.Size || s.Records > s.Lines || s.NonRecords > s.Lines-s.Records || s.Blanks != s.Lines-s.Records-s.NonRecords {
		return false
	}
	if s.Inexact > s.Records {
		return false
	}
	if s.Records == s.Inexact {
		return math.IsInf(s.MinTS, 1) && math.IsInf(s.MaxTS, -1)
	}
	return !math.IsInf(s.MinTS, 0) && !math.IsInf(s.MaxTS, 0) && s.MinTS <= s.MaxTS
}

// summaryJSON is a summary as the cache file holds it: JSON has no infinities, so the range
// of timestamps is left out when no record has an exact one.
type summaryJSON struct {
	*plainSummary
	MinTS *float64 `json:"min_ts,omitempty"`
	MaxTS *float64 `json:"max_ts,omitempty"`
}

type plainSummary summary

// MarshalJSON writes the summary with its timestamp range only when it has one.
func (s *summary) MarshalJSON() ([]byte, error) {
	w := summaryJSON{plainSummary: (*plainSummary)(s)}
	if !math.IsInf(s.MinTS, 0) && !math.IsInf(s.MaxTS, 0) {
		w.MinTS, w.MaxTS = &s.MinTS, &s.MaxTS
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a summary; a missing end of the timestamp range is an empty range.
func (s *summary) UnmarshalJSON(b []byte) error {
	w := summaryJSON{plainSummary: (*plainSummary)(s)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	s.MinTS, s.MaxTS = math.Inf(1), math.Inf(-1)
	if w.MinTS != nil {
		s.MinTS = *w.MinTS
	}
	if w.MaxTS != nil {
		s.MaxTS = *w.MaxTS
	}
	return nil
}

// lookup returns the summary of the file fi, if one still describes it.
func (c *summaries) lookup(fi os.FileInfo) (*summary, bool) {
	st := fi.Sys().(*syscall.Stat_t)
	s, ok := c.m[key(uint64(st.Dev), st.Ino)]
	if !ok || !s.matches(fi) {
		return nil, false
	}
	return s, true
}

// save keeps the summaries of the given segments (the rest are gone or changed) atomically.
func (c *summaries) save(keep []*summary) error {
	if c.path == "" {
		return nil
	}
	if err := atomicfile.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("segment summaries: %w", err)
	}
	b, err := json.Marshal(keep)
	if err != nil {
		return fmt.Errorf("segment summaries: %w", err)
	}
	if err := atomicfile.WriteFile(c.path, b, 0o600); err != nil {
		return fmt.Errorf("segment summaries: %w", err)
	}
	return nil
}
