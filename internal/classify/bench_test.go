package classify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/retention"
)

// BenchmarkStream reads an 8 MiB store made of the fixture stores' lines, what Papyra writes.
func BenchmarkStream(b *testing.B) {
	var store []byte
	for _, name := range []string{"none", "age", "bytes"} {
		data, err := os.ReadFile("../../testdata/papyra/json/" + name + "/input.ndjson")
		if err != nil {
			b.Fatal(err)
		}
		store = append(store, data...)
	}
	store = bytes.Repeat(store, (8<<20)/len(store)+1)
	for _, wantRepr := range []bool{false, true} {
		b.Run(fmt.Sprintf("repr=%v", wantRepr), func(b *testing.B) {
			b.SetBytes(int64(len(store)))
			b.ReportAllocs()
			for b.Loop() {
				records := 0
				_, err := Stream(context.Background(), bytes.NewReader(store), 0, true, false, wantRepr, func(l *ndjson.Line) error {
					if l.Class.Kind == retention.Record {
						records++
					}
					return nil
				})
				if err != nil || records == 0 {
					b.Fatalf("%d records, %v", records, err)
				}
			}
		})
	}
}
