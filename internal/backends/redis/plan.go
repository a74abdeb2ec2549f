package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// streamPlan is what a run knows about one stream once it has read it.
type streamPlan struct {
	key    string
	exists bool
	// length and last are the stream's XLEN and last entry when the run looked: entries added
	// later are above last and are not part of the run.
	length int64
	last   id

	ids        idLog // the entries read, from the head, in order
	nonRecords []nonRecord
	plan       *retention.Plan // one decision per entry read
	// unread counts entries after the read ones that the run did not read (age_basis id with
	// no count or size limit): retention keeps them, and they are counted as records.
	unread int64
	// retCut is the position of the first entry retention keeps (ids.len() when none is).
	retCut int
}

// nonRecord is an entry whose data Papyra would not read as a record.
type nonRecord struct {
	pos    int
	id     id
	reason string
}

// freshTimestamp passes any age cutoff and a missing timestamp fails every cutoff: with
// age_basis id, records are handed to the planner with one or the other according to their
// entry ID, so that the planner applies the age rule to IDs.
var freshTimestamp = pyjson.Classify([]byte(`{"timestamp": Infinity}`), false).Timestamp

// entryLine classifies one stream entry the way Papyra's redis backend reads it:
// json.loads(fields["data"]) must give a dict. It returns the line, the bytes that stand for
// the entry in quarantine, and its stored size (the data field's length). c, when not nil,
// remembers the keys of the entries it has seen (see pyjson.Classifier).
func entryLine(c *pyjson.Classifier, e *entry, wantRepr bool) (retention.Class, []byte, int64) {
	data, ok := e.value("data")
	if !ok {
		return retention.Class{Kind: retention.NonRecord, Reason: "entry has no data field"}, e.json(), 0
	}
	l := c.Classify(data, wantRepr)
	switch l.Kind {
	case retention.Blank:
		return retention.Class{Kind: retention.NonRecord, Reason: "data is empty or blank"}, data, int64(len(data))
	case retention.Record:
		// Classify strips Python's str.strip() whitespace first, as the file stores are read;
		// json.loads on the data field only skips JSON whitespace.
		if !jsonTrimmedObject(data) {
			return retention.Class{Kind: retention.NonRecord, Reason: "whitespace around the JSON object that json.loads does not accept"}, data, int64(len(data))
		}
	}
	return l, data, int64(len(data))
}

// jsonTrimmedObject reports whether data is '{' … '}' once JSON whitespace is skipped at
// both ends.
func jsonTrimmedObject(data []byte) bool {
	i, j := 0, len(data)
	for i < j && isJSONSpace(data[i]) {
		i++
	}
	for j > i && isJSONSpace(data[j-1]) {
		j--
	}
	return j-i >= 2 && data[i] == '{' && data[j-1] == '}'
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// snapshot reads a stream's length and last entry at one instant (MULTI/EXEC).
func (r *run) snapshot(ctx context.Context, sp *streamPlan) error {
	var xlen *goredis.IntCmd
	var tail *goredis.XMessageSliceCmd
	_, err := r.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		xlen = p.XLen(ctx, sp.key)
		tail = p.XRevRangeN(ctx, sp.key, "+", "-", 1)
		return nil
	})
	if err != nil {
		return err
	}
	sp.length = xlen.Val()
	if msgs := tail.Val(); len(msgs) > 0 {
		last, err := parseID(msgs[0].ID)
		if err != nil {
			return err
		}
		sp.last = last
	}
	return nil
}

// planStream reads a stream from its head and applies retention to it.
func (r *run) planStream(ctx context.Context, sp *streamPlan) error {
	cfg := &r.s.cfg
	if err := r.snapshot(ctx, sp); err != nil {
		return err
	}
	pl := retention.NewPlanner(cfg.Policy, r.start)
	wantRepr := cfg.Policy.NeedsRepr()
	byID := cfg.AgeBasis == AgeByID && cfg.Policy.MaxAge > 0
	cutoff := cfg.Policy.Cutoff(r.start)
	end := sp.last
	if byID && pl.Streaming() {
		// Only the age rule, on IDs: the expired entries are the prefix below the first
		// millisecond that passes, and the entries that stay need not be read.
		if below, ok := ageTarget(cutoff).prev(); !ok {
			end = id{}
		} else {
			end = minID(end, below)
		}
	}
	if sp.length > 0 && end != (id{}) {
		var c pyjson.Classifier
		if err := r.readRange(ctx, sp.key, end, "page", func(e *entry) error {
			x := e.id
			l, _, size := entryLine(&c, e, wantRepr)
			if l.Kind == retention.Record && byID {
				if float64(x.ms)/1000 >= cutoff {
					l.Timestamp = freshTimestamp
				} else {
					l.Timestamp = retention.Timestamp{}
				}
			}
			if l.Kind == retention.NonRecord {
				sp.nonRecords = append(sp.nonRecords, nonRecord{pos: sp.ids.len(), id: x, reason: l.Reason})
			}
			pl.Add(l, size)
			sp.ids.add(x, size)
			return nil
		}, func() { r.progress("plan", sp) }); err != nil {
			return err
		}
	}
	sp.plan = pl.Finish()
	if n := int64(sp.ids.len()); n < sp.length && end != sp.last {
		sp.unread = sp.length - n
	}
	sp.retCut = sp.ids.len()
	for i := range sp.plan.Len() {
		if sp.plan.Decision(i) == retention.Keep {
			sp.retCut = i
			break
		}
	}
	return nil
}

// ageTarget is the first entry ID whose millisecond time passes the age cutoff (seconds).
func ageTarget(cutoff float64) id {
	if cutoff <= 0 || math.IsNaN(cutoff) {
		return id{}
	}
	if cutoff*1000 >= math.MaxUint64 {
		return maxID
	}
	ms := uint64(math.Ceil(cutoff * 1000))
	for ms > 0 && float64(ms-1)/1000 >= cutoff {
		ms--
	}
	for float64(ms)/1000 < cutoff {
		ms++
	}
	return id{ms, 0}
}

// readRange reads key's entries from its head up to end (included) in pages of at most
// ReadCount, each as large as takes about readTarget (see pacer), calling each for every entry
// and page, if set, after every page. Before each page it takes the run's step named point
// (which refreshes the lock).
func (r *run) readRange(ctx context.Context, key string, end id, point string, each func(*entry) error, page func()) error {
	start := "-"
	pace := newPacer(10, int64(r.s.cfg.ReadCount), readTarget, false)
	for {
		if err := r.step(ctx, point, key); err != nil {
			return err
		}
		n := pace.step
		got, x, took, err := r.xrange(ctx, key, start, end.String(), n, each)
		if err != nil {
			return err
		}
		if err := pace.took(ctx, n, got, took); err != nil {
			return err
		}
		if page != nil {
			page()
		}
		if got < n || x == end {
			return nil
		}
		next, ok := x.next()
		if !ok {
			return nil
		}
		start = next.String()
	}
}

// cut is what a run removes from one stream: the entries below position pos, up to (not
// including) target, the MINID of the trim.
type cut struct {
	pos    int
	target id
}

// cutAt returns the cut that removes the entries below position pos.
func (sp *streamPlan) cutAt(pos int) cut {
	switch {
	case pos <= 0:
		return cut{}
	case pos < sp.ids.len():
		return cut{pos: pos, target: sp.ids.at(pos)}
	}
	// Everything read goes: one past the last entry read. Entries added since are above it.
	t, ok := sp.ids.last.next()
	if !ok {
		t = maxID // nothing is above the largest ID, so nothing can be added after it
	}
	return cut{pos: sp.ids.len(), target: t}
}

// cutBelow returns the cut that removes the entries below x, within the entries read.
func (sp *streamPlan) cutBelow(x id) cut {
	return sp.cutAt(sp.ids.search(x))
}

// figures are one stream's counts for the report, given where the trim stops.
type figures struct {
	records, dropped, byAge, byCount, byBytes, quarantined, unreclaimed int64
	nonRecordsLeft                                                      int64
	dataBefore, dataRemoved                                             int64
}

func (sp *streamPlan) figures(c cut) figures {
	var f figures
	cnt := sp.plan.Counts()
	f.records = cnt.Records + sp.unread
	for i := range sp.plan.Len() {
		d := sp.plan.Decision(i)
		if !d.Dropped() {
			continue
		}
		if i >= c.pos {
			f.unreclaimed++
			continue
		}
		f.dropped++
		switch d {
		case retention.DropAge:
			f.byAge++
		case retention.DropCount:
			f.byCount++
		case retention.DropBytes:
			f.byBytes++
		}
	}
	k := sort.Search(len(sp.nonRecords), func(i int) bool { return sp.nonRecords[i].pos >= c.pos })
	f.quarantined = int64(k)
	f.nonRecordsLeft = int64(len(sp.nonRecords) - k)
	f.dataBefore = sp.ids.sizeBefore(sp.ids.len())
	f.dataRemoved = sp.ids.sizeBefore(c.pos)
	return f
}

// emptyPlan is the plan of a stream that does not exist.
func emptyPlan() *retention.Plan {
	return retention.NewPlanner(retention.Policy{}, time.Time{}).Finish()
}

// checkTypes fails unless each key is a stream or absent.
func (r *run) checkTypes(ctx context.Context, keys []string) (exists []bool, err error) {
	cmds := make([]*goredis.StatusCmd, len(keys))
	_, err = r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Type(ctx, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	exists = make([]bool, len(keys))
	var bad []error
	for i, c := range cmds {
		switch t := c.Val(); t {
		case "stream":
			exists[i] = true
		case "none":
		default:
			bad = append(bad, fmt.Errorf("%s holds a %s: %w", keys[i], t, errs.ErrWrongType))
		}
	}
	return exists, errors.Join(bad...)
}
