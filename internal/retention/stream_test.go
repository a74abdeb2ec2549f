package retention_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// TestStreamingDecisionsAreFinal checks that a planner without count or size limits decides
// each line for good as it is added, and that those decisions are the plan's.
func TestStreamingDecisionsAreFinal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lines := []string{
		`{"timestamp": 978307200.0}`,
		`not json`,
		``,
		`{"timestamp": 4102444800.0}`,
		`{"kind": "event"}`,
	}
	for _, p := range []retention.Policy{{MaxAge: 24 * time.Hour}, {}} {
		pl := retention.NewPlanner(p, now)
		if !pl.Streaming() {
			t.Fatalf("%+v: not streaming", p)
		}
		var got []retention.Decision
		for _, l := range lines {
			pl.Add(pyjson.Classify([]byte(l), false), int64(len(l)+1))
			got = append(got, pl.Last())
		}
		plan := pl.Finish()
		for i, d := range got {
			if plan.Decision(i) != d {
				t.Errorf("%+v line %d: Last() = %v, plan says %v", p, i, d, plan.Decision(i))
			}
		}
	}
	for _, p := range []retention.Policy{{MaxRecords: 1}, {MaxTotalBytes: 10}, {MaxAge: time.Hour, MaxRecords: 5}} {
		if retention.NewPlanner(p, now).Streaming() {
			t.Errorf("%+v: a count or size limit cannot be decided line by line", p)
		}
	}
}

func TestForgetKeepsCountsOnly(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pl := retention.NewPlanner(retention.Policy{MaxAge: time.Hour}, now)
	pl.Forget()
	var last []retention.Decision
	for _, l := range []string{`{"timestamp": 1}`, `x`, `{"timestamp": 4102444800}`} {
		pl.Add(pyjson.Classify([]byte(l), false), int64(len(l)+1))
		last = append(last, pl.Last())
	}
	if want := []retention.Decision{retention.DropAge, retention.NonRecordLine, retention.Keep}; fmt.Sprint(last) != fmt.Sprint(want) {
		t.Errorf("Last() gave %v, want %v", last, want)
	}
	plan := pl.Finish()
	if plan.Len() != 0 {
		t.Errorf("a forgetting planner kept %d decisions", plan.Len())
	}
	if c := plan.Counts(); c.Records != 2 || c.Kept != 1 || c.DroppedAge != 1 || c.NonRecords != 1 {
		t.Errorf("counts %+v", c)
	}
	windowed := retention.NewPlanner(retention.Policy{MaxRecords: 1}, now)
	windowed.Forget()
	windowed.Add(pyjson.Classify([]byte(`{}`), false), 3)
	if windowed.Finish().Len() != 1 {
		t.Error("Forget must not affect a planner that settles decisions at the end")
	}
}
