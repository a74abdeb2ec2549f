package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/scheduler"
)

// TestStatusForPeople: status prints every time in the daemon's zone, with how long ago or
// how soon, whatever offsets the times came with.
func TestStatusForPeople(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	sts := []scheduler.Status{{
		Store: "orders", State: "pending", DeferReason: "window",
		DeferredSince: now.Add(-2*time.Hour - 5*time.Minute),
		LastRun:       now.Add(-29*24*time.Hour - 3*time.Hour).In(time.FixedZone("", -5*3600)),
		NextRun:       now.Add(15 * time.Hour).In(time.FixedZone("", 9*3600)),
	}}
	var b bytes.Buffer
	printStatus(&b, "Europe/Berlin", sts, now)
	want := `orders: pending (window; deferred since 2026-12-02 10:55:00 CET (2h 5m ago))
  last run  2026-11-03 10:00:00 CET (29d 3h ago)
  next run  2026-12-03 04:00:00 CET (in 15h 0m)
times in Europe/Berlin, the daemon's time zone
`
	if b.String() != want {
		t.Errorf("status:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestReportForPeople: a compaction's human summary gives sizes in binary units with one
// decimal, where --json keeps the exact byte counts.
func TestReportForPeople(t *testing.T) {
	var b bytes.Buffer
	printReport(&b, report.Report{Store: "orders", Result: report.ResultOK, RecordsBefore: 10, RecordsAfter: 4, RecordsDropped: 6,
		DroppedByAge: 6, BytesBefore: 1288490189, BytesAfter: 536870912, FilesRewritten: 1, Duration: 1.5})
	for _, want := range []string{"orders: compacted in 1.50s", "records  10 -> 4 kept, 6 dropped (6 by age)", "bytes    1.2 GiB -> 512 MiB (717 MiB reclaimed)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printReport(&b, report.Report{Store: "edge", Result: report.ResultOK, RecordsBefore: 3, BytesBefore: 1536})
	if got := b.String(); got != "edge: nothing to do (3 records, 1.5 KiB)\n" {
		t.Errorf("nothing to do: %q", got)
	}
}
