package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

const fixtureDir = "../../testdata/papyra/json"

// papyraPolicy is a fixture's policy.json: the RetentionPolicy Papyra applied.
type papyraPolicy struct {
	MaxAgeSeconds *int64 `json:"max_age_seconds"`
	MaxRecords    *int64 `json:"max_records"`
	MaxTotalBytes *int64 `json:"max_total_bytes"`
}

// flags returns the compact flags that express the policy.
func (p papyraPolicy) flags() []string {
	var f []string
	if p.MaxAgeSeconds != nil {
		f = append(f, "--max-age", fmt.Sprintf("%ds", *p.MaxAgeSeconds))
	}
	if p.MaxRecords != nil {
		f = append(f, "--max-records", fmt.Sprint(*p.MaxRecords))
	}
	if p.MaxTotalBytes != nil {
		f = append(f, "--max-total-bytes", fmt.Sprint(*p.MaxTotalBytes))
	}
	if len(f) == 0 {
		f = []string{"--no-retention"}
	}
	return f
}

// TestFixtures compacts every Papyra-written json store with the policy Papyra applied to it
// and checks that papyrad keeps exactly the records Papyra's retention keeps, byte for byte.
func TestFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// What the fixture holds besides records (read off input.ndjson and its README).
		blank int64
		// The input lines that are not records, in order: they must end up in quarantine.
		nonRecords []string
		// The rule that drops records when the policy has a single limit ("" otherwise).
		rule string
	}{
		{name: "age", rule: "age"},
		{name: "bytes", rule: "bytes"},
		{name: "combined"},
		{name: "count", rule: "count"},
		{name: "dirty", blank: 2, rule: "age", nonRecords: []string{
			"this is not json",
			"[1, 2, 3]",
			`"just a string"`,
			`{"kind": "event", "timestamp": 4102444906.0, "truncated": tr`,
		}},
		{name: "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(fixtureDir, tc.name)
			input := readFile(t, filepath.Join(src, "input.ndjson"))
			expected := testutil.SplitLines(readFile(t, filepath.Join(src, "expected.ndjson")))
			var pol papyraPolicy
			if err := json.Unmarshal(readFile(t, filepath.Join(src, "policy.json")), &pol); err != nil {
				t.Fatal(err)
			}
			inLines := testutil.SplitLines(input)
			want := report.Report{
				RecordsBefore:      int64(len(inLines)) - tc.blank - int64(len(tc.nonRecords)),
				RecordsAfter:       int64(len(expected)),
				RecordsQuarantined: int64(len(tc.nonRecords)),
				BlankLines:         tc.blank,
				BytesBefore:        int64(len(input)),
			}
			want.RecordsDropped = want.RecordsBefore - want.RecordsAfter
			rewrite := want.RecordsDropped > 0 || want.RecordsQuarantined > 0 || want.BlankLines > 0

			dir, state := t.TempDir(), t.TempDir()
			store := filepath.Join(dir, "events.ndjson")
			writeFile(t, store, input)
			args := jsonStore(store, state, pol.flags()...)

			// A dry run reports what the run will do and touches nothing.
			before := stateOf(t, store)
			dry, r := compactJSON(t, append(args, "--dry-run")...)
			if r.code != 0 || dry.Result != report.ResultOK || !dry.DryRun {
				t.Fatalf("dry run: want exit 0, result ok, dry_run true\n%s", r)
			}
			assertCounts(t, "dry run", dry, want)
			assertUnchanged(t, store, before)
			if n := beside(t, store); len(n) > 0 {
				t.Errorf("dry run left files beside the store: %v", n)
			}
			if f := filesUnder(t, state); len(f) > 0 {
				t.Errorf("dry run wrote state files: %v", f)
			}

			rep, r := compactJSON(t, args...)
			if r.code != 0 || rep.Result != report.ResultOK || rep.DryRun {
				t.Fatalf("want exit 0 and result ok\n%s", r)
			}
			assertCounts(t, "run", rep, want)
			if dry.BytesAfter != rep.BytesAfter || dry.FilesRewritten != rep.FilesRewritten {
				t.Errorf("dry run predicted bytes_after %d, files_rewritten %d; the run did %d, %d",
					dry.BytesAfter, dry.FilesRewritten, rep.BytesAfter, rep.FilesRewritten)
			}
			if got := sumDropped(rep); got != rep.RecordsDropped {
				t.Errorf("dropped_by_age+count+bytes = %d, records_dropped = %d", got, rep.RecordsDropped)
			}
			if by := droppedBy(rep, tc.rule); tc.rule != "" && by != want.RecordsDropped {
				t.Errorf("dropped_by_%s = %d, want all %d drops", tc.rule, by, want.RecordsDropped)
			}
			wantRewritten := 0
			if rewrite {
				wantRewritten = 1
			}
			if rep.FilesRewritten != wantRewritten {
				t.Errorf("files_rewritten = %d, want %d", rep.FilesRewritten, wantRewritten)
			}

			out := readFile(t, store)
			if rep.BytesAfter != int64(len(out)) {
				t.Errorf("bytes_after = %d, the store has %d bytes", rep.BytesAfter, len(out))
			}
			kept := testutil.SplitLines(out)
			assertKeptAsWritten(t, kept, inLines)
			assertSameRecords(t, kept, expected)
			if !rewrite {
				assertUnchanged(t, store, before)
			}
			assertOnlyLock(t, store)
			assertQuarantine(t, rep, state, "events.ndjson", inLines, tc.nonRecords)

			// A second run finds nothing to do and leaves the file alone.
			mid := stateOf(t, store)
			time.Sleep(10 * time.Millisecond) // so that a rewrite would show in the mtime
			again, r := compactJSON(t, args...)
			if r.code != 0 || again.Result != report.ResultOK {
				t.Fatalf("second run: want exit 0 and result ok\n%s", r)
			}
			if again.FilesRewritten != 0 || again.RecordsDropped != 0 || again.RecordsQuarantined != 0 ||
				again.BlankLines != 0 || again.RecordsBefore != want.RecordsAfter || again.RecordsAfter != want.RecordsAfter {
				t.Errorf("second run should have nothing to do: %+v", again)
			}
			assertUnchanged(t, store, mid)
			assertOnlyLock(t, store)
		})
	}
}

func sumDropped(r report.Report) int64 { return r.DroppedByAge + r.DroppedByCount + r.DroppedByBytes }

func droppedBy(r report.Report, rule string) int64 {
	switch rule {
	case "age":
		return r.DroppedByAge
	case "count":
		return r.DroppedByCount
	case "bytes":
		return r.DroppedByBytes
	}
	return 0
}

func assertCounts(t *testing.T, what string, got, want report.Report) {
	t.Helper()
	type counts struct{ Before, After, Dropped, Quarantined, Blank, BytesBefore int64 }
	g := counts{got.RecordsBefore, got.RecordsAfter, got.RecordsDropped, got.RecordsQuarantined, got.BlankLines, got.BytesBefore}
	w := counts{want.RecordsBefore, want.RecordsAfter, want.RecordsDropped, want.RecordsQuarantined, want.BlankLines, want.BytesBefore}
	if g != w {
		t.Errorf("%s: records before/after/dropped/quarantined, blank lines, bytes before = %+v, want %+v", what, g, w)
	}
}

// assertKeptAsWritten fails unless every line of the compacted store is a line of the input,
// with its terminator, in the input's order: kept records are never re-serialised.
func assertKeptAsWritten(t *testing.T, kept, input []testutil.Line) {
	t.Helper()
	j := 0
	for i, l := range kept {
		for j < len(input) && string(input[j].Raw) != string(l.Raw) {
			j++
		}
		if j == len(input) {
			t.Errorf("line %d of the compacted store is not a line of the input (in order): %q", i+1, testutil.Abbrev(l.Raw, 200))
			return
		}
		j++
	}
}

// assertSameRecords compares the kept records to Papyra's by Python repr, in order.
func assertSameRecords(t *testing.T, kept, expected []testutil.Line) {
	t.Helper()
	if len(kept) != len(expected) {
		t.Errorf("the store keeps %d records, Papyra keeps %d", len(kept), len(expected))
	}
	for i := 0; i < min(len(kept), len(expected)); i++ {
		g, ok1 := pyjson.Repr(kept[i].Data)
		w, ok2 := pyjson.Repr(expected[i].Data)
		if !ok1 || !ok2 || g != w {
			t.Errorf("record %d: kept %s\n  Papyra keeps %s", i+1, testutil.Abbrev(kept[i].Raw, 300), testutil.Abbrev(expected[i].Raw, 300))
			return
		}
	}
}

// assertQuarantine checks the run's quarantine file: exactly the non-record lines of the
// input, as their exact bytes, in order, with their offsets.
func assertQuarantine(t *testing.T, rep report.Report, state, storeName string, input []testutil.Line, nonRecords []string) {
	t.Helper()
	files := filesUnder(t, filepath.Join(state, "quarantine"))
	if len(nonRecords) == 0 {
		if rep.QuarantineFile != "" || len(files) > 0 {
			t.Errorf("nothing to quarantine, yet quarantine_file = %q and files %v", rep.QuarantineFile, files)
		}
		return
	}
	day := time.Now().UTC()
	wantDir := filepath.Join(state, "quarantine", storeName)
	if rel, err := filepath.Rel(wantDir, rep.QuarantineFile); err != nil || !strings.HasSuffix(rel, rep.RunID+".ndjson") ||
		(filepath.Dir(rel) != day.Format("2006-01-02") && filepath.Dir(rel) != day.Add(-time.Hour).Format("2006-01-02")) {
		t.Errorf("quarantine_file = %q, want %s/<UTC date>/%s.ndjson", rep.QuarantineFile, wantDir, rep.RunID)
	}
	if len(files) != 1 || files[0] != rep.QuarantineFile {
		t.Errorf("quarantine directory holds %v, want just %s", files, rep.QuarantineFile)
	}
	offsets := map[string]int64{}
	for _, l := range input {
		offsets[string(l.Data)] = l.Off
	}
	got := readQuarantine(t, rep.QuarantineFile)
	if len(got) != len(nonRecords) {
		t.Errorf("quarantine holds %d lines, want %d", len(got), len(nonRecords))
	}
	for i := 0; i < min(len(got), len(nonRecords)); i++ {
		q, want := got[i], nonRecords[i]
		if string(q.bytes) != want {
			t.Errorf("quarantine line %d: base64 decodes to %q, want %q", i+1, q.bytes, want)
		}
		if utf8.ValidString(want) && (q.Text == nil || *q.Text != want) {
			t.Errorf("quarantine line %d: text = %v, want %q", i+1, q.Text, want)
		}
		if q.Offset != offsets[want] {
			t.Errorf("quarantine line %d: offset = %d, want %d", i+1, q.Offset, offsets[want])
		}
		if q.Reason == "" {
			t.Errorf("quarantine line %d gives no reason", i+1)
		}
	}
}
