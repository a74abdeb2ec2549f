package retention

import "time"

// Streaming reports whether the planner decides each line for good as it is added: true when
// the policy has no count or size limit, which can only be settled once the newest records are
// known. A streaming planner lets a store be compacted in a single read.
func (pl *Planner) Streaming() bool { return !pl.windowed }

// Last returns the decision for the line added last. It is final only when the planner is
// Streaming; otherwise a Keep may still be turned into a drop by Finish.
func (pl *Planner) Last() Decision { return pl.last }

// Forget stops a Streaming planner from recording its decisions, for a caller that acts on
// Last after every Add: its memory then stays the same however many lines it sees, and the
// plan Finish returns has counts but no decisions (Len is 0). It has no effect on a planner
// that is not Streaming, whose decisions are only settled by Finish.
func (pl *Planner) Forget() {
	if pl.Streaming() {
		pl.forget = true
	}
}

func (pl *Planner) decide(d Decision) {
	pl.last = d
	if !pl.forget {
		pl.decisions.add(d)
	}
}

// Cutoff is the age rule's threshold at now, in float seconds, as Python's
// time.time() - max_age_seconds computes it: records whose timestamp is at least the cutoff
// pass. It is meaningless when the policy has no MaxAge.
func (p Policy) Cutoff(now time.Time) float64 {
	return float64(now.UnixNano())/1e9 - p.MaxAge.Seconds()
}

// Add adds o's figures to c, for a store made of several parts planned one by one.
func (c *Counts) Add(o Counts) {
	c.Lines += o.Lines
	c.Records += o.Records
	c.Kept += o.Kept
	c.DroppedAge += o.DroppedAge
	c.DroppedCount += o.DroppedCount
	c.DroppedBytes += o.DroppedBytes
	c.NonRecords += o.NonRecords
	c.Blanks += o.Blanks
	c.KeptBytes += o.KeptBytes
	c.MergeOldest(o)
}
