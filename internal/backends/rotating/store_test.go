package rotating

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// copySet copies the files of src into a new directory; the copies are "old" by mtime.
func copySet(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, e.Name())
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(dst, now.Add(-time.Hour), now.Add(-time.Hour))
	}
	return dir
}

func newStore(dir string, naming Naming, p retention.Policy) *Store {
	path := filepath.Join(dir, "events.ndjson")
	return New(Config{
		Name: "edge", Path: path, Naming: naming, MaxFiles: 5, Policy: p,
		Quarantine: filepath.Join(dir, "state", "quarantine"),
		Drain:      livefile.DrainOptions{MinDrain: time.Millisecond, Timeout: time.Second},
	}, nil, func() time.Time { return now })
}

func compact(t *testing.T, s *Store) report.Report {
	t.Helper()
	rep, err := s.Compact(context.Background(), backends.Options{})
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	return rep
}

// readSet reads the set as Papyra does: oldest segment first, missing names skipped.
func readSet(t *testing.T, s *Store) []string {
	t.Helper()
	ms, _, err := s.l.members()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		b, _ := os.ReadFile(m.name)
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

func reprs(lines []string) []string {
	var out []string
	for _, l := range lines {
		if r, ok := pyjson.Repr([]byte(strings.TrimRight(l, "\r\n"))); ok {
			out = append(out, r)
		}
	}
	return out
}

func TestFixture(t *testing.T) {
	dir := copySet(t, "../../../testdata/papyra/rotating/basic/store")
	s := newStore(dir, Suffix, retention.Policy{MaxAge: 24 * time.Hour})
	before := map[string]os.FileInfo{}
	for _, n := range []string{"events.ndjson", "events.ndjson.1"} {
		before[n], _ = os.Stat(filepath.Join(dir, n))
	}
	rep := compact(t, s)
	expected, _ := os.ReadFile("../../../testdata/papyra/rotating/basic/expected.ndjson")
	want := reprs(strings.SplitAfter(string(expected), "\n"))
	if got := reprs(readSet(t, s)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("set after compaction differs from Papyra's retention: %d records, want %d", len(got), len(want))
	}
	// .4 .3 .2 .1 hold only 2001 records: .4, the oldest slot, is deleted; .3 .2 .1 are
	// emptied, since a Papyra writer may be renaming them; the active file is rewritten.
	if rep.FilesDeleted != 1 || rep.FilesRewritten != 4 {
		t.Errorf("deleted %d, rewritten %d; want 1 and 4", rep.FilesDeleted, rep.FilesRewritten)
	}
	if _, err := os.Stat(filepath.Join(dir, "events.ndjson.4")); !os.IsNotExist(err) {
		t.Errorf("events.ndjson.4, the oldest slot, still exists")
	}
	for _, n := range []string{".1", ".2", ".3"} {
		if fi, err := os.Stat(filepath.Join(dir, "events.ndjson"+n)); err != nil || fi.Size() != 0 {
			t.Errorf("events.ndjson%s should be there, empty: %v", n, err)
		}
	}
	assertClean(t, dir)
	// A second run has nothing to do.
	if rep := compact(t, s); rep.FilesDeleted+rep.FilesRewritten != 0 {
		t.Errorf("second run changed files: %+v", rep)
	}
}

// TestUntouchedSegmentsKeepInodeAndMtime: only segments with something to remove change.
func TestUntouchedSegmentsKeepInodeAndMtime(t *testing.T) {
	dir := t.TempDir()
	rec := func(ts float64) string { return fmt.Sprintf(`{"kind": "event", "timestamp": %.1f}`+"\n", ts) }
	write := func(name string, lines ...string) {
		os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "")), 0o640)
		os.Chtimes(filepath.Join(dir, name), now.Add(-time.Hour), now.Add(-time.Hour))
	}
	old, fresh := 978307200.0, 4102444800.0
	write("events.ndjson.4", rec(old), rec(old+1))             // all expired: deleted
	write("events.ndjson.3", rec(old+2), rec(fresh), "junk\n") // partly: rewritten, junk quarantined
	write("events.ndjson.2", rec(fresh+1))                     // untouched
	write("events.ndjson", rec(fresh+2))                       // untouched (gap at .1 is legal)
	s := newStore(dir, Suffix, retention.Policy{MaxAge: 24 * time.Hour})
	st2, _ := os.Stat(filepath.Join(dir, "events.ndjson.2"))
	st0, _ := os.Stat(filepath.Join(dir, "events.ndjson"))
	rep := compact(t, s)
	if rep.FilesDeleted != 1 || rep.FilesRewritten != 1 || rep.RecordsQuarantined != 1 {
		t.Errorf("report %+v", rep)
	}
	if rep.LargestWrite != int64(len(rec(fresh))) {
		t.Errorf("largest write %d, want %d", rep.LargestWrite, len(rec(fresh)))
	}
	for name, before := range map[string]os.FileInfo{"events.ndjson.2": st2, "events.ndjson": st0} {
		after, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
			t.Errorf("%s was touched", name)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "events.ndjson.3"))
	if string(b) != rec(fresh) {
		t.Errorf(".3 = %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "events.ndjson.3")); fi.Mode().Perm() != 0o640 {
		t.Errorf("rewritten segment mode %v", fi.Mode().Perm())
	}
	assertClean(t, dir)
}

func TestSequenceNaming(t *testing.T) {
	dir := t.TempDir()
	rec := func(ts float64) string { return fmt.Sprintf(`{"timestamp": %.1f}`+"\n", ts) }
	files := map[string]string{
		"events-0001.ndjson": rec(1) + rec(2),
		"events-0002.ndjson": rec(3) + rec(4102444800),
		"events-0010.ndjson": rec(4102444801),
		"events-notes.txt":   "not part of the set",
	}
	for n, c := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644)
		os.Chtimes(filepath.Join(dir, n), now.Add(-time.Hour), now.Add(-time.Hour))
	}
	s := newStore(dir, Sequence, retention.Policy{MaxAge: time.Hour})
	rep := compact(t, s)
	if rep.FilesDeleted != 1 || rep.FilesRewritten != 1 {
		t.Errorf("report %+v", rep)
	}
	if got := strings.Join(readSet(t, s), ""); got != rec(4102444800)+rec(4102444801) {
		t.Errorf("set = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "events-notes.txt")); err != nil {
		t.Error("a file outside the set was touched")
	}
}

// TestRotationDuringDelete: a logging-style rotation slides another segment under the name of
// the one being deleted at the last instant. The wrong file must be put back, whole, in order.
func TestRotationDuringDelete(t *testing.T) {
	dir := t.TempDir()
	rec := func(ts float64) string { return fmt.Sprintf(`{"timestamp": %.1f}`+"\n", ts) }
	os.WriteFile(filepath.Join(dir, "events.ndjson.3"), []byte(rec(1)), 0o644)          // expired
	os.WriteFile(filepath.Join(dir, "events.ndjson.2"), []byte(rec(4102444800)), 0o644) // kept
	os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(rec(4102444802)), 0o644)
	s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
	rotated := false
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		// The rename that takes the segment out of the set.
		if op == atomicfile.OpRename && strings.HasSuffix(name, ".del") && !rotated {
			rotated = true
			// The writer rolls over: .3 -> .4, .2 -> .3, active -> .1 (new empty active).
			p := filepath.Join(dir, "events.ndjson")
			os.Rename(p+".3", p+".4")
			os.Rename(p+".2", p+".3")
			os.Rename(p, p+".1")
			os.WriteFile(p, nil, 0o644)
		}
		return nil
	})
	rep, err := s.Compact(context.Background(), backends.Options{})
	if err != nil {
		t.Fatalf("Compact: %v (%+v)", err, rep)
	}
	got := strings.Join(readSet(t, s), "")
	if got != rec(4102444800)+rec(4102444802) {
		t.Errorf("set = %q: a kept segment was lost or misordered", got)
	}
	assertClean(t, dir)
}

func assertClean(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if atomicfile.IsOwn(e.Name()) && !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// Nor may the run still hold a file it took out of dir: its space would not be freed.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") && strings.HasSuffix(target, " (deleted)") {
			t.Errorf("the run still holds %s", target)
		}
	}
}

// TestSummariesSpareReads: a second run decides rotated segments it has read before from their
// summaries, without reading them again, and a segment whose size or mtime changed is read.
func TestSummariesSpareReads(t *testing.T) {
	dir := t.TempDir()
	rec := func(ts float64) string { return fmt.Sprintf(`{"timestamp": %.1f}`+"\n", ts) }
	seg := filepath.Join(dir, "events.ndjson.2")
	hour := now.Add(-time.Hour)
	os.WriteFile(seg, []byte(rec(4102444800)), 0o644)
	os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(rec(4102444801)), 0o644)
	os.Chtimes(seg, hour, hour)
	s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
	s.cfg.Summaries = filepath.Join(dir, "state", "segments.json")
	if rep := compact(t, s); rep.FilesDeleted+rep.FilesRewritten != 0 {
		t.Fatalf("first run changed files: %+v", rep)
	}
	// Same size, same mtime, other content: only a run that reads the file can tell.
	os.WriteFile(seg, []byte(rec(1000000000)), 0o644)
	os.Chtimes(seg, hour, hour)
	if rep := compact(t, s); rep.FilesDeleted != 0 || rep.RecordsAfter != 2 {
		t.Errorf("the second run read a segment its summary described: %+v", rep)
	}
	// A changed mtime invalidates the summary: now the expired record is seen and removed (the
	// segment emptied: .2 is not the oldest slot, its name stays).
	os.Chtimes(seg, hour.Add(time.Second), hour.Add(time.Second))
	if rep := compact(t, s); rep.FilesRewritten != 1 || rep.RecordsAfter != 1 {
		t.Errorf("a changed segment was not read again: %+v", rep)
	}
}

// TestDryRunForetellsTheBytes: a dry run reports the bytes the set will hold and the largest
// file a run will write, exactly as the run then leaves them, under limits that begin the kept
// records in the middle of a segment (by count, by stored bytes) as well as by age alone.
func TestDryRunForetellsTheBytes(t *testing.T) {
	base := t.TempDir()
	old, fresh := 978307200.0, 4102444800.0
	rec := func(ts float64, pad int) string {
		return fmt.Sprintf(`{"kind": "event", "timestamp": %.1f, "pad": "%s"}`+"\n", ts, strings.Repeat("x", pad))
	}
	k := 0
	for _, name := range []string{"events.ndjson.4", "events.ndjson.3", "events.ndjson.2", "events.ndjson.1", "events.ndjson"} {
		var b strings.Builder
		for j := range 5 {
			ts := fresh + float64(k)
			if k < 7 {
				ts = old + float64(k)
			}
			b.WriteString(rec(ts, 3*k+j%2))
			k++
		}
		if name == "events.ndjson.2" {
			b.WriteString("\nnot json\n")
		}
		if err := os.WriteFile(filepath.Join(base, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []retention.Policy{
		{MaxAge: 24 * time.Hour},
		{MaxRecords: 12},
		{MaxAge: 24 * time.Hour, MaxRecords: 9},
		{MaxTotalBytes: 1500, SizeBasis: retention.SizeBasisStored},
		{MaxAge: 24 * time.Hour, MaxTotalBytes: 900, SizeBasis: retention.SizeBasisStored},
	} {
		s := newStore(copySet(t, base), Suffix, p)
		dry, err := s.Compact(context.Background(), backends.Options{DryRun: true})
		if err != nil {
			t.Fatalf("%+v: dry run: %v", p, err)
		}
		rep := compact(t, s)
		var after int64
		ms, _, err := s.l.members()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if fi, err := os.Stat(m.name); err == nil {
				after += fi.Size()
			}
		}
		if dry.BytesAfter != after || dry.LargestWrite != rep.LargestWrite || dry.RecordsAfter != rep.RecordsAfter {
			t.Errorf("%+v: dry run says %d bytes after, largest write %d, %d records; the run leaves %d bytes, wrote %d at most, kept %d",
				p, dry.BytesAfter, dry.LargestWrite, dry.RecordsAfter, after, rep.LargestWrite, rep.RecordsAfter)
		}
		if rep.FilesRewritten == 0 {
			t.Errorf("%+v: nothing rewritten: the limits should begin the kept records inside a segment", p)
		}
	}
}
