package retention

import (
	"math"
	"time"
)

// Counts sums up a plan. Lines, Records, NonRecords and Blanks count lines;
// Kept and the Dropped fields count records; KeptBytes adds up the stored
// sizes of the kept records.
type Counts struct {
	Lines        int64
	Records      int64
	Kept         int64
	DroppedAge   int64
	DroppedCount int64
	DroppedBytes int64
	NonRecords   int64
	Blanks       int64
	KeptBytes    int64
	// OldestKept is the smallest timestamp of a kept record, in unix seconds,
	// when HasOldestKept is set. Kept records whose timestamp is not a finite
	// number (missing, a string, NaN, ±Infinity) have no age and do not count;
	// a plan that keeps no other record leaves HasOldestKept unset.
	OldestKept    float64
	HasOldestKept bool
}

// NoteKept takes the timestamp of a kept record into account for OldestKept.
// A timestamp that is not a finite number (NaN for a non-number, as
// [Timestamp.Float64] gives it) is ignored.
func (c *Counts) NoteKept(ts float64) {
	if math.IsNaN(ts) || math.IsInf(ts, 0) {
		return
	}
	if !c.HasOldestKept || ts < c.OldestKept {
		c.OldestKept, c.HasOldestKept = ts, true
	}
}

// MergeOldest takes o's OldestKept into account, and none of its other
// figures: for a caller that counts lines on its own but keeps the plan's
// oldest timestamp.
func (c *Counts) MergeOldest(o Counts) {
	if o.HasOldestKept {
		c.NoteKept(o.OldestKept)
	}
}

// Plan holds one Decision per line given to a Planner, in order.
type Plan struct {
	decisions decisions
	counts    Counts
}

// Len returns the number of lines planned.
func (p *Plan) Len() int { return p.decisions.len() }

// Decision returns the decision for the i-th line (from 0).
func (p *Plan) Decision(i int) Decision { return p.decisions.at(i) }

// Counts returns the plan's totals.
func (p *Plan) Counts() Counts { return p.counts }

// Planner applies a Policy to the lines of a store read once, oldest first,
// in the order of Papyra's apply_retention:
//
//  1. age: keep the records whose timestamp is a number >= now - MaxAge;
//  2. count: of those, keep the newest MaxRecords;
//  3. size: of those, walking from the newest, keep records while their
//     sizes add up to at most MaxTotalBytes, and stop at the first that
//     does not fit.
//
// The records kept in the end are always the age survivors from some point
// on: the longest run of newest survivors that satisfies both the count and
// the size limits. The planner keeps that run's sizes in a window and drops
// the oldest as new survivors push it over a limit, so its memory is at most
// one byte per line for the decisions (a run of lines with one decision takes
// less) plus 24 bytes per kept record (its two sizes and its timestamp, for
// Counts.OldestKept). Which rule dropped a record is settled by Finish.
type Planner struct {
	byAge      bool
	cutoff     float64
	maxRecords int64
	maxBytes   int64
	stored     bool // size the bytes rule by stored size
	windowed   bool // a count or size limit is set

	decisions  decisions
	last       Decision
	forget     bool // decisions are not recorded (see Forget)
	win        window
	survivors  int64 // records that passed the age rule
	keptStored int64 // stored bytes of the survivors, when !windowed
	counts     Counts
}

// NewPlanner returns a planner for p evaluated at now. now is only used for
// the age rule's cutoff, computed in float seconds as Python's time.time()
// - max_age_seconds would be.
func NewPlanner(p Policy, now time.Time) *Planner {
	pl := &Planner{
		byAge:      p.MaxAge > 0,
		maxRecords: max(p.MaxRecords, 0),
		maxBytes:   max(p.MaxTotalBytes, 0),
		stored:     p.SizeBasis == SizeBasisStored,
	}
	if pl.byAge {
		pl.cutoff = p.Cutoff(now)
	}
	pl.windowed = pl.maxRecords > 0 || pl.maxBytes > 0
	return pl
}

// Add plans the next line of the store: every logical line, blank and
// non-record ones included, so that decisions line up with the file.
// storedSize is the line's size in the store including its terminator; it is
// what SizeBasisStored measures and what Counts.KeptBytes adds up.
//
// For a policy that NeedsRepr, l must carry its ReprSize (see package pyjson).
func (pl *Planner) Add(l Class, storedSize int64) {
	pl.counts.Lines++
	switch l.Kind {
	case Blank:
		pl.decide(BlankLine)
		pl.counts.Blanks++
		return
	case Record:
	default:
		pl.decide(NonRecordLine)
		pl.counts.NonRecords++
		return
	}
	pl.counts.Records++
	if pl.byAge && !l.Timestamp.AtLeast(pl.cutoff) {
		pl.decide(DropAge)
		pl.counts.DroppedAge++
		return
	}
	// Kept for now; Finish relabels the survivors that left the window.
	pl.decide(Keep)
	pl.survivors++
	ts := l.Timestamp.Float64()
	if !pl.windowed {
		pl.keptStored += storedSize
		pl.counts.NoteKept(ts)
		return
	}
	size := l.ReprSize
	if pl.stored {
		size = storedSize
	}
	w := &pl.win
	w.push(size, storedSize, ts)
	for (pl.maxRecords > 0 && int64(w.n) > pl.maxRecords) || (pl.maxBytes > 0 && w.sum > pl.maxBytes) {
		w.pop()
	}
}

// Finish settles the decisions and returns the plan. The planner must not be
// used afterwards.
func (pl *Planner) Finish() *Plan {
	kept, keptBytes := pl.survivors, pl.keptStored
	if pl.windowed {
		kept, keptBytes = int64(pl.win.n), pl.win.stored
	}
	// Survivors that left the window: the oldest of them are beyond the
	// newest maxRecords survivors of the whole store, so the count rule
	// dropped them (it applies first); the bytes rule dropped the rest.
	left := pl.survivors - kept
	byCount := int64(0)
	if pl.maxRecords > 0 && pl.survivors > pl.maxRecords {
		byCount = pl.survivors - pl.maxRecords
	}
	byBytes := left - byCount
	d := &pl.decisions
	if left > 0 {
		toKeep, toBytes := kept, byBytes
		for i := d.len() - 1; i >= 0; i-- {
			if same, ok := d.uniform(i); ok && same != Keep {
				i &^= decisionsPerChunk - 1 // none of the chunk's lines to relabel
				continue
			}
			if d.at(i) != Keep {
				continue
			}
			switch {
			case toKeep > 0:
				toKeep--
			case toBytes > 0:
				d.set(i, DropBytes)
				toBytes--
			default:
				d.set(i, DropCount)
			}
		}
	}
	c := pl.counts
	if pl.windowed {
		pl.win.noteKept(&c)
	}
	c.Kept = kept
	c.KeptBytes = keptBytes
	c.DroppedCount = byCount
	c.DroppedBytes = byBytes
	plan := &Plan{decisions: *d, counts: c}
	*pl = Planner{}
	return plan
}

// window is a FIFO of the sizes of the newest survivors.
type window struct {
	buf    []windowEntry // a ring; len is 0 or a power of two
	head   int
	n      int
	sum    int64 // of size
	stored int64 // of stored
}

type windowEntry struct {
	size, stored int64
	ts           float64 // the record's timestamp; NaN when it is not a number
}

func (w *window) push(size, stored int64, ts float64) {
	if w.n == len(w.buf) {
		grown := make([]windowEntry, max(2*len(w.buf), 64))
		for k := range w.n {
			grown[k] = w.buf[(w.head+k)&(len(w.buf)-1)]
		}
		w.buf, w.head = grown, 0
	}
	w.buf[(w.head+w.n)&(len(w.buf)-1)] = windowEntry{size, stored, ts}
	w.n++
	w.sum += size
	w.stored += stored
}

// noteKept takes the timestamps of the records in the window, the ones kept
// in the end, into account for c.OldestKept.
func (w *window) noteKept(c *Counts) {
	for k := range w.n {
		c.NoteKept(w.buf[(w.head+k)&(len(w.buf)-1)].ts)
	}
}

func (w *window) pop() {
	e := w.buf[w.head]
	w.head = (w.head + 1) & (len(w.buf) - 1)
	w.n--
	w.sum -= e.size
	w.stored -= e.stored
}
