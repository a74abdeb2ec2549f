package pyjson

import (
	"bytes"
	"os"
	"strings"
	"testing"

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

// longLines are records carrying long text, such as a dead letter's payload
// with a traceback.
func longLines() ([][]byte, int64) {
	var lines [][]byte
	var total int64
	for i := range 50 {
		text := strings.Repeat("Traceback (most recent call last): File /srv/app/worker.py, line 42, in handle; ", 10+i)
		l := []byte(`{"kind": "dead_letter", "system_id": "prod-eu-1", "target": null, "message_type": "PaymentRequest", "payload": {"error": "` +
			text + `", "amount": 11.25}, "timestamp": 4102444809.123456}`)
		lines = append(lines, l)
		total += int64(len(l)) + 1
	}
	return lines, total
}

func BenchmarkClassify(b *testing.B) {
	papyra, papyraTotal := benchLines(b)
	long, longTotal := longLines()
	for _, tc := range []struct {
		name     string
		lines    [][]byte
		total    int64
		wantRepr bool
	}{
		{"papyra/repr=false", papyra, papyraTotal, false},
		{"papyra/repr=true", papyra, papyraTotal, true},
		{"long/repr=false", long, longTotal, false},
		{"long/repr=true", long, longTotal, true},
	} {
		lines, total := tc.lines, tc.total
		if !tc.wantRepr {
			b.Run(tc.name+"/classifier", func(b *testing.B) {
				b.SetBytes(total)
				b.ReportAllocs()
				var c Classifier
				for b.Loop() {
					for _, l := range lines {
						if c.Classify(l, false).Kind != retention.Record {
							b.Fatal("not a record")
						}
					}
				}
			})
		}
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				for _, l := range lines {
					if Classify(l, tc.wantRepr).Kind != retention.Record {
						b.Fatal("not a record")
					}
				}
			}
		})
	}
}
