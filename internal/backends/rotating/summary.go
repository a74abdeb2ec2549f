package rotating

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/papyrad/papyrad/internal/livefile"
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
func (s *summary) add(l retention.Line) {
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

// loadSummaries reads the cache at path; a missing or unreadable cache is an empty one (it is
// only ever an optimisation).
func loadSummaries(path string) *summaries {
	c := &summaries{path: path, m: map[string]*summary{}}
	if path == "" {
		return c
	}
	if b, err := os.ReadFile(path); err == nil {
		var list []*summary
		if json.Unmarshal(b, &list) == nil {
			for _, s := range list {
				c.m[key(s.Dev, s.Ino)] = s
			}
		}
	}
	return c
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
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("segment summaries: %w", err)
	}
	b, err := json.Marshal(keep)
	if err != nil {
		return err
	}
	tmp := c.path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("segment summaries: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("segment summaries: %w", err)
	}
	return livefile.SyncDir(filepath.Dir(c.path))
}
