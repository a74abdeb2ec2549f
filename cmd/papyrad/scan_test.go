package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/papyrad/papyrad/internal/report"
)

// TestScan runs the read-only health check on stores with and without anomalies.
func TestScan(t *testing.T) {
	t.Parallel()
	lineNo := regexp.MustCompile(`(?i)\bline (\d+)\b`)
	for _, tc := range []struct {
		name    string
		content func(t *testing.T) []byte
		code    int
		// Lines that must be reported, by anomaly type; other reports may only name
		// lines in maybe (blank lines, which Papyra's json.loads rejects too).
		want  map[string][]int
		maybe []int
	}{
		{
			name:    "dirty fixture",
			content: func(t *testing.T) []byte { return readFile(t, filepath.Join(fixtureDir, "dirty", "input.ndjson")) },
			code:    2,
			// not json, [1, 2, 3], "just a string", and the truncated object.
			want:  map[string][]int{report.CorruptedLine: {7, 10, 11, 19}},
			maybe: []int{8, 9},
		},
		{
			name:    "clean fixture",
			content: func(t *testing.T) []byte { return readFile(t, filepath.Join(fixtureDir, "age", "input.ndjson")) },
			code:    0,
		},
		{
			name: "no newline at the end",
			content: func(t *testing.T) []byte {
				b := records("orig", 0, 3, fresh)
				return append(b, `{"kind": "event", "timesta`...)
			},
			code: 2,
			want: map[string][]int{report.TruncatedLine: {4}},
		},
		{
			name:    "empty",
			content: func(t *testing.T) []byte { return nil },
			code:    0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			store := filepath.Join(dir, "events.ndjson")
			writeFile(t, store, tc.content(t))
			before := stateOf(t, store)
			r := papyrad(t, "scan", "--path", store, "--json")
			if r.code != tc.code {
				t.Fatalf("want exit %d\n%s", tc.code, r)
			}
			var out report.Scan
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Stores) != 1 {
				t.Fatalf("scan --json printed no single-store report (%v)\n%s", err, r)
			}
			ss := out.Stores[0]
			if ss.Anomalies == nil {
				t.Errorf(`"anomalies" must be a list, even when empty`)
			}
			got := map[string][]int{}
			for _, a := range ss.Anomalies {
				m := lineNo.FindStringSubmatch(a.Detail)
				if m == nil {
					t.Errorf("anomaly %+v gives no line number", a)
					continue
				}
				n, _ := strconv.Atoi(m[1])
				if a.Path != store {
					t.Errorf("anomaly %+v: path is not the store %s", a, store)
				}
				if slices.Contains(tc.maybe, n) && a.Type == report.CorruptedLine {
					continue
				}
				got[a.Type] = append(got[a.Type], n)
			}
			for typ, lines := range tc.want {
				if !slices.Equal(got[typ], lines) {
					t.Errorf("%s reported on lines %v, want %v", typ, got[typ], lines)
				}
			}
			for typ, lines := range got {
				if _, ok := tc.want[typ]; !ok {
					t.Errorf("unexpected %s on lines %v", typ, lines)
				}
			}
			// A scan reads; it neither changes the store nor leaves anything beside it.
			assertUnchanged(t, store, before)
			if n := beside(t, store); len(n) > 0 {
				t.Errorf("scan left %v beside the store", n)
			}
		})
	}
}
