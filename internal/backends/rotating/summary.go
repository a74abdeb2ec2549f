package rotating

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/bufpool"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// summary is what a run learned about a rotated segment by reading it whole. Rotated segments
// are never written again, only renamed or deleted, so while the inode keeps its size and mtime
// the summary stands for the content, and a later run with an age-only policy can decide the
// segment without reading it, or read only the blocks around the cutoff: that is what makes a
// run's I/O follow what it removes rather than the size of the set.
type summary struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	// BtimeNs is the file's birth time where the filesystem keeps one (0 where not): an inode
	// number that a new file reuses comes with another one, whatever size and mtime it has.
	BtimeNs int64 `json:"btime_ns,omitempty"`
	tally
	// Blocks tile the segment in runs of whole lines of about blockBytes, oldest first; none
	// in a summary written before blocks were kept.
	Blocks []*block `json:"blocks,omitempty"`
	// Prefix marks the summary of the first Size bytes of an active file, which grows, so that
	// its size and mtime say nothing: it stands for those bytes only while their checksum, CRC
	// (CRC-32C and CRC-32 side by side), is the same.
	Prefix bool   `json:"prefix,omitempty"`
	CRC    uint64 `json:"crc,omitempty"` // of the bytes before pending; checksum has them all
	// pending are the last bytes of lines added to a prefix summary that CRC does not cover
	// yet: a checksum update per line cost more than the classification of the line.
	pending []byte
	// While a prefix summary is built: it saw a line too long to hand out (whose bytes the
	// checksum misses), or its last line does not end with "\n" (the writer may still be
	// writing it). Either keeps it from being saved.
	oversize, open bool
}

// tally counts lines as a summary does, for a whole segment or one block of it.
type tally struct {
	Lines      int64   `json:"lines"`
	Records    int64   `json:"records"`
	NonRecords int64   `json:"non_records"`
	Blanks     int64   `json:"blanks"`
	Inexact    int64   `json:"inexact"` // records whose timestamp is not a plain float or int a float64 holds exactly
	MinTS      float64 `json:"min_ts"`
	MaxTS      float64 `json:"max_ts"`
}

// block is a run of whole lines of a segment, at Off, Len bytes long.
type block struct {
	Off int64 `json:"off"`
	Len int64 `json:"len"`
	tally
}

// blockBytes is about how many bytes of whole lines one block covers: what a run reads of a
// segment whose summary leaves it undecided, around each block the cutoff falls in.
var blockBytes int64 = 1 << 20

func emptyTally() tally { return tally{MinTS: math.Inf(1), MaxTS: math.Inf(-1)} }

// newSummary starts the summary of the rotated segment fi, born at born (see birth).
func newSummary(fi os.FileInfo, born int64) *summary {
	st := fi.Sys().(*syscall.Stat_t)
	return &summary{Dev: uint64(st.Dev), Ino: st.Ino, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(),
		BtimeNs: born, tally: emptyTally()}
}

// birth returns the birth time of the open file f in nanoseconds, or 0 where the filesystem
// keeps none.
func birth(f *os.File) int64 {
	var stx unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &stx); err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return stx.Btime.Sec*1e9 + int64(stx.Btime.Nsec)
}

// newPrefix starts the summary of the active file fi, read from its first byte.
func newPrefix(fi os.FileInfo) *summary {
	st := fi.Sys().(*syscall.Stat_t)
	return &summary{Dev: uint64(st.Dev), Ino: st.Ino, Prefix: true, tally: emptyTally()}
}

// add accounts for the next line of the segment, n bytes long.
func (s *summary) add(l *retention.Class, n int64) {
	k := len(s.Blocks)
	if k == 0 || s.Blocks[k-1].Len >= blockBytes {
		s.Blocks = append(s.Blocks, &block{Off: s.end(), tally: emptyTally()})
		k++
	}
	b := s.Blocks[k-1]
	b.Len += n
	c := countOf(l)
	s.tally.count(c)
	b.tally.count(c)
}

// addLine extends the prefix summary s with the line l of its file, which starts where the
// summary ends.
func (s *summary) addLine(l *ndjson.Line) {
	s.add(&l.Class, l.Len)
	s.Size = s.end()
	if l.Oversize {
		s.oversize = true
		return
	}
	if len(s.pending)+len(l.Raw) > crcBatch {
		s.CRC, s.pending = crcUpdate(s.CRC, s.pending), s.pending[:0]
	}
	if len(l.Raw) > crcBatch {
		s.CRC = crcUpdate(s.CRC, l.Raw)
	} else {
		s.pending = append(s.pending, l.Raw...)
	}
	s.open = l.Raw[len(l.Raw)-1] != '\n'
}

// complete reports whether the summary may be saved: not a prefix summary that saw a line
// too long to hand out or ends inside a line.
func (s *summary) complete() bool { return !s.Prefix || !s.oversize && !s.open }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcBatch is how many bytes of lines a prefix summary gathers before updating its checksum.
const crcBatch = 64 << 10

// checksum is the checksum of the bytes the prefix summary s covers.
func (s *summary) checksum() uint64 { return crcUpdate(s.CRC, s.pending) }

// crcUpdate extends the checksum c of a prefix with the bytes b that follow it.
func crcUpdate(c uint64, b []byte) uint64 {
	return uint64(crc32.Update(uint32(c>>32), castagnoli, b))<<32 | uint64(crc32.Update(uint32(c), crc32.IEEETable, b))
}

// end is where the lines the summary's blocks cover end.
func (s *summary) end() int64 {
	if k := len(s.Blocks); k > 0 {
		return s.Blocks[k-1].Off + s.Blocks[k-1].Len
	}
	return 0
}

// appendBlock adds the lines of block b, of another file, after the lines s covers.
func (s *summary) appendBlock(b *block) {
	s.Blocks = append(s.Blocks, &block{Off: s.end(), Len: b.Len, tally: b.tally})
	s.tally.merge(b.tally)
}

// rotated turns the summary of a file's first bytes into the summary of the rotated segment
// fi (born at born) the file has become, when it covers the whole segment.
func (s *summary) rotated(fi os.FileInfo, born int64) {
	s.Prefix, s.CRC, s.pending, s.Size, s.MtimeNs, s.BtimeNs = false, 0, nil, fi.Size(), fi.ModTime().UnixNano(), born
}

// extend returns a copy of the prefix summary s that the lines after it can be added to.
func (s *summary) extend() *summary {
	c := *s
	c.CRC, c.pending = s.checksum(), nil // not s's memory
	c.Blocks = make([]*block, len(s.Blocks))
	for i, b := range s.Blocks {
		bc := *b
		c.Blocks[i] = &bc
	}
	return &c
}

// lineCount is what a tally counts of one line, worked out once for the several tallies the
// line is in.
type lineCount struct {
	kind  retention.Kind
	exact bool // a record whose timestamp a float64 holds exactly
	ts    float64
}

func countOf(l *retention.Class) lineCount {
	c := lineCount{kind: l.Kind}
	if l.Kind == retention.Record {
		ts := &l.Timestamp
		switch ts.Kind {
		case retention.TimestampFloat:
			c.ts = ts.Float64()
			c.exact = !math.IsNaN(c.ts) && !math.IsInf(c.ts, 0)
		case retention.TimestampInt:
			c.ts = ts.Float64()
			c.exact = math.Abs(c.ts) <= 1<<53
		}
	}
	return c
}

// count accounts for one line.
func (t *tally) count(c lineCount) {
	t.Lines++
	switch c.kind {
	case retention.Blank:
		t.Blanks++
		return
	case retention.NonRecord:
		t.NonRecords++
		return
	}
	t.Records++
	if !c.exact {
		t.Inexact++
		return
	}
	// Neither is NaN: plain comparisons (0 and -0 are the same instant).
	if c.ts < t.MinTS {
		t.MinTS = c.ts
	}
	if c.ts > t.MaxTS {
		t.MaxTS = c.ts
	}
}

// matches reports whether the summary still describes the file fi, born at born.
func (s *summary) matches(fi os.FileInfo, born int64) bool {
	st := fi.Sys().(*syscall.Stat_t)
	return s.Dev == uint64(st.Dev) && s.Ino == st.Ino && s.Size == fi.Size() && s.MtimeNs == fi.ModTime().UnixNano() &&
		s.BtimeNs == born
}

// decide returns what an age-only policy (or none) does with the whole segment, if the summary
// settles it (see tally.decide).
func (s *summary) decide(p retention.Policy, cutoff float64) (action, bool) {
	if p.MaxRecords > 0 || p.MaxTotalBytes > 0 {
		return 0, false
	}
	return s.tally.decide(p, cutoff)
}

// decide returns what an age-only policy (or none) does with all the lines counted, if the
// counts settle it: every record kept (and nothing else), or every record dropped by age (and
// no non-record to quarantine). Boundaries are left to a read: a timestamp equal to the
// cutoff, or any timestamp a float64 does not hold exactly, leaves the lines undecided.
func (t *tally) decide(p retention.Policy, cutoff float64) (action, bool) {
	if t.NonRecords > 0 || t.Blanks > 0 {
		return 0, false
	}
	if p.MaxAge <= 0 {
		return untouched, true
	}
	switch {
	case t.Inexact == 0 && t.MinTS > cutoff:
		return untouched, true
	case t.Inexact == 0 && t.MaxTS < cutoff:
		return remove, true
	}
	return 0, false
}

// counts is the lines' share of a run's counts under decision a.
func (t *tally) counts(a action) retention.Counts {
	c := retention.Counts{Lines: t.Lines, Records: t.Records}
	if a == untouched {
		c.Kept = t.Records
		c.NoteKept(t.MinTS) // +Inf, ignored, when no record has an exact timestamp
	} else {
		c.DroppedAge = t.Records
	}
	return c
}

// span is a part of a segment that a run deals with as a whole: its lines all kept or all
// dropped as its summary's blocks say (act untouched or remove), or read line by line (read).
type span struct {
	off, len int64
	act      action
	tally    tally
	lines    int  // of a read span: how many lines the run planned from it
	tail     bool // the lines after a prefix summary: the summary does not count them
}

// read is the act of a span whose lines are read and planned one by one.
const read action = -1

// prefixSpans splits the prefix the summary s describes as spans does, or into one span when
// the summary settles it whole.
func (s *summary) prefixSpans(p retention.Policy, cutoff float64) ([]span, bool) {
	if s.Size == 0 {
		return nil, true
	}
	if p.MaxRecords > 0 || p.MaxTotalBytes > 0 {
		return nil, false
	}
	if a, ok := s.tally.decide(p, cutoff); ok {
		return []span{{off: 0, len: s.Size, act: a, tally: s.tally}}, true
	}
	return s.spans(p, cutoff)
}

// spans splits the segment into what an age-only policy settles from its blocks and what must
// be read, when the blocks settle some of it (and something else than all of it: decide does
// that). Adjacent blocks with the same outcome make one span.
func (s *summary) spans(p retention.Policy, cutoff float64) ([]span, bool) {
	if p.MaxAge <= 0 || p.MaxRecords > 0 || p.MaxTotalBytes > 0 || len(s.Blocks) == 0 {
		return nil, false
	}
	var out []span
	settled := false
	for _, b := range s.Blocks {
		a, ok := b.decide(p, cutoff)
		if !ok {
			a = read
		}
		settled = settled || ok
		if k := len(out); k > 0 && out[k-1].act == a {
			out[k-1].len += b.Len
			out[k-1].tally.merge(b.tally)
			continue
		}
		out = append(out, span{off: b.Off, len: b.Len, act: a, tally: b.tally})
	}
	return out, settled
}

func (t *tally) merge(o tally) {
	t.Lines += o.Lines
	t.Records += o.Records
	t.NonRecords += o.NonRecords
	t.Blanks += o.Blanks
	t.Inexact += o.Inexact
	t.MinTS, t.MaxTS = min(t.MinTS, o.MinTS), max(t.MaxTS, o.MaxTS)
}

// summaries is the cache of one store's segment summaries, kept in the state directory.
type summaries struct {
	path   string
	m      map[string]*summary
	keep   []*summary // what a run keeps of them, and learned
	loaded fileID     // the cache file as it was read
}

// fileID tells one version of the cache file from another: every save replaces it with a new
// inode.
type fileID struct {
	dev, ino uint64
	size     int64
	mtimeNs  int64
}

func idOf(fi os.FileInfo) fileID {
	st := fi.Sys().(*syscall.Stat_t)
	return fileID{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}
}

// cacheFileID returns the ID of the file at path, the zero ID when there is none.
func cacheFileID(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	return idOf(fi)
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
	b, err := readCache(path, &c.loaded)
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
// and add up to the lines, no more lines than bytes, a range of timestamps exactly when some
// record has an exact one, and blocks (if any) that tile the segment and add up to it.
func (s *summary) valid() bool {
	if s == nil || !s.tally.valid(s.Size) {
		return false
	}
	if len(s.Blocks) == 0 {
		return !s.Prefix || s.Size == 0
	}
	sum, end := emptyTally(), int64(0)
	for _, b := range s.Blocks {
		if b == nil || b.Off != end || b.Len <= 0 || b.Lines == 0 || !b.tally.valid(b.Len) {
			return false
		}
		end += b.Len
		sum.merge(b.tally)
	}
	return end == s.Size && sum == s.tally
}

func (t *tally) valid(size int64) bool {
	if size < 0 || t.Records < 0 || t.NonRecords < 0 || t.Blanks < 0 || t.Inexact < 0 {
		return false
	}
	if t.Lines > size || t.Records > t.Lines || t.NonRecords > t.Lines-t.Records || t.Blanks != t.Lines-t.Records-t.NonRecords {
		return false
	}
	if t.Inexact > t.Records {
		return false
	}
	if t.Records == t.Inexact {
		return math.IsInf(t.MinTS, 1) && math.IsInf(t.MaxTS, -1)
	}
	return !math.IsInf(t.MinTS, 0) && !math.IsInf(t.MaxTS, 0) && t.MinTS <= t.MaxTS
}

// tallyJSON is a tally as the cache file holds it: JSON has no infinities, so the range of
// timestamps is left out when no record has an exact one.
type tallyJSON struct {
	Lines      int64    `json:"lines"`
	Records    int64    `json:"records"`
	NonRecords int64    `json:"non_records"`
	Blanks     int64    `json:"blanks"`
	Inexact    int64    `json:"inexact"`
	MinTS      *float64 `json:"min_ts,omitempty"`
	MaxTS      *float64 `json:"max_ts,omitempty"`
}

func (t tally) toJSON() tallyJSON {
	w := tallyJSON{Lines: t.Lines, Records: t.Records, NonRecords: t.NonRecords, Blanks: t.Blanks, Inexact: t.Inexact}
	if !math.IsInf(t.MinTS, 0) && !math.IsInf(t.MaxTS, 0) {
		w.MinTS, w.MaxTS = &t.MinTS, &t.MaxTS
	}
	return w
}

// fromJSON reads a tally back; a missing end of the timestamp range is an empty range.
func (w tallyJSON) fromJSON() tally {
	t := tally{Lines: w.Lines, Records: w.Records, NonRecords: w.NonRecords, Blanks: w.Blanks, Inexact: w.Inexact,
		MinTS: math.Inf(1), MaxTS: math.Inf(-1)}
	if w.MinTS != nil {
		t.MinTS = *w.MinTS
	}
	if w.MaxTS != nil {
		t.MaxTS = *w.MaxTS
	}
	return t
}

type summaryJSON struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	BtimeNs int64  `json:"btime_ns,omitempty"`
	tallyJSON
	Blocks []*block `json:"blocks,omitempty"`
	Prefix bool     `json:"prefix,omitempty"`
	CRC    uint64   `json:"crc,omitempty"`
}

type blockJSON struct {
	Off int64 `json:"off"`
	Len int64 `json:"len"`
	tallyJSON
}

// MarshalJSON writes the summary with its timestamp ranges only where they are not empty.
func (s *summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{Dev: s.Dev, Ino: s.Ino, Size: s.Size, MtimeNs: s.MtimeNs, BtimeNs: s.BtimeNs, tallyJSON: s.tally.toJSON(),
		Blocks: s.Blocks, Prefix: s.Prefix, CRC: s.checksum()})
}

// UnmarshalJSON reads a summary.
func (s *summary) UnmarshalJSON(b []byte) error {
	var w summaryJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = summary{Dev: w.Dev, Ino: w.Ino, Size: w.Size, MtimeNs: w.MtimeNs, BtimeNs: w.BtimeNs, tally: w.tallyJSON.fromJSON(),
		Blocks: w.Blocks, Prefix: w.Prefix, CRC: w.CRC}
	return nil
}

// MarshalJSON writes the block with its timestamp range only when it has one.
func (b *block) MarshalJSON() ([]byte, error) {
	return json.Marshal(blockJSON{Off: b.Off, Len: b.Len, tallyJSON: b.tally.toJSON()})
}

// UnmarshalJSON reads a block.
func (b *block) UnmarshalJSON(data []byte) error {
	var w blockJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = block{Off: w.Off, Len: w.Len, tally: w.tallyJSON.fromJSON()}
	return nil
}

// lookup returns the summary of the rotated segment fi, born at born, if one still describes
// it.
func (c *summaries) lookup(fi os.FileInfo, born int64) (*summary, bool) {
	st := fi.Sys().(*syscall.Stat_t)
	s, ok := c.m[key(uint64(st.Dev), st.Ino)]
	if !ok || s.Prefix || !s.matches(fi, born) {
		return nil, false
	}
	return s, true
}

// lookupPrefix returns the summary of the first bytes of the active file f (fi), if one
// describes them: a prefix summary of the same inode, no longer than the file, whose bytes
// still have the checksum it was written with. Reading them for it costs a fraction of
// classifying them.
func (c *summaries) lookupPrefix(fi os.FileInfo, f *os.File) (*summary, bool) {
	st := fi.Sys().(*syscall.Stat_t)
	s, ok := c.m[key(uint64(st.Dev), st.Ino)]
	if !ok || !s.Prefix || s.Size > fi.Size() {
		return nil, false
	}
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	var crc uint64
	for off := int64(0); off < s.Size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), s.Size-off)], off)
		if err != nil && !(errors.Is(err, io.EOF) && off+int64(n) == s.Size) {
			return nil, false
		}
		crc = crcUpdate(crc, buf[:n])
		off += int64(n)
	}
	if crc != s.checksum() {
		return nil, false
	}
	return s, true
}

// readCache reads the cache file at path and sets *id to the ID of what it read.
func readCache(path string, id *fileID) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	*id = idOf(fi)
	return io.ReadAll(f)
}

// saveUnlessNewer is save for a dry run, which holds no lock: it saves only with the store's
// lock taken (lock fails while a real run holds it) and the cache file as it was read, so that
// it never replaces the summaries a real run saved meanwhile, of segments it rewrote, with
// those of the segments as they were. It reports whether it saved.
func (c *summaries) saveUnlessNewer(keep []*summary, lock func() (func(), error)) (bool, error) {
	if c.path == "" {
		return false, nil
	}
	unlock, err := lock()
	if err != nil {
		return false, nil
	}
	defer unlock()
	if cacheFileID(c.path) != c.loaded {
		return false, nil
	}
	return true, c.save(keep)
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
