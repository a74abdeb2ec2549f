package retention_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// benchLines returns the lines of the fixture stores: what Papyra writes
// (events, audits and dead letters, a few with non-ASCII text).
func benchLines(b *testing.B) ([][]byte, int64) {
	b.Helper()
	var lines [][]byte
	var total int64
	for _, name := range []string{"none", "age", "bytes"} {
		data, err := os.ReadFile(fixtures + "json/" + name + "/input.ndjson")
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			lines = append(lines, l)
			total += int64(len(l)) + 1
		}
	}
	return lines, total
}

func BenchmarkPlanner(b *testing.B) {
	lines, total := benchLines(b)
	classified := make([]retention.Class, len(lines))
	for i, l := range lines {
		classified[i] = pyjson.Classify(l, true)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := retention.Policy{MaxAge: 24 * time.Hour, MaxRecords: 100, MaxTotalBytes: 20000}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		pl := retention.NewPlanner(p, now)
		for i, l := range classified {
			pl.Add(l, int64(len(lines[i]))+1)
		}
		pl.Finish()
	}
}
