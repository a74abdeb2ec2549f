package retention

// Streaming reports whether the planner decides each line for good as it is added: true when
// the policy has no count or size limit, which can only be settled once the newest records are
// known. A streaming planner lets a store be compacted in a single read.
func (pl *Planner) Streaming() bool { return !pl.windowed }

// Last returns the decision for the line added last. It is final only when the planner is
// Streaming; otherwise a Keep may still be turned into a drop by Finish.
func (pl *Planner) Last() Decision {
	if len(pl.decisions) == 0 {
		return Keep
	}
	return pl.decisions[len(pl.decisions)-1]
}
