package retention_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/retention"
)

var update = flag.Bool("update", false, "rewrite testdata/decisions/*.golden from the current planner")

// loadPolicy reads a fixture's policy.json, Papyra's RetentionPolicy.
func loadPolicy(t *testing.T, path string) retention.Policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		MaxAgeSeconds *float64 `json:"max_age_seconds"`
		MaxRecords    *int64   `json:"max_records"`
		MaxTotalBytes *int64   `json:"max_total_bytes"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var p retention.Policy
	if raw.MaxAgeSeconds != nil {
		p.MaxAge = time.Duration(*raw.MaxAgeSeconds * float64(time.Second))
	}
	if raw.MaxRecords != nil {
		p.MaxRecords = *raw.MaxRecords
	}
	if raw.MaxTotalBytes != nil {
		p.MaxTotalBytes = *raw.MaxTotalBytes
	}
	return p
}

// TestGoldenPapyra plans each fixture store with its policy and checks that
// the kept records are, in order, the ones Papyra's apply_retention kept
// (compared by their Python repr, as expected.ndjson was re-serialised).
// It also pins the per-line decisions in testdata/decisions (-update).
func TestGoldenPapyra(t *testing.T) {
	dirs, err := filepath.Glob(fixtures + "json/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			p := loadPolicy(t, filepath.Join(dir, "policy.json"))
			input := readLines(t, filepath.Join(dir, "input.ndjson"))
			expected := readLines(t, filepath.Join(dir, "expected.ndjson"))

			pl := retention.NewPlanner(p, goldenNow)
			for _, l := range input {
				pl.Add(pyjson.Classify(l.text, p.NeedsRepr()), l.stored)
			}
			plan := pl.Finish()
			if plan.Len() != len(input) {
				t.Fatalf("plan has %d decisions for %d lines", plan.Len(), len(input))
			}

			var kept []string
			var keptBytes int64
			for i, l := range input {
				if plan.Decision(i) == retention.Keep {
					r, ok := pyjson.Repr(l.text)
					if !ok {
						t.Fatalf("line %d kept but not a record: %q", i+1, l.text)
					}
					kept = append(kept, r)
					keptBytes += l.stored
				}
			}
			var want []string
			var wantOldest retention.Counts // only its oldest timestamp: that of Papyra's kept records
			for i, l := range expected {
				r, ok := pyjson.Repr(l.text)
				if !ok {
					t.Fatalf("expected.ndjson line %d is not a record: %q", i+1, l.text)
				}
				want = append(want, r)
				wantOldest.NoteKept(pyjson.Classify(l.text, false).Timestamp.Float64())
			}
			if len(kept) != len(want) {
				t.Errorf("kept %d records, Papyra kept %d", len(kept), len(want))
			}
			for i := range min(len(kept), len(want)) {
				if kept[i] != want[i] {
					t.Errorf("kept record %d:\n got %s\nwant %s", i+1, kept[i], want[i])
					break
				}
			}
			c := plan.Counts()
			if c.Kept != int64(len(want)) || c.KeptBytes != keptBytes || c.Lines != int64(len(input)) {
				t.Errorf("counts %+v: want Kept %d, KeptBytes %d, Lines %d", c, len(want), keptBytes, len(input))
			}
			if c.HasOldestKept != wantOldest.HasOldestKept || c.OldestKept != wantOldest.OldestKept {
				t.Errorf("oldest kept timestamp %v (known %v), Papyra's kept records' oldest is %v (known %v)",
					c.OldestKept, c.HasOldestKept, wantOldest.OldestKept, wantOldest.HasOldestKept)
			}
			if sum := c.Kept + c.DroppedAge + c.DroppedCount + c.DroppedBytes; sum != c.Records {
				t.Errorf("counts %+v: kept and dropped add up to %d, not Records", c, sum)
			}
			if c.Records+c.NonRecords+c.Blanks != c.Lines {
				t.Errorf("counts %+v: kinds do not add up to Lines", c)
			}

			checkDecisionsGolden(t, filepath.Join("testdata", "decisions", name+".golden"), input, plan)
		})
	}
}

// checkDecisionsGolden compares the plan with a golden file of one
// "line-number decision" per line.
func checkDecisionsGolden(t *testing.T, path string, input []storedLine, plan *retention.Plan) {
	t.Helper()
	var buf bytes.Buffer
	for i := range input {
		fmt.Fprintf(&buf, "%d %s\n", i+1, plan.Decision(i))
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		got := strings.Split(buf.String(), "\n")
		exp := strings.Split(string(want), "\n")
		for i := range min(len(got), len(exp)) {
			if got[i] != exp[i] {
				t.Fatalf("%s differs at line %d: got %q, want %q (go test -update rewrites it)", path, i+1, got[i], exp[i])
			}
		}
		t.Fatalf("%s: got %d lines, want %d", path, len(got), len(exp))
	}
}

// TestGoldenDirty pins the classifier's hard cases in the dirty store.
func TestGoldenDirty(t *testing.T) {
	input := readLines(t, fixtures+"json/dirty/input.ndjson")
	p := loadPolicy(t, fixtures+"json/dirty/policy.json")
	pl := retention.NewPlanner(p, goldenNow)
	for _, l := range input {
		pl.Add(pyjson.Classify(l.text, true), l.stored)
	}
	plan := pl.Finish()

	nonRecords := map[string]bool{
		`{"kind": "event", "timestamp": 4102444906.0, "truncated": tr`: true,
		`this is not json`: true,
		`[1, 2, 3]`:        true,
		`"just a string"`:  true,
	}
	noNumericTimestamp := map[string]bool{
		`{"kind": "event", "payload": {}}`:     true,
		`{"kind": "event", "timestamp": null}`: true,
	}
	seen := map[retention.Decision]int{}
	for i, l := range input {
		text := string(l.text)
		d := plan.Decision(i)
		seen[d]++
		cl := pyjson.Classify(l.text, false)
		switch {
		case nonRecords[text]:
			if cl.Kind != retention.NonRecord || d != retention.NonRecordLine || cl.Reason == "" {
				t.Errorf("line %d %q: %v/%v (%q), want a non-record with a reason", i+1, text, cl.Kind, d, cl.Reason)
			}
		case strings.TrimSpace(text) == "":
			if cl.Kind != retention.Blank || d != retention.BlankLine {
				t.Errorf("line %d %q: %v/%v, want blank", i+1, text, cl.Kind, d)
			}
		case noNumericTimestamp[text]:
			if d != retention.DropAge {
				t.Errorf("line %d %q: %v, want %v", i+1, text, d, retention.DropAge)
			}
		default:
			if cl.Kind != retention.Record || !cl.Timestamp.IsNumber() {
				t.Errorf("line %d %q: %v with timestamp %v, want a record with a numeric one", i+1, text, cl.Kind, cl.Timestamp.Kind)
			}
		}
	}
	if seen[retention.NonRecordLine] != len(nonRecords) || seen[retention.BlankLine] != 2 {
		t.Errorf("decisions %v: want %d non-records and 2 blanks", seen, len(nonRecords))
	}

	// The reasons say where and why.
	for _, tc := range []struct{ line, reason string }{
		{`{"kind": "event", "timestamp": 4102444906.0, "truncated": tr`, `invalid JSON at column 59: unexpected "t"`},
		{`this is not json`, `invalid JSON at column 1: unexpected "t"`},
		{`[1, 2, 3]`, `not a JSON object (array)`},
		{`"just a string"`, `not a JSON object (string)`},
	} {
		if got := pyjson.Classify([]byte(tc.line), false).Reason; got != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.line, got, tc.reason)
		}
	}
}
