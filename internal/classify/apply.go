package classify

import (
	"time"

	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// Apply plans a whole store given as lines without their terminators, each
// taken to be stored with a one-byte "\n". It is a convenience for tests and
// small callers; backends stream through a retention.Planner instead.
func Apply(lines [][]byte, p retention.Policy, now time.Time) []retention.Decision {
	pl := retention.NewPlanner(p, now)
	want := p.NeedsRepr()
	for _, line := range lines {
		pl.Add(pyjson.Classify(line, want), int64(len(line))+1)
	}
	plan := pl.Finish()
	d := make([]retention.Decision, plan.Len())
	for i := range d {
		d[i] = plan.Decision(i)
	}
	return d
}
