package classify

import (
	"slices"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/retention"
)

func TestApply(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lines := [][]byte{
		[]byte(`{"timestamp": 978307200.0, "n": 1}`),
		[]byte(``),
		[]byte(`{"timestamp": 4102444800.0, "n": 2}`),
		[]byte(`{"timestamp": 4102444801.0, "n": 3}`),
		[]byte(`not json`),
		[]byte(`{"timestamp": 4102444802.0, "n": 4}`),
	}
	// Each record's repr is 35 bytes: {'timestamp': 4102444800.0, 'n': 2}
	p := retention.Policy{MaxAge: 24 * time.Hour, MaxTotalBytes: 70}
	got := Apply(lines, p, now)
	want := []retention.Decision{retention.DropAge, retention.BlankLine, retention.DropBytes, retention.Keep, retention.NonRecordLine, retention.Keep}
	if !slices.Equal(got, want) {
		t.Errorf("Apply = %v, want %v", got, want)
	}
	// Stored sizes are the lines plus a newline: 36 bytes each.
	p.SizeBasis = retention.SizeBasisStored
	want = []retention.Decision{retention.DropAge, retention.BlankLine, retention.DropBytes, retention.DropBytes, retention.NonRecordLine, retention.Keep}
	if got := Apply(lines, p, now); !slices.Equal(got, want) {
		t.Errorf("Apply with stored sizes = %v, want %v", got, want)
	}
}
