package jsonfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newStore(t *testing.T, content string, p retention.Policy) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// Written "long ago", unless a test says otherwise.
	old := now.Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	s := New(Config{
		Name: "events", Path: path, Policy: p,
		Quarantine: filepath.Join(dir, "state", "quarantine"),
		Drain:      livefile.DrainOptions{MinDrain: time.Millisecond, Timeout: time.Second},
	}, nil, func() time.Time { return now })
	return s, path
}

func compact(t *testing.T, s *Store, dry bool) report.Report {
	t.Helper()
	rep, err := s.Compact(context.Background(), backends.Options{DryRun: dry})
	if err != nil {
		t.Fatalf("Compact: %v (report %+v)", err, rep)
	}
	return rep
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")
}

func fixturePolicy(t *testing.T, dir string) retention.Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		MaxAge     *float64 `json:"max_age_seconds"`
		MaxRecords *int64   `json:"max_records"`
		MaxBytes   *int64   `json:"max_total_bytes"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	var pol retention.Policy
	if p.MaxAge != nil {
		pol.MaxAge = time.Duration(*p.MaxAge * float64(time.Second))
	}
	if p.MaxRecords != nil {
		pol.MaxRecords = *p.MaxRecords
	}
	if p.MaxBytes != nil {
		pol.MaxTotalBytes = *p.MaxBytes
	}
	return pol
}

func reprs(t *testing.T, lines [][]byte) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		if r, ok := pyjson.Repr(bytes.TrimRight(l, "\r\n")); ok {
			out = append(out, r)
		}
	}
	return out
}

// TestFixtures compacts every Papyra fixture through both the one-pass path (age only) and
// the two-pass path (the same policy with a count limit too large to matter) and compares the
// result with what Papyra's retention keeps.
func TestFixtures(t *testing.T) {
	dirs, _ := filepath.Glob("../../../testdata/papyra/json/*")
	if len(dirs) < 6 {
		t.Fatalf("fixtures missing: %v", dirs)
	}
	for _, dir := range dirs {
		pol := fixturePolicy(t, dir)
		input, _ := os.ReadFile(filepath.Join(dir, "input.ndjson"))
		expected, _ := os.ReadFile(filepath.Join(dir, "expected.ndjson"))
		variants := map[string]retention.Policy{"as given": pol}
		if pol.MaxRecords == 0 && pol.MaxTotalBytes == 0 {
			twoPass := pol
			twoPass.MaxRecords = 1 << 40
			variants["two passes"] = twoPass
		}
		for name, p := range variants {
			t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
				if p.IsZero() {
					t.Skip("no limit: the CLI requires --no-retention; covered by TestNoRetention")
				}
				s, path := newStore(t, string(input), p)
				rep := compact(t, s, false)
				got, _ := os.ReadFile(path)
				gotLines := bytes.SplitAfter(got, []byte("\n"))
				want := reprs(t, bytes.SplitAfter(expected, []byte("\n")))
				if g := reprs(t, gotLines); strings.Join(g, "\n") != strings.Join(want, "\n") {
					t.Fatalf("kept records differ from Papyra's:\n got %d: %v\nwant %d: %v", len(g), g, len(want), want)
				}
				// Byte for byte: every kept line is a line of the input, unchanged.
				for _, l := range gotLines {
					if len(l) > 0 && !bytes.Contains(input, l) {
						t.Errorf("line not in the input byte for byte: %q", l)
					}
				}
				if rep.RecordsAfter != int64(len(want)) {
					t.Errorf("records_after = %d, want %d", rep.RecordsAfter, len(want))
				}
				// A second run has nothing to do and leaves the file alone.
				before, _ := os.Stat(path)
				rep2 := compact(t, s, false)
				after, _ := os.Stat(path)
				if rep2.FilesRewritten != 0 || !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
					t.Errorf("second run touched the store: %+v", rep2)
				}
			})
		}
	}
}

func TestDirtyQuarantine(t *testing.T) {
	input, _ := os.ReadFile("../../../testdata/papyra/json/dirty/input.ndjson")
	s, path := newStore(t, string(input), retention.Policy{MaxAge: 24 * time.Hour})
	rep := compact(t, s, false)
	if rep.RecordsQuarantined != 4 || rep.BlankLines != 2 {
		t.Fatalf("quarantined %d, blank %d; want 4 and 2", rep.RecordsQuarantined, rep.BlankLines)
	}
	q, err := os.ReadFile(rep.QuarantineFile)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range strings.Split(strings.TrimSpace(string(q)), "\n") {
		var e struct{ Text, Reason string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, e.Text)
	}
	want := []string{`this is not json`, `[1, 2, 3]`, `"just a string"`, `{"kind": "event", "timestamp": 4102444906.0, "truncated": tr`}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("quarantined %q, want %q", texts, want)
	}
	if lines := readLines(t, path); len(lines) != 12 { // 11 records and the empty tail
		t.Errorf("store has %d lines", len(lines)-1)
	}
}

func TestPartialLastLine(t *testing.T) {
	const fresh = `{"timestamp": 4102444800.0}` + "\n" + `{"timestamp": 978307200.0}` + "\n" + `{"timestamp": 41024`
	t.Run("fresh stays at the end", func(t *testing.T) {
		s, path := newStore(t, fresh, retention.Policy{MaxAge: 24 * time.Hour})
		// Just written, by the wall clock the drain reads too.
		os.Chtimes(path, time.Now(), time.Now())
		rep := compact(t, s, false)
		got, _ := os.ReadFile(path)
		if string(got) != `{"timestamp": 4102444800.0}`+"\n"+`{"timestamp": 41024` {
			t.Errorf("store = %q", got)
		}
		if rep.RecordsQuarantined != 0 {
			t.Errorf("a write in progress was quarantined")
		}
	})
	t.Run("stale goes to quarantine", func(t *testing.T) {
		s, path := newStore(t, fresh, retention.Policy{MaxAge: 24 * time.Hour})
		rep := compact(t, s, false)
		got, _ := os.ReadFile(path)
		if string(got) != `{"timestamp": 4102444800.0}`+"\n" || rep.RecordsQuarantined != 1 {
			t.Errorf("store = %q, quarantined %d", got, rep.RecordsQuarantined)
		}
	})
}

func TestNoRetention(t *testing.T) {
	s, path := newStore(t, "{\"a\": 1}\nnope\n\n{\"b\": 2}\r\n", retention.Policy{})
	rep := compact(t, s, false)
	got, _ := os.ReadFile(path)
	if string(got) != "{\"a\": 1}\n{\"b\": 2}\r\n" || rep.RecordsDropped != 0 || rep.RecordsQuarantined != 1 {
		t.Errorf("store = %q, report %+v", got, rep)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	input, _ := os.ReadFile("../../../testdata/papyra/json/combined/input.ndjson")
	s, path := newStore(t, string(input), retention.Policy{MaxAge: 24 * time.Hour, MaxRecords: 80, MaxTotalBytes: 9000})
	before, _ := os.Stat(path)
	rep := compact(t, s, true)
	after, _ := os.Stat(path)
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, input) || !os.SameFile(before, after) {
		t.Error("dry run changed the store")
	}
	if rep.RecordsAfter != 41 || rep.FilesRewritten != 1 || !rep.DryRun {
		t.Errorf("dry run report %+v", rep)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "events.ndjson" {
			t.Errorf("dry run created %s", e.Name())
		}
	}
}

func TestRefusals(t *testing.T) {
	t.Run("papyra compacting", func(t *testing.T) {
		s, path := newStore(t, "{}\n", retention.Policy{MaxRecords: 1})
		os.WriteFile(path+".compact.tmp", nil, 0o644)
		os.Chtimes(path+".compact.tmp", now, now)
		rep, err := s.Compact(context.Background(), backends.Options{})
		if !errors.Is(err, errs.ErrBusy) || rep.Result != report.ResultSkipped {
			t.Errorf("err = %v, result %s", err, rep.Result)
		}
	})
	t.Run("directory", func(t *testing.T) {
		s, path := newStore(t, "", retention.Policy{MaxRecords: 1})
		os.Remove(path)
		os.Mkdir(path, 0o755)
		if _, err := s.Compact(context.Background(), backends.Options{}); !errors.Is(err, errs.ErrNotRegular) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		s, path := newStore(t, "", retention.Policy{MaxRecords: 1})
		os.WriteFile(path+".real", []byte("{}\n{}\n"), 0o644)
		os.Remove(path)
		os.Symlink(path+".real", path)
		_, err := s.Compact(context.Background(), backends.Options{})
		if !errors.Is(err, errs.ErrNotRegular) || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("err = %v", err)
		}
		if fi, _ := os.Lstat(path); fi.Mode()&os.ModeSymlink == 0 {
			t.Error("the link was replaced")
		}
	})
}
