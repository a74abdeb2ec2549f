package main

// End-to-end tests of the rotating backend: a size-rotated segment set (suffix naming, as
// Papyra's RotatingFilePersistence and Python logging's RotatingFileHandler write it, or a
// numbered sequence) compacted by the binary, alone, under live rotating writers, and killed
// at random instants. The writers are papyrawriter's rotating modes; the set is read back the
// way Papyra reads it (oldest file first, missing names skipped) by testutil.ReadSet, which
// does not share papyrad's code.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

const rotFixtureDir = "../../testdata/papyra/rotating/basic"

// rotReprs decodes every record of b as Papyra would (one repr per line, non-records skipped).
func rotReprs(b []byte) []string {
	var out []string
	for _, l := range testutil.SplitLines(b) {
		if r, ok := pyjson.Repr(l.Data); ok {
			out = append(out, r)
		}
	}
	return out
}

// rotAssertBatches fails unless each named batch (seqs 0..size-1 of that writer) is either wholly
// in the set or wholly gone: a segment is replaced at once or not at all.
func rotAssertBatches(t *testing.T, c *testutil.Contents, sizes map[string]int64, when string) {
	t.Helper()
	sp := spans(c)
	names := make([]string, 0, len(sizes))
	for name := range sizes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := spanOf(sp, name)
		if s.n != 0 && (s.n != sizes[name] || s.max != sizes[name]-1) {
			t.Errorf("%s: %d of the %d records of batch %s are in the set: a segment was half changed", when, s.n, sizes[name], name)
		}
	}
}

// TestRotatingFixture compacts the set Papyra's RotatingFilePersistence wrote (max_files 5;
// .4 … .1 hold only 2001 records, the active file grew past max_bytes because .4 exists and
// mixes 2001 and 2100 records) and compares the set, read oldest first, with what Papyra's own
// retention keeps. Whole expired segments are not rewritten: the one in the oldest slot is
// deleted, the others emptied (their names stay, for Papyra's writer may be renaming them); a
// second run has nothing to do and touches nothing.
func TestRotatingFixture(t *testing.T) {
	t.Parallel()
	s := newRotSet(t, testutil.SuffixNaming, 5)
	entries, err := os.ReadDir(filepath.Join(rotFixtureDir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b := readFile(t, filepath.Join(rotFixtureDir, "store", e.Name()))
		k := 0
		if rest, ok := strings.CutPrefix(e.Name(), "events.ndjson."); ok {
			if k, err = strconv.Atoi(rest); err != nil {
				t.Fatalf("unexpected fixture file %s", e.Name())
			}
		}
		s.put(t, k, b, 0o644)
	}
	var policy struct {
		MaxAge   int `json:"max_age_seconds"`
		MaxFiles int `json:"max_files"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(rotFixtureDir, "policy.json")), &policy); err != nil {
		t.Fatal(err)
	}
	if policy.MaxAge != 86400 || policy.MaxFiles != s.maxFiles {
		t.Fatalf("fixture policy %+v: the test assumes max_age 1d and max_files %d", policy, s.maxFiles)
	}
	want := rotReprs(readFile(t, filepath.Join(rotFixtureDir, "expected.ndjson")))

	rep, r := compactJSON(t, s.flags("--max-age", "1d")...)
	if r.code != 0 || rep.Result != report.ResultOK {
		t.Fatalf("want exit 0, result ok\n%s", r)
	}
	if rep.FilesDeleted != 1 || rep.FilesRewritten != 4 {
		t.Errorf("files_deleted %d, files_rewritten %d; want 1 and 4 (.4 deleted, .3 … .1 emptied, the active file rewritten)\n%s",
			rep.FilesDeleted, rep.FilesRewritten, r)
	}
	if rep.RecordsAfter != int64(len(want)) || rep.RecordsDropped != rep.RecordsBefore-rep.RecordsAfter || rep.RecordsQuarantined != 0 {
		t.Errorf("records before %d, after %d (want %d), dropped %d, quarantined %d",
			rep.RecordsBefore, rep.RecordsAfter, len(want), rep.RecordsDropped, rep.RecordsQuarantined)
	}
	if files := s.files(t); len(files) != 4 || files[3] != s.store {
		t.Errorf("the set is %v, want .3 … .1 (emptied) and the active file", files)
	}
	for _, k := range []int{1, 2, 3} {
		if fi, err := os.Stat(s.slot(k)); err != nil || fi.Size() != 0 {
			t.Errorf("%s should be there, empty: %v", s.slot(k), err)
		}
	}
	var got []string
	for _, f := range s.files(t) {
		got = append(got, rotReprs(readFile(t, f))...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the set holds %d records, Papyra's retention keeps %d; first difference at record %d",
			len(got), len(want), rotFirstDiff(got, want))
	}
	s.assertClean(t)

	before := stateOf(t, s.store)
	rep, r = compactJSON(t, s.flags("--max-age", "1d")...)
	if r.code != 0 || rep.Result != report.ResultOK || rep.FilesDeleted+rep.FilesRewritten != 0 || rep.RecordsDropped != 0 {
		t.Errorf("a second run must change nothing\n%s", r)
	}
	assertUnchanged(t, s.store, before)
	s.assertClean(t)
}

func rotFirstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestRotatingNamings compacts sets in both namings with one segment of each fate: all
// expired (deleted, no rewrite), some expired plus a corrupt line (rewritten, keeping its
// mode; the line goes to quarantine), none expired (not touched: same inode, mtime, bytes),
// a gap in the numbering, and files beside the set that are not part of it (never touched).
func TestRotatingNamings(t *testing.T) {
	t.Parallel()
	type seg struct {
		slot    int
		content []byte
		want    []byte // nil: deleted
		touched bool   // rewritten: compare bytes only
	}
	expired := records("x", 0, 50, oldStamp)
	orig1, orig2, orig3 := records("o", 0, 20, fresh), records("o", 20, 20, fresh), records("o", 40, 20, fresh)
	junk := []byte("{\"kind\": \"event\", \"timestamp\": 4102444800.0, \"payload\": \"cut he\n")
	mixed := slices.Concat(records("x", 50, 10, oldStamp), orig2[:len(orig2)/2], junk, records("x", 60, 10, oldStamp), orig2[len(orig2)/2:])
	for _, tc := range []struct {
		name    string
		naming  string
		segs    []seg
		beside  map[string][]byte // files beside the set
		deleted int
		rewrote int
	}{
		{
			name:   "suffix",
			naming: testutil.SuffixNaming,
			segs: []seg{
				{slot: 4, content: expired},
				{slot: 3, content: mixed, want: orig2, touched: true},
				{slot: 2, content: orig1, want: orig1},
				// no .1: gaps are legal
				{slot: 0, content: orig3, want: orig3},
			},
			beside: map[string][]byte{
				"notes.txt":         []byte("not a store\n"),
				"other.ndjson":      records("y", 0, 3, oldStamp),
				"events.ndjson.bak": records("y", 3, 3, oldStamp), // the set's prefix, not its pattern
				"events.ndjson.9":   records("y", 6, 3, oldStamp), // past max_files: not read by Papyra
			},
			deleted: 1, rewrote: 1,
		},
		{
			name:   "sequence",
			naming: testutil.SequenceNaming,
			segs: []seg{
				{slot: 1, content: expired},
				{slot: 2, content: mixed, want: orig2, touched: true},
				{slot: 3, content: orig1, want: orig1},
				// no 0004
				{slot: 5, content: orig3, want: orig3},
			},
			beside: map[string][]byte{
				"events-notes.txt":  []byte("not a segment\n"),
				"events.ndjson":     records("y", 0, 3, oldStamp), // the name the sequence derives from
				"other-0001.ndjson": records("y", 3, 3, oldStamp),
			},
			deleted: 1, rewrote: 1,
		},
		{
			name:   "sequence, active file rewritten",
			naming: testutil.SequenceNaming,
			segs: []seg{
				{slot: 7, content: orig1, want: orig1},
				{slot: 9, content: slices.Concat(expired, orig3), want: orig3, touched: true},
			},
			beside:  map[string][]byte{"events-notes.txt": []byte("not a segment\n")},
			rewrote: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRotSet(t, tc.naming, 5)
			states := map[string]fileState{}
			for _, sg := range tc.segs {
				s.put(t, sg.slot, sg.content, 0o640)
				states[s.slot(sg.slot)] = stateOf(t, s.slot(sg.slot))
			}
			var also []string
			for name, b := range tc.beside {
				p := filepath.Join(s.dir(), name)
				writeFile(t, p, b)
				states[p] = stateOf(t, p)
				also = append(also, name)
			}
			rep, r := compactJSON(t, s.flags("--max-age", "1d")...)
			if r.code != 0 || rep.Result != report.ResultOK {
				t.Fatalf("want exit 0, result ok\n%s", r)
			}
			if rep.FilesDeleted != tc.deleted || rep.FilesRewritten != tc.rewrote {
				t.Errorf("files_deleted %d, files_rewritten %d; want %d and %d\n%s", rep.FilesDeleted, rep.FilesRewritten, tc.deleted, tc.rewrote, r)
			}
			wantQ := int64(0)
			for _, sg := range tc.segs {
				wantQ += int64(strings.Count(string(sg.content), string(junk)))
			}
			if rep.RecordsQuarantined != wantQ {
				t.Errorf("records_quarantined %d, want %d", rep.RecordsQuarantined, wantQ)
			}
			for _, sg := range tc.segs {
				name := s.slot(sg.slot)
				switch {
				case sg.want == nil:
					if _, err := os.Lstat(name); !os.IsNotExist(err) {
						t.Errorf("%s should be deleted (every record in it expired)", filepath.Base(name))
					}
				case !sg.touched:
					assertUnchanged(t, name, states[name])
				default:
					if b, err := os.ReadFile(name); err != nil || string(b) != string(sg.want) {
						t.Errorf("%s after the run: %q (%v), want its fresh records byte for byte", filepath.Base(name), testutil.Abbrev(b, 200), err)
						continue
					}
					if fi, err := os.Stat(name); err != nil {
						t.Error(err)
					} else if fi.Mode().Perm() != 0o640 {
						t.Errorf("%s: rewritten with mode %v, want 0640", filepath.Base(name), fi.Mode().Perm())
					}
				}
			}
			for name := range tc.beside {
				p := filepath.Join(s.dir(), name)
				assertUnchanged(t, p, states[p])
			}
			if wantQ > 0 {
				var found bool
				for _, f := range filesUnder(t, filepath.Join(s.state, "quarantine")) {
					for _, q := range readQuarantine(t, f) {
						found = found || string(q.bytes)+"\n" == string(junk)
					}
				}
				if !found {
					t.Errorf("the corrupt line is not in the quarantine under %s", s.state)
				}
			}
			s.assertClean(t, also...)

			// A second run changes nothing at all.
			for _, f := range s.files(t) {
				states[f] = stateOf(t, f)
			}
			rep, r = compactJSON(t, s.flags("--max-age", "1d")...)
			if r.code != 0 || rep.FilesDeleted+rep.FilesRewritten != 0 || rep.RecordsDropped+rep.RecordsQuarantined != 0 {
				t.Errorf("a second run must change nothing\n%s", r)
			}
			for _, f := range s.files(t) {
				assertUnchanged(t, f, states[f])
			}
			s.assertClean(t, also...)
		})
	}
}

// TestRotatingScan runs the read-only health check on rotating sets: a file with the set's
// pattern outside its slots is ORPHANED_ROTATED_FILE, a damaged line in a segment is
// CORRUPTED_LINE (with that segment's path), exit 2; papyrad's own hidden files beside the set
// are never reported, and a scan changes nothing.
func TestRotatingScan(t *testing.T) {
	t.Parallel()
	const leftover = ".papyrad.events.ndjson.0123456789abcdef.tmp"
	type want struct {
		typ, file string
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s *rotSet)
		code  int
		want  []want
	}{
		{
			name: "clean, with papyrad's hidden files beside it",
			setup: func(t *testing.T, s *rotSet) {
				s.put(t, 2, records("o", 0, 5, fresh), 0o644)
				s.put(t, 0, records("o", 5, 5, fresh), 0o644)
				writeFile(t, filepath.Join(s.dir(), lockName(s.store)), nil)
				writeFile(t, filepath.Join(s.dir(), leftover), []byte("half a temp file"))
			},
			code: 0,
		},
		{
			name: "orphan past max-files",
			setup: func(t *testing.T, s *rotSet) {
				s.put(t, 1, records("o", 0, 5, fresh), 0o644)
				s.put(t, 0, records("o", 5, 5, fresh), 0o644)
				writeFile(t, s.store+".9", records("o", 10, 5, fresh))
				writeFile(t, filepath.Join(s.dir(), leftover), []byte("half a temp file"))
			},
			code: 2,
			want: []want{{report.OrphanedRotatedFile, "events.ndjson.9"}},
		},
		{
			name: "corrupted line in a rotated segment",
			setup: func(t *testing.T, s *rotSet) {
				s.put(t, 3, slices.Concat(records("o", 0, 3, fresh), []byte("not json at all\n"), records("o", 3, 3, fresh)), 0o644)
				s.put(t, 0, records("o", 6, 5, fresh), 0o644)
				writeFile(t, filepath.Join(s.dir(), lockName(s.store)), nil)
			},
			code: 2,
			want: []want{{report.CorruptedLine, "events.ndjson.3"}},
		},
		{
			name: "both",
			setup: func(t *testing.T, s *rotSet) {
				s.put(t, 4, records("o", 0, 3, fresh), 0o644)
				s.put(t, 0, slices.Concat(records("o", 3, 3, fresh), []byte("[1, 2, 3]\n")), 0o644)
				writeFile(t, s.store+".9", records("o", 10, 5, fresh))
				writeFile(t, filepath.Join(s.dir(), leftover), []byte("half a temp file"))
			},
			code: 2,
			want: []want{{report.CorruptedLine, "events.ndjson"}, {report.OrphanedRotatedFile, "events.ndjson.9"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRotSet(t, testutil.SuffixNaming, 5)
			tc.setup(t, s)
			before := map[string]fileState{}
			entries, err := os.ReadDir(s.dir())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				p := filepath.Join(s.dir(), e.Name())
				before[p] = stateOf(t, p)
			}
			r := papyrad(t, "scan", "--backend", "rotating", "--path", s.store, "--max-files", "5", "--json")
			if r.code != tc.code {
				t.Fatalf("want exit %d\n%s", tc.code, r)
			}
			var out report.Scan
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Stores) != 1 {
				t.Fatalf("scan --json printed no single-store report (%v)\n%s", err, r)
			}
			var got []want
			for _, a := range out.Stores[0].Anomalies {
				if strings.HasPrefix(filepath.Base(a.Path), ".papyrad.") {
					t.Errorf("papyrad's own file reported: %+v", a)
				}
				if filepath.Dir(a.Path) != s.dir() {
					t.Errorf("anomaly %+v: path is not in the set's directory", a)
				}
				got = append(got, want{a.Type, filepath.Base(a.Path)})
			}
			sortWant := func(ws []want) {
				sort.Slice(ws, func(i, j int) bool { return ws[i].typ+ws[i].file < ws[j].typ+ws[j].file })
			}
			sortWant(got)
			sortWant(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("anomalies %v, want %v\n%s", got, tc.want, r)
			}
			for p, st := range before {
				assertUnchanged(t, p, st)
			}
			if after, _ := os.ReadDir(s.dir()); len(after) != len(before) {
				t.Errorf("scan added or removed files beside the set")
			}
		})
	}
}

// TestRotatingPapyraWriterBlocked: Papyra's writer does not rotate while the oldest slot
// (path.4 with max_files 5) exists, so its active file grows past max_bytes. A run that deletes
// the expired oldest segment frees the slot, and the writer's next record rotates: the
// oversized active file becomes path.1. No record is lost or duplicated on the way.
func TestRotatingPapyraWriterBlocked(t *testing.T) {
	t.Parallel()
	const maxBytes = 4096
	s := newRotSet(t, testutil.SuffixNaming, 5)
	s.put(t, 4, records("x", 0, 40, oldStamp), 0o644)
	s.put(t, 3, records("o", 0, 10, fresh), 0o644)
	s.put(t, 2, records("o", 10, 10, fresh), 0o644)
	s.put(t, 1, records("o", 20, 10, fresh), 0o644)
	s.put(t, 0, records("o", 30, 10, fresh), 0o644)
	oldest := stateOf(t, s.slot(4))

	w := startRotWriter(t, s, "P", "papyra", maxBytes, 1000)
	// Blocked: the active file grows past max_bytes, and the oldest slot stays as it was.
	deadline := time.Now().Add(20 * time.Second)
	for {
		fi, err := os.Stat(s.store)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 3*maxBytes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the active file did not grow past max_bytes within 20s (%d bytes)", fi.Size())
		}
		time.Sleep(5 * time.Millisecond)
	}
	assertUnchanged(t, s.slot(4), oldest)
	if _, err := os.Stat(s.slot(5)); !os.IsNotExist(err) {
		t.Fatalf("the writer rotated past its oldest slot")
	}
	big := stateOf(t, s.store) // its inode is what path.1 must be once the writer rotates

	rep, r := compactJSON(t, s.flags("--max-age", "1d")...)
	if r.code != 0 || rep.Result != report.ResultOK || rep.FilesDeleted != 1 {
		t.Fatalf("want exit 0, result ok and the oldest segment deleted\n%s", r)
	}
	// The writer rotates again at its next record: the oversized active file is path.1 now.
	deadline = time.Now().Add(20 * time.Second)
	for {
		var st syscall.Stat_t
		if err := syscall.Stat(s.slot(1), &st); err == nil && int64(st.Ino) == big.ino {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer did not rotate within 20s of the oldest slot being freed; set: %v", s.files(t))
		}
		time.Sleep(2 * time.Millisecond)
	}
	w.pause(t)
	if fi, err := os.Stat(s.slot(1)); err != nil || fi.Size() <= maxBytes {
		t.Errorf("path.1 should be the oversized active file (%v)", err)
	}
	if _, err := os.Stat(s.slot(4)); err != nil {
		t.Errorf("after the rotation the oldest slot should be taken again (by the old path.3): %v", err)
	}
	w.resume(t)

	n, st := w.stop(t)
	if st.rotations < 1 || st.blocked < 1 {
		t.Errorf("the writer rotated %d times and was blocked %d times; want both at least once", st.rotations, st.blocked)
	}
	rep, r = compactJSON(t, s.flags("--max-age", "1d")...)
	if r.code != 0 || rep.Result != report.ResultOK || len(rep.Warnings) > 0 {
		t.Fatalf("final run: want exit 0, result ok, no warning\n%s", r)
	}
	c := s.read(t)
	assertWhole(t, c.Contents, "at the end")
	assertNoExpired(t, c.Contents, "at the end")
	assertComplete(t, c.Contents, "o", 40)
	assertComplete(t, c.Contents, "P", n)
	if got := int64(len(c.Count)); got != n+40 {
		t.Errorf("the set holds %d records, want %d", got, n+40)
	}
	s.assertClean(t)
}

// TestRotatingLiveWriters compacts a set again and again while a rotating writer appends to
// it and rotates every few dozen records: Papyra's RotatingFilePersistence (open–append–close
// per record, renames) and Python logging's RotatingFileHandler (a long-lived handle, closed
// and reopened at each rollover). The rotated segments start with expired records, and
// between runs a third party appends a batch of expired records to the active file, so that
// every run deletes or rewrites segments that the writer is renaming under it, and rewrites
// the active file. No record may be lost, duplicated or torn; at the end no expired record
// may remain, and nothing may be left beside the set.
//
// The writer must never fill the set: a logging-style writer removes its own oldest segment
// when it does, and every record could not be accounted for. It rotates up to a hundred times
// a second, so on a loaded machine, where rounds take longer, the rounds stop early once the
// set is half full (at least 5 must have run).
//
// Not parallel, nor are its two writers: its rounds must keep pace with a writer that rotates
// a hundred times a second, which they did not under the kill loops' load.
func TestRotatingLiveWriters(t *testing.T) {
	rounds := 15
	if testing.Short() {
		rounds = 5
	}
	const (
		maxBytes = 4 << 10 // a rotation every 20 records or so
		// Room for the rounds: a run empties an expired segment in a slot the writer may be
		// renaming instead of deleting it, so the set keeps more names than it used to.
		maxFiles = 2000
		batch    = 15 // fits in the active file: runs rewrite it when the writer does not rotate it first
	)
	for _, mode := range []string{"papyra", "logging"} {
		t.Run(mode, func(t *testing.T) {
			s := newRotSet(t, testutil.SuffixNaming, maxFiles)
			// Oldest first: expired only; expired and fresh; fresh only; the active file.
			s.put(t, 3, records("x", 0, 300, oldStamp), 0o644)
			s.put(t, 2, slices.Concat(records("x", 300, 100, oldStamp), records("o", 0, 200, fresh)), 0o644)
			s.put(t, 1, records("o", 200, 100, fresh), 0o644)
			s.put(t, 0, slices.Concat(records("x", 400, 20, oldStamp), records("o", 300, 10, fresh)), 0o644)
			const orig = 310
			args := s.flags("--max-age", "1d", "--drain-timeout", "1s")

			w := startRotWriter(t, s, "W", mode, maxBytes, 2000)
			var deleted, rewritten, done int
			failed := rotRunFailures{}
			defer failed.report(t)
			for i := range rounds {
				if i > 0 {
					appendFile(t, s.store, records(fmt.Sprintf("batch%d", i), 0, batch, oldStamp))
				}
				rep, r := compactJSON(t, args...)
				failed.check(t, fmt.Sprintf("round %d", i), rep, r)
				deleted += rep.FilesDeleted
				rewritten += rep.FilesRewritten
				for _, warn := range rep.Warnings {
					t.Logf("round %d: warning: %s", i, warn)
				}
				w.pause(t)
				when := fmt.Sprintf("after round %d", i)
				c := s.read(t)
				assertWhole(t, c.Contents, when)
				assertComplete(t, c.Contents, "o", orig)
				if !s.pendingDrain(t) {
					// Nothing of the writer's waits in a replaced file: all it wrote is in the set.
					if sp := spanOf(spans(c.Contents), w.name); sp.n != sp.max+1 {
						t.Errorf("%s: the writer's records up to seq %d should all be in the set, %d are", when, sp.max, sp.n)
					}
				}
				done++
				w.resume(t)
				if t.Failed() {
					break
				}
				if len(c.Files) > maxFiles/2 {
					t.Logf("round %d: the set has %d files; the rounds stop before the writer fills it", i, len(c.Files))
					break
				}
			}
			n, st := w.stop(t)
			if done < min(rounds, 5) && !t.Failed() {
				t.Fatalf("only %d rounds ran before the writer half filled the set", done)
			}
			rep, r := compactJSON(t, args...)
			if r.code != 0 || rep.Result != report.ResultOK || len(rep.Warnings) > 0 {
				t.Fatalf("final run: want exit 0, result ok, no warning\n%s", r)
			}
			t.Logf("%d rounds: the writer wrote %d records, rotated %d times; the runs deleted %d segments and rewrote %d files",
				done, n, st.rotations, deleted, rewritten)
			if st.deleted > 0 {
				t.Fatalf("the writer removed %d segments of its own: raise maxFiles so that every record can be accounted for", st.deleted)
			}
			if st.rotations < int64(done) {
				t.Errorf("the writer rotated only %d times in %d rounds: the test did not exercise rotation during runs", st.rotations, done)
			}
			c := s.read(t)
			assertWhole(t, c.Contents, "at the end")
			assertNoExpired(t, c.Contents, "at the end")
			assertComplete(t, c.Contents, "o", orig)
			assertComplete(t, c.Contents, w.name, n)
			if got := int64(len(c.Count)); got != n+orig {
				t.Errorf("the set holds %d records, want %d", got, n+orig)
			}
			s.assertClean(t)
			if f := filesUnder(t, filepath.Join(s.state, "quarantine")); len(f) > 0 {
				t.Errorf("nothing was corrupt, yet quarantine files exist: %v", f)
			}
		})
	}
}

// rotCrashTally adds up what TestRotatingCrash's runs went through.
type rotCrashTally struct {
	iterations, killed, forwarding, warned int
	phases                                 map[string]int // what each kill interrupted
	reads                                  int            // reads of the set checked after kills and recoveries
	records                                int64          // records in those reads, each checked
	written, rotations                     int64          // by the writers
}

// TestRotatingCrash kills papyrad with SIGKILL at random instants of runs over a set that a
// Papyra-style writer keeps appending to and rotating (every 20 records or so). Before each
// run, with the writer paused, the test adds what the run must remove: an older segment
// beyond the set's oldest (all expired, or a large expired batch followed by fresh "orig"
// records that must survive) and a small expired batch in the active file. After every kill,
// before anything recovers, and again after the run that recovers, the set read oldest first
// must have whole lines and no record twice, every orig record exactly once, every writer's
// records in the order written and the orig batches in the order of their segments, and each
// batch wholly there or wholly gone; after a recovering run that reported nothing pending,
// every record the writer wrote.
//
// The runs are grouped in rounds of 10, each on a new set with a new writer: the set grows by
// several segments a second, every rotation renames all of them, and a set of thousands that
// is never still is not what a run should be tested against. Rounds keep it to a few hundred
// however many runs the torture makes.
func TestRotatingCrash(t *testing.T) {
	t.Parallel()
	total := tortureCount(t, 10, 8, 400)
	const (
		perRound = 10
		maxFiles = 1000
		big      = 8000 // expired records of a placed segment
		orig     = 2000 // fresh records after them, when the segment is mixed
	)
	// How long a complete run takes, to aim the kills: one over a similar set, no writer.
	cal := newRotSet(t, testutil.SuffixNaming, maxFiles)
	cal.put(t, 2, slices.Concat(records("x", 0, big, oldStamp), records("o", 0, orig, fresh)), 0o644)
	cal.put(t, 1, records("o", orig, 4*orig, fresh), 0o644)
	cal.put(t, 0, slices.Concat(records("a", 0, 10, oldStamp), records("o", 5*orig, 20, fresh)), 0o644)
	if _, r := compactJSON(t, cal.flags("--max-age", "1d")...); r.code != 0 {
		t.Fatalf("calibration run failed\n%s", r)
	}
	runs := []time.Duration{}
	for range 3 {
		cal.put(t, 3, records("x", 0, big, oldStamp), 0o644)
		appendFile(t, cal.store, records("a", 0, 10, oldStamp))
		_, r := compactJSON(t, cal.flags("--max-age", "1d")...)
		if r.code != 0 {
			t.Fatalf("calibration run failed\n%s", r)
		}
		runs = append(runs, r.dur)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	tally := &rotCrashTally{phases: map[string]int{}}
	failed := rotRunFailures{}
	defer failed.report(t)
	for round := 0; tally.iterations < total && !t.Failed(); round++ {
		rotCrashRound(t, round, min(perRound, total-tally.iterations), maxFiles, rng, &runs, tally, &failed)
	}
	t.Logf("%d runs in rounds of up to %d: %d killed (%v), %d of them with a forward step journaled, %d recovering runs warned or failed; "+
		"%d reads of the set checked, %d records in them; the writers wrote %d records and rotated %d times; a complete run took %v (median)",
		tally.iterations, perRound, tally.killed, tally.phases, tally.forwarding, tally.warned,
		tally.reads, tally.records, tally.written, tally.rotations, median(runs).Round(time.Millisecond))
}

// rotCrashRound is one round of TestRotatingCrash: a new set and writer, iterations kills, then
// a last run with the writer stopped, after which the set must hold exactly every kept record.
func rotCrashRound(t *testing.T, round, iterations, maxFiles int, rng *rand.Rand, runs *[]time.Duration, tally *rotCrashTally, failed *rotRunFailures) {
	t.Helper()
	const (
		maxBytes = 4 << 10 // a rotation every 20 records or so, 25 a second: one or more per run
		big      = 8000
		orig     = 2000
		small    = 10 // expired records appended to the active file
	)
	s := newRotSet(t, testutil.SuffixNaming, maxFiles)
	s.put(t, 2, records("x-init", 0, big, oldStamp), 0o644)
	s.put(t, 1, slices.Concat(records("a-init", 0, small, oldStamp), records("o-init", 0, orig, fresh)), 0o644)
	s.put(t, 0, records("o-init", orig, orig, fresh), 0o644)
	batches := map[string]int64{"x-init": big, "a-init": small}
	origs := map[string]int64{"o-init": 2 * orig}
	gone := map[string]bool{} // expired batches no longer in the set
	args := s.flags("--max-age", "1d", "--drain-timeout", "1s")
	w := startRotWriter(t, s, "P", "papyra", maxBytes, 500)
	// The order the set must read in, oldest first: each placed segment is older than the
	// set, so the latest orig batch comes first; the writer appends after o-init.
	order := []string{"o-init", w.name}

	check := func(when string) *testutil.SetContents {
		t.Helper()
		c := s.read(t)
		assertWhole(t, c.Contents, when)
		for o, n := range origs {
			assertComplete(t, c.Contents, o, n)
		}
		rotAssertBatches(t, c.Contents, batches, when)
		rotAssertGone(t, c.Contents, gone, when)
		rotAssertOrder(t, c.Order, order, when)
		tally.reads++
		tally.records += int64(len(c.Order))
		return c
	}

	for i := range iterations {
		it := tally.iterations
		tally.iterations++
		// With the writer paused: a segment older than every other, and expired records
		// in the active file.
		w.pause(t)
		files := s.files(t)
		oldest := 0
		if len(files) > 0 && files[0] != s.store {
			oldest, _ = strconv.Atoi(strings.TrimPrefix(files[0], s.store+"."))
		}
		if oldest+1 >= maxFiles {
			t.Fatalf("round %d: the set is full: raise maxFiles", round)
		}
		x, a := fmt.Sprintf("x%d", i), fmt.Sprintf("a%d", i)
		seg := records(x, 0, big, oldStamp)
		batches[x] = big
		if i%2 == 0 {
			o := fmt.Sprintf("o%d", i)
			seg = append(seg, records(o, 0, orig, fresh)...)
			origs[o] = orig
			order = slices.Insert(order, 0, o)
		}
		s.put(t, oldest+1, seg, 0o644)
		appendFile(t, s.store, records(a, 0, small, oldStamp))
		batches[a] = small
		w.resume(t)

		// Kills anywhere in a typical run; one in three in its second half, where the segment
		// steps and the active file's commit are (reading the set fills the first), and one in
		// three aimed at those steps as they happen.
		typical := int64(median(*runs))
		delay := time.Duration(rng.Int64N(typical * 11 / 10))
		if it%3 == 1 {
			delay = time.Duration(typical/2 + rng.Int64N(typical*6/10))
		}
		var finished bool
		var kr result
		if it%3 == 2 {
			finished, kr = killAimed(t, s.newStepFile(), time.Millisecond, rng, args)
			delay = kr.dur
		} else {
			finished, kr = killAfter(t, delay, args)
		}
		if !finished {
			tally.killed++
		} else if kr.code != 0 {
			failed.note(fmt.Sprintf("round %d, iteration %d: a run that finished before the kill", round, i), kr,
				strings.TrimSpace(kr.stdout))
		}
		if forwardJournaled(s.dir()) {
			tally.forwarding++
		}
		if !finished {
			tally.phases[s.killPhase(t)]++
		}

		// The set as the kill left it, before any recovery.
		w.pause(t)
		when := fmt.Sprintf("round %d, iteration %d, killed after %v", round, i, delay.Round(time.Microsecond))
		if finished {
			when = fmt.Sprintf("round %d, iteration %d, run finished before the kill at %v", round, i, delay.Round(time.Microsecond))
		}
		check(when)
		w.resume(t)

		rep, r := compactJSON(t, args...)
		failed.check(t, when+": the recovering run", rep, r)
		*runs = append(*runs, r.dur)
		if rep.RecordsQuarantined != 0 {
			t.Errorf("%s: the recovering run quarantined %d lines: the kill left damaged lines", when, rep.RecordsQuarantined)
		}
		if len(rep.Warnings) > 0 || rep.Result != report.ResultOK {
			tally.warned++
		}
		w.pause(t)
		when = fmt.Sprintf("round %d, iteration %d, after the recovering run", round, i)
		c := check(when)
		if len(rep.Warnings) == 0 && rep.Result == report.ResultOK {
			assertNoExpired(t, c.Contents, when)
		}
		if !s.pendingDrain(t) {
			if sp := spanOf(spans(c.Contents), w.name); sp.n != sp.max+1 {
				t.Errorf("%s: the writer's records up to seq %d should all be in the set, %d are", when, sp.max, sp.n)
			}
		}
		// A batch gone stays gone.
		for name := range batches {
			if spanOf(spans(c.Contents), name).n == 0 {
				gone[name] = true
			}
		}
		for name := range gone {
			delete(batches, name)
		}
		w.resume(t)
		if t.Failed() {
			break
		}
	}

	n, st := w.stop(t)
	tally.written += n
	tally.rotations += st.rotations
	rep, r := compactJSON(t, args...)
	if r.code != 0 || rep.Result != report.ResultOK || len(rep.Warnings) > 0 {
		t.Fatalf("round %d, final run: want exit 0, result ok, no warning\n%s", round, r)
	}
	when := fmt.Sprintf("round %d, at the end", round)
	c := check(when)
	assertNoExpired(t, c.Contents, when)
	total := n
	for _, k := range origs {
		total += k
	}
	assertComplete(t, c.Contents, w.name, n)
	if got := int64(len(c.Count)); got != total {
		t.Errorf("%s: the set holds %d records, want %d", when, got, total)
	}
	s.assertClean(t)
}

// rotAssertOrder fails unless the records read in order come, writer by writer, in the order
// of their seqs, and the writers named in groups (oldest first) do not overlap: each one's
// records all come before the next one's.
func rotAssertOrder(t *testing.T, order []testutil.Key, groups []string, when string) {
	t.Helper()
	last := map[string]int64{}
	first, final := map[string]int{}, map[string]int{}
	var back []string
	for i, k := range order {
		if prev, seen := last[k.Writer]; seen && k.Seq <= prev && len(back) < 5 {
			back = append(back, fmt.Sprintf("%s after %s#%d", k, k.Writer, prev))
		}
		last[k.Writer] = k.Seq
		if _, seen := first[k.Writer]; !seen {
			first[k.Writer] = i
		}
		final[k.Writer] = i
	}
	if len(back) > 0 {
		t.Errorf("%s: records out of order (a segment misordered): %v", when, back)
	}
	prev := ""
	for _, g := range groups {
		if _, ok := first[g]; !ok {
			continue
		}
		if prev != "" && final[prev] > first[g] {
			t.Errorf("%s: %s's records should all come before %s's: a segment was misordered", when, prev, g)
		}
		prev = g
	}
}

// rotAssertGone fails if a batch that was removed from the set is back.
func rotAssertGone(t *testing.T, c *testutil.Contents, gone map[string]bool, when string) {
	t.Helper()
	sp := spans(c)
	var back []string
	for name := range gone {
		if spanOf(sp, name).n > 0 {
			back = append(back, name)
		}
	}
	if len(back) > 0 {
		sort.Strings(back)
		t.Errorf("%s: expired batches removed by earlier runs are back: %v", when, back)
	}
}

// rotRunFailures collects the runs that did not end with exit 0 and result ok under a live
// writer, by error, so that a test goes on checking the set after one and reports them all.
type rotRunFailures struct {
	n     int
	byErr map[string][]string // error, paths stripped → where
	first string
}

var rotTempPath = regexp.MustCompile(`/\S*/`)

func (f *rotRunFailures) check(t *testing.T, when string, rep report.Report, r result) {
	t.Helper()
	if r.code == 0 && succeeded(rep) {
		return
	}
	f.note(when, r, rep.Error)
}

// note records a failed run r with its error message.
func (f *rotRunFailures) note(when string, r result, msg string) {
	f.n++
	if f.byErr == nil {
		f.byErr = map[string][]string{}
		f.first = fmt.Sprintf("%s\n%s", when, r)
	}
	msg = rotTempPath.ReplaceAllString(msg, "…/")
	f.byErr[msg] = append(f.byErr[msg], when)
}

func (f *rotRunFailures) report(t *testing.T) {
	t.Helper()
	if f.n == 0 {
		return
	}
	var b strings.Builder
	for msg, where := range f.byErr {
		fmt.Fprintf(&b, "\n  %d× %q (first: %s)", len(where), msg, where[0])
	}
	t.Errorf("%d runs under a live rotating writer failed; every run must end with exit 0 and result ok:%s\nthe first:\n%s", f.n, b.String(), f.first)
}

// TestRotatingCrashForwardThenRotate: an application keeps one append handle on the active file
// (as Python logging's handler does between two rollovers), so after papyrad replaces the
// active file the handle writes into the replaced inode, and every run forwards those lines to
// the active file in journaled steps. papyrad is killed while it forwards; then, before the next
// run, the set rotates (path → path.1, as Papyra's writer does whenever the active file is full).
// The run that recovers must finish the interrupted step without forwarding the same lines a
// second time: they already are in the file that is path.1 now.
func TestRotatingCrashForwardThenRotate(t *testing.T) {
	t.Parallel()
	iterations := 12
	if testing.Short() {
		iterations = 4
	}
	const drain = 300 * time.Millisecond
	s := newRotSet(t, testutil.SuffixNaming, 64)
	s.put(t, 0, records("o", 0, 500, fresh), 0o644)
	args := s.flags("--max-age", "1d", "--drain-timeout", drain.String())
	holder := startWriter(t, s.store, "B", "hold", time.Millisecond)
	// The first run replaces the file the holder writes to; from then on every run forwards.
	appendFile(t, s.store, records("x-init", 0, 1000, oldStamp))
	if rep, r := compactJSON(t, args...); r.code != 0 || rep.Result != report.ResultPending || rep.PendingFiles != 1 {
		t.Fatalf("first run, the holder still writing the replaced file: want exit 0, result pending\n%s", r)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	failed := rotRunFailures{}
	defer failed.report(t)
	var interrupted int
	for i := range iterations {
		appendFile(t, s.store, records(fmt.Sprintf("x%d", i), 0, 1000, oldStamp))
		// Each run starts by forwarding the holder's lines for up to the drain timeout: the
		// kill comes within 2ms of a forward step being journaled (the step appends the
		// lines, fsyncs, and journals that it did), or at a random instant of that phase.
		var finished bool
		var kr result
		delay := 20*time.Millisecond + time.Duration(rng.Int64N(int64(drain)))
		if i%2 == 0 {
			finished, kr = killAimed(t, func() bool { return forwardJournaled(s.dir()) }, 2*time.Millisecond, rng, args)
			delay = kr.dur
		} else {
			finished, kr = killAfter(t, delay, args)
		}
		if finished && kr.code != 0 {
			failed.note(fmt.Sprintf("iteration %d: a run that finished before the kill", i), kr, strings.TrimSpace(kr.stdout))
		}
		holder.pause(t)
		fwd := forwardJournaled(s.dir())
		if fwd {
			interrupted++
		}
		when := fmt.Sprintf("iteration %d, killed after %v (forward step journaled: %v)", i, delay.Round(time.Millisecond), fwd)
		c := s.read(t)
		assertWhole(t, c.Contents, when)
		assertComplete(t, c.Contents, "o", 500)
		// The set rotates before papyrad runs again.
		s.rotate(t)
		holder.resume(t)

		rep, r := compactJSON(t, args...)
		failed.check(t, when+": the recovering run", rep, r)
		holder.pause(t)
		c = s.read(t)
		assertWhole(t, c.Contents, when+", then rotated and recovered")
		assertComplete(t, c.Contents, "o", 500)
		holder.resume(t)
		if t.Failed() {
			break
		}
	}
	t.Logf("%d iterations, %d killed in the middle of a forward step", iterations, interrupted)

	n := holder.stop(t)
	rep, r := compactJSON(t, args...)
	if r.code != 0 || rep.Result != report.ResultOK || len(rep.Warnings) > 0 {
		t.Fatalf("final run: want exit 0, result ok, no warning\n%s", r)
	}
	c := s.read(t)
	assertWhole(t, c.Contents, "at the end")
	assertNoExpired(t, c.Contents, "at the end")
	assertComplete(t, c.Contents, "o", 500)
	assertComplete(t, c.Contents, "B", n)
	s.assertClean(t)
}

// pendingDrain reports whether a journal of the active file's replacement is left: a writer
// still held the replaced inode when the run ended, and what it writes there reaches the set
// at a later run.
func (s *rotSet) pendingDrain(t *testing.T) bool {
	t.Helper()
	entries, err := os.ReadDir(s.dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".papyrad.") && strings.HasSuffix(e.Name(), ".journal") {
			return true
		}
	}
	return false
}

// newStepFile returns a function that says whether a journal of a destructive step (".seg",
// or its temp ".seg.<random>.new", or ".journal") that was not there when it was called has
// appeared beside the set.
func (s *rotSet) newStepFile() func() bool {
	steps := func() []string {
		var temps []string
		for _, n := range hiddenIn(s.dir(), ".new") {
			if isSegTemp(n) {
				temps = append(temps, n)
			}
		}
		return slices.Concat(hiddenIn(s.dir(), ".seg"), temps, hiddenIn(s.dir(), ".journal"))
	}
	earlier := steps()
	return func() bool {
		for _, n := range steps() {
			if !slices.Contains(earlier, n) {
				return true
			}
		}
		return false
	}
}

// isSegTemp reports whether n is the temp file of a step journal being written.
func isSegTemp(n string) bool {
	return atomicfile.IsTemp(n) && strings.Contains(n, ".seg.")
}

// killPhase says what a killed run left beside the set: a segment step journaled, the active
// file's replacement journaled, temp files being written, or nothing.
func (s *rotSet) killPhase(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir(s.dir())
	if err != nil {
		t.Fatal(err)
	}
	var seg, segNew, aside, journal, tmp bool
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, ".papyrad.") {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".seg"):
			seg = true
		case isSegTemp(n):
			segNew = true
		case strings.HasSuffix(n, ".del"):
			aside = true
		case strings.HasSuffix(n, ".journal"):
			journal = true
		case strings.HasSuffix(n, ".tmp"):
			tmp = true
		}
	}
	switch {
	case seg && aside:
		return "segment step, segment moved aside"
	case seg:
		return "segment step"
	case segNew:
		return "segment step being journaled"
	case journal:
		return "active file committing or draining"
	case tmp:
		return "preparing"
	}
	return "reading, deciding or done"
}

// rotate does what a Papyra-style writer does when it rolls the active file over: path.i →
// path.i+1 from the oldest down, path → path.1. The test calls it while papyrad is not
// running and the set's writers are paused, as the rotation papyrad finds at its next start.
func (s *rotSet) rotate(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(s.slot(s.maxFiles - 1)); err == nil {
		t.Fatalf("the set is full: raise maxFiles")
	}
	for i := s.maxFiles - 2; i >= 1; i-- {
		if _, err := os.Stat(s.slot(i)); err == nil {
			if err := os.Rename(s.slot(i), s.slot(i+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Rename(s.store, s.slot(1)); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	// Papyra's next append opens the active file with open(path, "a"), which makes it again:
	// papyrad never does (lines waiting to be forwarded wait for it).
	f, err := os.OpenFile(s.store, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// startRotWriter starts a rotating writer (mode "papyra" or "logging") on the suffix set s and
// waits for its first record. It writes rate records per second.
func startRotWriter(t *testing.T, s *rotSet, name, mode string, maxBytes int64, rate int) *rotWriter {
	t.Helper()
	lock := filepath.Join(t.TempDir(), "rotation.lock")
	w := startWriterProc(t, name, "-path", s.store, "-mode", mode,
		"-max-bytes", strconv.FormatInt(maxBytes, 10), "-max-files", strconv.Itoa(s.maxFiles),
		"-rate", strconv.Itoa(rate), "-rotation-lock", lock)
	return &rotWriter{writerProc: w, mode: mode, lock: lock}
}
