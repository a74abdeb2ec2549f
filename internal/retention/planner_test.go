package retention

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// refLine is a classified line for the reference planner.
type refLine struct {
	line   Class
	stored int64
}

// referencePlan is Papyra's apply_retention transcribed as directly as
// possible, over whole slices, tracking which rule dropped each record.
func referencePlan(lines []refLine, p Policy, now time.Time) ([]Decision, Counts) {
	d := make([]Decision, len(lines))
	var c Counts
	c.Lines = int64(len(lines))
	var result []int // indices of the records still kept
	for i, l := range lines {
		switch l.line.Kind {
		case Blank:
			d[i] = BlankLine
			c.Blanks++
		case NonRecord:
			d[i] = NonRecordLine
			c.NonRecords++
		default:
			result = append(result, i)
			c.Records++
		}
	}
	// 1. age
	if p.MaxAge > 0 {
		cutoff := float64(now.UnixNano())/1e9 - p.MaxAge.Seconds()
		var kept []int
		for _, i := range result {
			if lines[i].line.Timestamp.AtLeast(cutoff) {
				kept = append(kept, i)
			} else {
				d[i] = DropAge
				c.DroppedAge++
			}
		}
		result = kept
	}
	// 2. count: result[-max_records:]
	if p.MaxRecords > 0 && int64(len(result)) > p.MaxRecords {
		cut := len(result) - int(p.MaxRecords)
		for _, i := range result[:cut] {
			d[i] = DropCount
			c.DroppedCount++
		}
		result = result[cut:]
	}
	// 3. bytes: newest first, stop at the first that does not fit
	if p.MaxTotalBytes > 0 {
		var total int64
		n := 0
		for k := len(result) - 1; k >= 0; k-- {
			l := lines[result[k]]
			size := l.line.ReprSize
			if p.SizeBasis == SizeBasisStored {
				size = l.stored
			}
			if total+size > p.MaxTotalBytes {
				break
			}
			total += size
			n++
		}
		for _, i := range result[:len(result)-n] {
			d[i] = DropBytes
			c.DroppedBytes++
		}
		result = result[len(result)-n:]
	}
	for _, i := range result {
		d[i] = Keep
		c.Kept++
		c.KeptBytes += lines[i].stored
		c.NoteKept(lines[i].line.Timestamp.Float64())
	}
	return d, c
}

func planLines(lines []refLine, p Policy, now time.Time) *Plan {
	pl := NewPlanner(p, now)
	for _, l := range lines {
		pl.Add(l.line, l.stored)
	}
	return pl.Finish()
}

func decisionsOf(p *Plan) []Decision {
	d := make([]Decision, p.Len())
	for i := range d {
		d[i] = p.Decision(i)
	}
	return d
}

var plannerNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// rec builds a record line with a float timestamp and a repr size.
func rec(ts float64, size int64) refLine {
	return refLine{Class{Kind: Record, Timestamp: FloatTimestamp(ts), ReprSize: size}, size + 1}
}

func TestPlannerExamples(t *testing.T) {
	now := plannerNow
	nowSec := float64(now.Unix())
	fresh, old := nowSec-10, nowSec-1000
	blank := refLine{Class{Kind: Blank}, 1}
	bad := refLine{Class{Kind: NonRecord, Reason: "x"}, 5}
	noTS := refLine{Class{Kind: Record, ReprSize: 3}, 4}
	tests := []struct {
		name   string
		policy Policy
		lines  []refLine
		want   string // one letter per line: K keep, A age, C count, B bytes, _ blank, N non-record
	}{
		{"no limits", Policy{}, []refLine{rec(old, 5), blank, noTS, bad, rec(fresh, 5)}, "K_KNK"},
		{"age", Policy{MaxAge: time.Minute}, []refLine{rec(old, 5), rec(fresh, 5), noTS, rec(math.NaN(), 1), rec(math.Inf(1), 1)}, "AKAAK"},
		{"age boundary is inclusive", Policy{MaxAge: 100 * time.Second}, []refLine{rec(nowSec-100, 1), rec(nowSec-100.001, 1)}, "KA"},
		{"fractional max age", Policy{MaxAge: 1500 * time.Millisecond}, []refLine{rec(nowSec-1.5, 1), rec(nowSec-1.6, 1)}, "KA"},
		{"count", Policy{MaxRecords: 2}, []refLine{rec(old, 1), blank, rec(old, 1), rec(old, 1), bad}, "C_KKN"},
		{"count larger than store", Policy{MaxRecords: 10}, []refLine{rec(old, 1), rec(old, 1)}, "KK"},
		{"bytes stops at the first misfit", Policy{MaxTotalBytes: 10}, []refLine{rec(old, 1), rec(old, 6), rec(old, 5), rec(old, 5)}, "BBKK"},
		{"bytes exact fit", Policy{MaxTotalBytes: 10}, []refLine{rec(old, 1), rec(old, 5), rec(old, 5)}, "BKK"},
		{"newest too big keeps nothing", Policy{MaxTotalBytes: 10}, []refLine{rec(old, 1), rec(old, 1), rec(old, 100)}, "BBB"},
		{"count applies before bytes", Policy{MaxRecords: 3, MaxTotalBytes: 10}, []refLine{rec(old, 8), rec(old, 5), rec(old, 1), rec(old, 1), rec(old, 1)}, "CCKKK"},
		{"bytes within count", Policy{MaxRecords: 3, MaxTotalBytes: 10}, []refLine{rec(old, 1), rec(old, 9), rec(old, 1), rec(old, 1)}, "CBKK"},
		{"all three", Policy{MaxAge: time.Minute, MaxRecords: 3, MaxTotalBytes: 10},
			[]refLine{rec(fresh, 1), rec(old, 1), rec(fresh, 6), rec(fresh, 5), noTS, rec(fresh, 3), rec(fresh, 3)}, "CACBAKK"},
		{"stored basis", Policy{MaxTotalBytes: 10, SizeBasis: SizeBasisStored}, []refLine{rec(old, 1), rec(old, 4), rec(old, 4)}, "BKK"},
		{"empty store", Policy{MaxAge: time.Hour, MaxRecords: 1, MaxTotalBytes: 1}, nil, ""},
		{"negative limits are no limits", Policy{MaxAge: -time.Hour, MaxRecords: -1, MaxTotalBytes: -1}, []refLine{rec(old, 5)}, "K"},
	}
	letters := map[Decision]byte{Keep: 'K', DropAge: 'A', DropCount: 'C', DropBytes: 'B', BlankLine: '_', NonRecordLine: 'N'}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := planLines(tc.lines, tc.policy, now)
			var got strings.Builder
			for _, d := range decisionsOf(plan) {
				got.WriteByte(letters[d])
			}
			if got.String() != tc.want {
				t.Errorf("decisions %s, want %s", got.String(), tc.want)
			}
			if tc.policy.Validate() == nil {
				wantD, wantC := referencePlan(tc.lines, tc.policy, now)
				if !slices.Equal(decisionsOf(plan), wantD) || plan.Counts() != wantC {
					t.Errorf("reference disagrees: %v %+v", wantD, wantC)
				}
			}
		})
	}
}

// randomStore builds n random lines around the age cutoff of maxAge.
func randomStore(r *rand.Rand, n int, now time.Time, maxAge time.Duration) []refLine {
	cutoff := float64(now.UnixNano())/1e9 - maxAge.Seconds()
	lines := make([]refLine, n)
	for i := range lines {
		var l Class
		switch k := r.IntN(20); {
		case k == 0:
			l.Kind = Blank
		case k == 1:
			l.Kind = NonRecord
		default:
			l.Kind = Record
			switch r.IntN(10) {
			case 0: // no numeric timestamp
				l.Timestamp = Timestamp{Kind: []TimestampKind{TimestampMissing, TimestampNull, TimestampBool, TimestampString}[r.IntN(4)]}
			case 1:
				l.Timestamp = FloatTimestamp([]float64{math.NaN(), math.Inf(1), math.Inf(-1), cutoff}[r.IntN(4)])
			case 2:
				l.Timestamp = Timestamp{Kind: TimestampInt, bits: uint64(int64(cutoff) + int64(r.IntN(5)-2))}
			default:
				l.Timestamp = FloatTimestamp(cutoff + (r.Float64()-0.5)*20)
			}
			l.ReprSize = int64(r.IntN(120))
		}
		lines[i] = refLine{l, int64(r.IntN(150))}
	}
	return lines
}

func randomPolicy(r *rand.Rand) Policy {
	var p Policy
	if r.IntN(2) == 0 {
		p.MaxAge = time.Duration(r.IntN(100000)) * time.Millisecond
	}
	if r.IntN(2) == 0 {
		p.MaxRecords = int64(r.IntN(30))
	}
	if r.IntN(2) == 0 {
		p.MaxTotalBytes = int64(r.IntN(2000))
	}
	if r.IntN(3) == 0 {
		p.SizeBasis = SizeBasisStored
	}
	return p
}

// TestPlannerMatchesReference is a property test: on random stores and
// policies the streaming planner decides exactly as the reference.
func TestPlannerMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(20260101, 1))
	for iter := range 3000 {
		p := randomPolicy(r)
		lines := randomStore(r, r.IntN(200), plannerNow, p.MaxAge)
		plan := planLines(lines, p, plannerNow)
		wantD, wantC := referencePlan(lines, p, plannerNow)
		if got := decisionsOf(plan); !slices.Equal(got, wantD) {
			for i := range got {
				if got[i] != wantD[i] {
					t.Fatalf("iteration %d, policy %+v: line %d is %v, reference says %v", iter, p, i, got[i], wantD[i])
				}
			}
		}
		if got := plan.Counts(); got != wantC {
			t.Fatalf("iteration %d, policy %+v: counts %+v, reference %+v", iter, p, got, wantC)
		}
	}
}

// TestPlannerMemory checks that the window holds no more than the records
// kept, however long the store.
func TestPlannerMemory(t *testing.T) {
	pl := NewPlanner(Policy{MaxRecords: 10, MaxTotalBytes: 1 << 40}, plannerNow)
	for range 100000 {
		pl.Add(Class{Kind: Record, ReprSize: 100}, 101)
	}
	if pl.win.n != 10 || len(pl.win.buf) > 64 {
		t.Errorf("window holds %d entries in a ring of %d", pl.win.n, len(pl.win.buf))
	}
	c := pl.Finish().Counts()
	if c.Kept != 10 || c.DroppedCount != 100000-10 || c.KeptBytes != 1010 {
		t.Errorf("counts %+v", c)
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		p                 Policy
		zero, repr, valid bool
	}{
		{Policy{}, true, false, true},
		{Policy{SizeBasis: SizeBasisStored}, true, false, true},
		{Policy{MaxAge: time.Second}, false, false, true},
		{Policy{MaxRecords: 1}, false, false, true},
		{Policy{MaxTotalBytes: 1}, false, true, true},
		{Policy{MaxTotalBytes: 1, SizeBasis: SizeBasisStored}, false, false, true},
		{Policy{MaxAge: -time.Second}, true, false, false},
		{Policy{MaxRecords: -1}, true, false, false},
		{Policy{MaxTotalBytes: -1}, true, false, false},
		{Policy{SizeBasis: 7}, true, false, false},
	}
	for _, tc := range tests {
		if got := tc.p.IsZero(); got != tc.zero {
			t.Errorf("%+v.IsZero() = %v", tc.p, got)
		}
		if got := tc.p.NeedsRepr(); got != tc.repr {
			t.Errorf("%+v.NeedsRepr() = %v", tc.p, got)
		}
		if err := tc.p.Validate(); (err == nil) != tc.valid {
			t.Errorf("%+v.Validate() = %v", tc.p, err)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Keep.String(), "keep"},
		{DropAge.String(), "drop-age"},
		{DropCount.String(), "drop-count"},
		{DropBytes.String(), "drop-bytes"},
		{BlankLine.String(), "blank"},
		{NonRecordLine.String(), "non-record"},
		{Decision(99).String(), "Decision(99)"},
		{Record.String(), "record"},
		{NonRecord.String(), "non-record"},
		{Blank.String(), "blank"},
		{SizeBasisPapyra.String(), "papyra"},
		{SizeBasisStored.String(), "stored"},
		{TimestampBigInt.String(), "big int"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !DropCount.Dropped() || Keep.Dropped() || NonRecordLine.Dropped() {
		t.Error("Dropped is wrong")
	}
}

// TestOldestKept: the plan knows the smallest timestamp among the records it keeps, wherever it
// sits in the store, leaving out records that have no finite numeric timestamp, and says so
// when no kept record has one.
func TestOldestKept(t *testing.T) {
	now := plannerNow
	nowSec := float64(now.Unix())
	noTS := refLine{Class{Kind: Record, ReprSize: 3}, 4}
	bigInt := refLine{Class{Kind: Record, Timestamp: BigIntTimestamp("-99999999999999999999"), ReprSize: 3}, 4}
	tests := []struct {
		name   string
		policy Policy
		lines  []refLine
		want   float64
		none   bool
	}{
		{"no limits keeps the oldest", Policy{}, []refLine{rec(nowSec-50, 1), noTS, rec(nowSec-900, 1), rec(math.Inf(-1), 1), rec(math.NaN(), 1)}, nowSec - 900, false},
		{"age leaves out what it drops", Policy{MaxAge: time.Minute}, []refLine{rec(nowSec-900, 1), rec(nowSec-30, 1), rec(nowSec-40, 1), rec(math.Inf(1), 1)}, nowSec - 40, false},
		{"count: out of order, not the first kept", Policy{MaxRecords: 3}, []refLine{rec(10, 1), rec(20, 1), rec(30, 1), rec(5, 1), rec(25, 1)}, 5, false},
		{"bytes: what left the window does not count", Policy{MaxTotalBytes: 2}, []refLine{rec(1, 1), rec(300, 1), rec(200, 1)}, 200, false},
		{"an integer beyond int64", Policy{}, []refLine{rec(7, 1), bigInt}, -1e20, false},
		{"only records without a timestamp", Policy{MaxRecords: 5}, []refLine{noTS, noTS, rec(math.NaN(), 1)}, 0, true},
		{"nothing kept", Policy{MaxAge: time.Minute}, []refLine{rec(1, 1)}, 0, true},
		{"empty store", Policy{}, nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := planLines(tc.lines, tc.policy, now).Counts()
			if tc.none {
				if c.HasOldestKept {
					t.Errorf("oldest kept %v, want none", c.OldestKept)
				}
				return
			}
			if !c.HasOldestKept || c.OldestKept != tc.want {
				t.Errorf("oldest kept %v (known %v), want %v", c.OldestKept, c.HasOldestKept, tc.want)
			}
		})
	}
}

// TestCountsAddKeepsTheOldest: a store planned in parts has the oldest of its parts' oldest
// timestamps, and a part with none changes nothing.
func TestCountsAddKeepsTheOldest(t *testing.T) {
	var total Counts
	total.Add(Counts{Records: 1, Kept: 1, OldestKept: 300, HasOldestKept: true})
	total.Add(Counts{Records: 2, DroppedAge: 2})
	total.Add(Counts{Records: 1, Kept: 1, OldestKept: 200, HasOldestKept: true})
	total.Add(Counts{Records: 1, Kept: 1, OldestKept: 250, HasOldestKept: true})
	if total.Records != 5 || !total.HasOldestKept || total.OldestKept != 200 {
		t.Errorf("counts %+v: want 5 records, oldest kept 200", total)
	}
	var lines Counts
	lines.MergeOldest(Counts{Records: 9, OldestKept: 100, HasOldestKept: true})
	if lines.Records != 0 || lines.OldestKept != 100 {
		t.Errorf("MergeOldest took more than the oldest timestamp: %+v", lines)
	}
	lines.MergeOldest(Counts{})
	if !lines.HasOldestKept || lines.OldestKept != 100 {
		t.Errorf("merging no oldest changed it: %+v", lines)
	}
}

// TestPlannerLongRuns plans stores of several decision chunks made of runs of one kind of line,
// short and long, some of them crossing a chunk's end, under policies whose count and size
// limits relabel survivors across chunks, and checks every decision against the reference.
func TestPlannerLongRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(20261203, 2))
	cutoff := float64(plannerNow.UnixNano())/1e9 - 3600
	kinds := []refLine{
		rec(cutoff-100, 10),         // dropped by age
		rec(cutoff+100, 10),         // kept by age
		{Class{Kind: Blank}, 1},     // blank
		{Class{Kind: NonRecord}, 7}, // non-record
	}
	for iter := range 4 {
		const size = 2*decisionsPerChunk + decisionsPerChunk/2
		lines := make([]refLine, 0, size+2*decisionsPerChunk)
		for len(lines) < size {
			n := 1 + r.IntN(8)
			if r.IntN(3) == 0 {
				n = 1 + r.IntN(2*decisionsPerChunk)
			}
			k := kinds[r.IntN(len(kinds))]
			for range n {
				lines = append(lines, k)
			}
		}
		p := Policy{MaxAge: time.Hour}
		switch iter % 4 {
		case 1:
			p.MaxRecords = int64(r.IntN(len(lines)))
		case 2:
			p.MaxTotalBytes, p.SizeBasis = int64(r.IntN(len(lines)*11)), SizeBasisStored
		case 3:
			p.MaxAge, p.MaxRecords, p.MaxTotalBytes = 0, int64(r.IntN(len(lines))), int64(r.IntN(len(lines)*10))
		}
		plan := planLines(lines, p, plannerNow)
		wantD, wantC := referencePlan(lines, p, plannerNow)
		got := decisionsOf(plan)
		for i := range wantD {
			if got[i] != wantD[i] {
				t.Fatalf("iteration %d, policy %+v, %d lines: line %d is %v, reference says %v", iter, p, len(lines), i, got[i], wantD[i])
			}
		}
		if c := plan.Counts(); c != wantC {
			t.Fatalf("iteration %d, policy %+v: counts %+v, reference %+v", iter, p, c, wantC)
		}
	}
}

// TestPlannerRunsTakeNoMemoryPerLine: a store whose lines all have one decision, chunk after
// chunk, is planned in a few bytes per chunk, not one per line.
func TestPlannerRunsTakeNoMemoryPerLine(t *testing.T) {
	cutoff := float64(plannerNow.UnixNano())/1e9 - 3600
	old := rec(cutoff-100, 10)
	lines := 8 * decisionsPerChunk
	allocs := testing.AllocsPerRun(3, func() {
		pl := NewPlanner(Policy{MaxAge: time.Hour}, plannerNow)
		for range lines {
			pl.Add(old.line, old.stored)
		}
		if plan := pl.Finish(); plan.Len() != lines || plan.Decision(lines-1) != DropAge {
			t.Fatalf("plan of %d lines, last %v", plan.Len(), plan.Decision(lines-1))
		}
	})
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.TotalAlloc
	pl := NewPlanner(Policy{MaxAge: time.Hour}, plannerNow)
	for range lines {
		pl.Add(old.line, old.stored)
	}
	pl.Finish()
	runtime.ReadMemStats(&m)
	if got := m.TotalAlloc - before; got > uint64(lines/64) || allocs > 12 {
		t.Errorf("planning %d lines of one decision allocated %d bytes in %.0f allocations", lines, got, allocs)
	}
}
