package rotating

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/pyjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// TestSummariesWithoutTimestamps: a rotated segment with no record whose timestamp a float
// holds exactly (an empty segment, records without a numeric timestamp) has no range of
// timestamps, which JSON cannot write as infinities; its summary, and every other, must still
// be kept.
func TestSummariesWithoutTimestamps(t *testing.T) {
	dir := t.TempDir()
	hour := now.Add(-time.Hour)
	files := map[string]string{
		"events.ndjson.3": "",
		"events.ndjson.2": `{"kind": "event", "timestamp": 100000000000000000000}` + "\n",
		"events.ndjson.1": `{"kind": "event", "timestamp": 4102444800.0}` + "\n",
		"events.ndjson":   `{"kind": "event", "timestamp": 4102444801.0}` + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, hour, hour)
	}
	for _, p := range []retention.Policy{{}, {MaxAge: time.Hour}} {
		s := newStore(dir, Suffix, p)
		s.cfg.Summaries = filepath.Join(dir, "state", "segments.json")
		os.Remove(s.cfg.Summaries)
		core, logs := observer.New(zapcore.WarnLevel)
		s.log = zap.New(core)
		if rep := compact(t, s); rep.FilesDeleted+rep.FilesRewritten != 0 {
			t.Fatalf("%+v: the run changed files: %+v", p, rep)
		}
		if logs.Len() > 0 {
			t.Fatalf("%+v: warnings: %v", p, logs.All())
		}
		got := loadSummaries(s.cfg.Summaries, zap.NewNop())
		rotated, prefixes := 0, 0
		for _, sum := range got.m {
			if sum.Prefix {
				prefixes++
			} else {
				rotated++
			}
		}
		if rotated != 3 || prefixes != 1 {
			b, _ := os.ReadFile(s.cfg.Summaries)
			t.Fatalf("%+v: the cache holds %d summaries of rotated segments and %d of the active file, want 3 and 1: %s", p, rotated, prefixes, b)
		}
		for _, sum := range got.m {
			if sum.Records == sum.Inexact && (!math.IsInf(sum.MinTS, 1) || !math.IsInf(sum.MaxTS, -1)) {
				t.Errorf("a summary without exact timestamps came back with the range [%v, %v]", sum.MinTS, sum.MaxTS)
			}
		}
	}
}

// TestCorruptSummaries: whatever the cache file holds, a run reads the segments the cache
// cannot vouch for, gets the same result as without a cache, and says in a warning which file
// it left out.
func TestCorruptSummaries(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		warn          string
	}{
		{"not JSON", "{\x00garbage", "segment summaries unreadable"},
		{"a null entry", "[null]", "cannot describe a segment"},
		{"an object", `{"dev": 1}`, "segment summaries unreadable"},
		{"counts that do not add up", `[{"dev": DEV, "ino": INO, "size": SIZE, "mtime_ns": MTIME, "lines": 1, "records": 5}]`, "cannot describe a segment"},
		{"a range with no exact record", `[{"dev": DEV, "ino": INO, "size": SIZE, "mtime_ns": MTIME, "min_ts": 0, "max_ts": 0}]`, "cannot describe a segment"},
		{"a range upside down", `[{"dev": DEV, "ino": INO, "size": SIZE, "mtime_ns": MTIME, "lines": 1, "records": 1, "min_ts": 5000000000, "max_ts": 1}]`, "cannot describe a segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hour := now.Add(-time.Hour)
			seg := filepath.Join(dir, "events.ndjson.1")
			os.WriteFile(seg, []byte(`{"kind": "event", "timestamp": 1000000000.0}`+"\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(`{"kind": "event", "timestamp": 4102444801.0}`+"\n"), 0o644)
			os.Chtimes(seg, hour, hour)
			fi, _ := os.Stat(seg)
			st := statOf(fi)
			content := strings.NewReplacer("DEV", jsonNum(st.dev), "INO", jsonNum(st.ino), "SIZE", jsonNum(uint64(fi.Size())),
				"MTIME", jsonNum(uint64(fi.ModTime().UnixNano()))).Replace(tc.content)
			s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
			s.cfg.Summaries = filepath.Join(dir, "state", "segments.json")
			os.MkdirAll(filepath.Dir(s.cfg.Summaries), 0o700)
			if err := os.WriteFile(s.cfg.Summaries, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zapcore.WarnLevel)
			s.log = zap.New(core)
			rep := compact(t, s)
			if rep.FilesRewritten != 1 || rep.RecordsDropped != 1 || rep.RecordsAfter != 1 {
				t.Errorf("the expired segment was not read and emptied: %+v", rep)
			}
			warned := logs.FilterMessageSnippet(tc.warn).All()
			if len(warned) != 1 || warned[0].ContextMap()["file"] != s.cfg.Summaries {
				t.Errorf("want one warning %q naming %s, got %v", tc.warn, s.cfg.Summaries, logs.All())
			}
		})
	}
}

type inode struct{ dev, ino uint64 }

func statOf(fi os.FileInfo) inode {
	sum := newSummary(fi, 0)
	return inode{sum.Dev, sum.Ino}
}

func jsonNum(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// FuzzLoadSummaries: nothing in the cache file makes a run panic; every summary it keeps
// could have been built by reading a segment; what it keeps is saved and loaded back the same;
// and a file it cannot use in full is named in a warning.
func FuzzLoadSummaries(f *testing.F) {
	for _, s := range []string{
		`[{"dev":2049,"ino":12,"size":100,"mtime_ns":1700000000000000000,"lines":2,"records":2,"non_records":0,"blanks":0,"inexact":0,"min_ts":1.5,"max_ts":2.5}]`,
		`[{"dev":2049,"ino":13,"size":0,"mtime_ns":0,"lines":0,"records":0}]`,
		`[{"dev":1,"ino":1,"size":10,"lines":3,"records":1,"non_records":1,"blanks":1,"inexact":1}]`,
		`[null]`, `null`, `[]`, `{}`, `[{"lines":-1}]`, `[{"min_ts":"x"}]`, `[{"records":9223372036854775807,"non_records":9223372036854775807,"lines":-2}]`,
		`[{"dev":1,"ino":1,"size":5,"lines":1,"records":1,"min_ts":3,"max_ts":2}]`, "\xef\xbb\xbf[]", `[{"min_ts":1e400}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "segments.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.WarnLevel)
		c := loadSummaries(path, zap.New(core))
		var list []*summary
		whole := json.Unmarshal(data, &list) == nil
		for _, s := range list {
			whole = whole && s.valid()
		}
		if whole != (logs.Len() == 0) || logs.Len() > 1 {
			t.Fatalf("cache %q (usable whole: %v): %d summaries kept, warnings %v", data, whole, len(c.m), logs.All())
		}
		for _, w := range logs.All() {
			if w.ContextMap()["file"] != path {
				t.Fatalf("warning %q does not name the file", w.Message)
			}
		}
		var kept []*summary
		for k, s := range c.m {
			if !s.valid() || k != key(s.Dev, s.Ino) {
				t.Fatalf("kept an invalid summary under %s: %+v", k, s)
			}
			kept = append(kept, s)
		}
		if err := c.save(kept); err != nil {
			t.Fatalf("save what was loaded: %v", err)
		}
		back := loadSummaries(path, zap.NewNop())
		if !reflect.DeepEqual(back.m, c.m) {
			t.Fatalf("saved and loaded again: %v, want %v", back.m, c.m)
		}
	})
}

// FuzzSummaryOfLines builds a summary from lines as a run does and checks that it is valid,
// that it survives the cache file, and that what it decides agrees with the lines' own
// timestamps.
func FuzzSummaryOfLines(f *testing.F) {
	f.Add([]byte(`{"timestamp": 1700000000.5}`+"\n"+`{"timestamp": 1}`+"\n"), 1600000000.0)
	f.Add([]byte("\n\n"), 0.0)
	f.Add([]byte(`{"timestamp": 100000000000000000000}`+"\n"+`{"timestamp": NaN}`+"\n"+`{"a": 1}`+"\n"), 5.0)
	f.Add([]byte(`{"timestamp": 2}`+"\n"+`[1]`+"\n"), 1.0)
	f.Add([]byte(`{"timestamp": Infinity}`+"\n"+`{"timestamp": -1e400}`+"\n"), 1.0)
	f.Fuzz(func(t *testing.T, data []byte, cutoff float64) {
		if math.IsNaN(cutoff) || math.IsInf(cutoff, 0) {
			return
		}
		s := &summary{Size: int64(len(data)), tally: emptyTally()}
		var lines []retention.Class
		for _, raw := range bytes.SplitAfter(data, []byte("\n")) {
			if len(raw) == 0 {
				continue
			}
			l := pyjson.Classify(bytes.TrimSuffix(raw, []byte("\n")), false)
			s.add(&l, int64(len(raw)))
			lines = append(lines, l)
		}
		if !s.valid() {
			t.Fatalf("a summary built from lines is not valid: %+v", s)
		}
		b, err := json.Marshal([]*summary{s})
		if err != nil {
			t.Fatalf("a summary built from lines cannot be saved: %v", err)
		}
		var back []*summary
		if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 || !reflect.DeepEqual(back[0], s) {
			t.Fatalf("summary %+v came back as %+v, %v", s, back, err)
		}
		a, ok := s.decide(retention.Policy{MaxAge: time.Hour}, cutoff)
		if !ok {
			return
		}
		for _, l := range lines {
			if l.Kind != retention.Record {
				t.Fatalf("decided a segment holding a %v line", l.Kind)
			}
			f := l.Timestamp.Float64()
			if a == untouched && !(f > cutoff) || a == remove && !(f < cutoff) {
				t.Fatalf("decided %v for a segment with a record at %v (cutoff %v)", a, f, cutoff)
			}
		}
	})
}

// smallBlocks makes summaries cut segments into blocks of about n bytes until the test ends.
func smallBlocks(t *testing.T, n int64) {
	prev := blockBytes
	blockBytes = n
	t.Cleanup(func() { blockBytes = prev })
}

// straddling writes a rotated segment whose records run across the cutoff of a one-hour
// max_age at now (an hour before now), 40 of them, and an active file of fresh records, both
// an hour old by mtime.
func straddling(t *testing.T, dir string) {
	t.Helper()
	cutoff := float64(now.Add(-time.Hour).Unix())
	var seg, active strings.Builder
	for i := range 40 {
		fmt.Fprintf(&seg, `{"kind": "event", "n": %d, "timestamp": %.1f}`+"\n", i, cutoff-1000+float64(i)*50+0.5)
		fmt.Fprintf(&active, `{"kind": "event", "n": %d, "timestamp": %.1f}`+"\n", i, cutoff+5000+float64(i))
	}
	hour := now.Add(-time.Hour)
	for name, content := range map[string]string{"events.ndjson.2": seg.String(), "events.ndjson": active.String()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, hour, hour)
	}
}

// summarised returns a store on dir with a summaries file, after a dry run has written the
// summaries, and the debug log of its next runs.
func summarised(t *testing.T, dir string) (*Store, *observer.ObservedLogs) {
	t.Helper()
	s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
	s.cfg.Summaries = filepath.Join(t.TempDir(), "segments.json")
	if _, err := s.Compact(context.Background(), backends.Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	s.log = zap.New(core)
	return s, logs
}

// reference compacts a copy of the set in dir as it is now, with no summaries: what every run
// must end with, whatever it spared itself reading.
func reference(t *testing.T, dir string) (report.Report, []string) {
	t.Helper()
	return referenceAt(t, dir, now)
}

func referenceAt(t *testing.T, dir string, at time.Time) (report.Report, []string) {
	t.Helper()
	ref := newStore(copySet(t, dir), Suffix, retention.Policy{MaxAge: time.Hour})
	ref.now = func() time.Time { return at }
	rep := compact(t, ref)
	return rep, readSet(t, ref)
}

func sameRun(t *testing.T, s *Store, rep report.Report, wantRep report.Report, want []string) {
	t.Helper()
	if got := readSet(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("set after the run:\n%q\nwant, as a run with no summaries leaves it:\n%q", got, want)
	}
	if rep.RecordsBefore != wantRep.RecordsBefore || rep.RecordsAfter != wantRep.RecordsAfter ||
		rep.RecordsDropped != wantRep.RecordsDropped || rep.RecordsQuarantined != wantRep.RecordsQuarantined ||
		rep.FilesRewritten != wantRep.FilesRewritten || rep.FilesDeleted != wantRep.FilesDeleted || rep.BytesAfter != wantRep.BytesAfter {
		t.Errorf("report %+v\nwant, as a run with no summaries:\n%+v", rep, wantRep)
	}
}

// classified is how many bytes the last run classified, as its debug log says.
func classified(t *testing.T, logs *observer.ObservedLogs) int64 {
	t.Helper()
	planned := logs.FilterMessage("planned").All()
	if len(planned) == 0 {
		t.Fatal("no plan logged")
	}
	return planned[len(planned)-1].ContextMap()["bytes_classified"].(int64)
}

// TestSummaryBlocksSpareReads: a run with summaries reads, of a segment that straddles the
// cutoff, only the blocks around it, and of the active file only what was appended since; and
// it leaves the set and reports exactly as a run that reads everything.
func TestSummaryBlocksSpareReads(t *testing.T) {
	smallBlocks(t, 100)
	dir := t.TempDir()
	straddling(t, dir)
	s, logs := summarised(t, dir)
	// Appended since the summaries: an expired record and a non-record, which the run must
	// find in the active file's new lines.
	f, _ := os.OpenFile(filepath.Join(dir, "events.ndjson"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind": "event", "timestamp": 1000000000.0}` + "\n" + "{not json\n")
	f.Close()
	wantRep, want := reference(t, dir)
	rep := compact(t, s)
	sameRun(t, s, rep, wantRep, want)
	if rep.RecordsQuarantined != 1 || rep.RecordsDropped < 2 {
		t.Errorf("the appended lines were not dealt with: %+v", rep)
	}
	if n := classified(t, logs); n == 0 || n > 400 {
		t.Errorf("the run classified %d bytes; with the summaries, about 2 blocks of 100 and the 2 lines appended", n)
	}
}

// TestSummaryBlocksNotTrustedStale: a segment whose summary no longer describes it is read,
// whatever its name: replaced by another file of the same size and mtime, or changed in place
// so that its lines no longer fall where the summary's blocks say. A run that trusted the
// stale summary would keep or drop the wrong lines.
func TestSummaryBlocksNotTrustedStale(t *testing.T) {
	smallBlocks(t, 100)
	seg := func(dir string) string { return filepath.Join(dir, "events.ndjson.2") }
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
		warn   bool
	}{
		{"replaced by a file of the same size and mtime", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			// The same bytes in another order: the newest records first, then the oldest.
			lines := strings.SplitAfter(string(b), "\n")
			lines = append(lines[len(lines)/2:], lines[:len(lines)/2]...)
			tmp := path + ".new"
			os.WriteFile(tmp, []byte(strings.Join(lines, "")), 0o644)
			os.Remove(path) // the old inode goes, as a writer deleting and recreating it
			os.Rename(tmp, path)
		}, false},
		{"lines moved in place, same size and mtime", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			// Shorten the first record by one byte and lengthen the last: every line between
			// moves one byte, off the blocks' boundaries.
			s := strings.Replace(string(b), `"n": 0, `, `"n": 0,`, 1)
			s = strings.Replace(s, `"n": 39, `, `"n": 39,  `, 1)
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.WriteAt([]byte(s), 0)
			f.Close()
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			straddling(t, dir)
			s, logs := summarised(t, dir)
			fi, _ := os.Stat(seg(dir))
			tc.change(t, seg(dir))
			os.Chtimes(seg(dir), fi.ModTime(), fi.ModTime())
			if got, _ := os.Stat(seg(dir)); got.Size() != fi.Size() {
				t.Fatalf("the change altered the size: %d, was %d", got.Size(), fi.Size())
			}
			wantRep, want := reference(t, dir)
			rep := compact(t, s)
			sameRun(t, s, rep, wantRep, want)
			if n := classified(t, logs); n < fi.Size() {
				t.Errorf("the run classified %d bytes, less than the changed segment's %d", n, fi.Size())
			}
			if warned := logs.FilterMessageSnippet("does not match the lines").Len(); (warned == 1) != tc.warn {
				t.Errorf("%d warnings that the summary does not match the segment, want %v", warned, tc.warn)
			}
		})
	}
}

// TestActivePrefixNotTrustedChanged: the summary of the active file stands for its first bytes
// only while they are the same: rewritten in place, even at the same size and mtime, they are
// read again, and the expired record now among them is dropped.
func TestActivePrefixNotTrustedChanged(t *testing.T) {
	smallBlocks(t, 100)
	dir := t.TempDir()
	straddling(t, dir)
	s, logs := summarised(t, dir)
	active := filepath.Join(dir, "events.ndjson")
	fi, _ := os.Stat(active)
	expireFirst(t, active)
	wantRep, want := reference(t, dir)
	rep := compact(t, s)
	sameRun(t, s, rep, wantRep, want)
	if rep.RecordsDropped != wantRep.RecordsDropped || wantRep.RecordsDropped < 1 {
		t.Errorf("the expired record written over the active file's summarised bytes was not dropped: %+v", rep)
	}
	if n := classified(t, logs); n < fi.Size() {
		t.Errorf("the run classified %d bytes, less than the changed active file's %d", n, fi.Size())
	}
}

// TestActivePrefixAfterRotation: the active file rotated since its first bytes were summarised
// is planned from that summary as a rotated segment: only what was appended before the
// rotation is classified, and the result is what a run that reads everything gives. If its
// summarised bytes changed (same inode), it is read whole.
func TestActivePrefixAfterRotation(t *testing.T) {
	smallBlocks(t, 100)
	for _, changed := range []bool{false, true} {
		t.Run(fmt.Sprintf("changed=%v", changed), func(t *testing.T) {
			dir := t.TempDir()
			straddling(t, dir)
			s, logs := summarised(t, dir)
			active := filepath.Join(dir, "events.ndjson")
			fi, _ := os.Stat(active)
			f, _ := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
			f.WriteString(`{"kind": "event", "timestamp": 1000000000.0}` + "\n")
			f.Close()
			if changed {
				expireFirst(t, active)
			}
			os.Rename(active, active+".1")
			os.WriteFile(active, []byte(`{"kind": "event", "timestamp": 4102444801.0}`+"\n"), 0o644)
			wantRep, want := reference(t, dir)
			rep := compact(t, s)
			sameRun(t, s, rep, wantRep, want)
			n := classified(t, logs)
			if changed && n < fi.Size() {
				t.Errorf("the run classified %d bytes, less than the changed segment's %d", n, fi.Size())
			}
			if !changed && n > 400 {
				t.Errorf("the run classified %d bytes; the rotated segment's summarised %d bytes should not be", n, fi.Size())
			}
		})
	}
}

// expireFirst gives the first record of the file at path an expired timestamp of the same
// length, in place: the file keeps its inode, size and mtime.
func expireFirst(t *testing.T, path string) {
	t.Helper()
	fi, _ := os.Stat(path)
	b, _ := os.ReadFile(path)
	first := strings.SplitAfter(string(b), "\n")[0]
	i := strings.Index(first, `"timestamp": `) + len(`"timestamp": `)
	old := first[i : len(first)-2]
	changed := first[:i] + "1" + strings.Repeat("0", len(old)-3) + ".0}\n"
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(changed), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chtimes(path, fi.ModTime(), fi.ModTime())
}

// TestRewrittenSegmentSummarised: a run that rewrites a segment keeps the summary of the new
// copy, so that the next run, with the cutoff moved further into it, reads only the blocks
// around the new cutoff, and ends as a run that reads everything.
func TestRewrittenSegmentSummarised(t *testing.T) {
	smallBlocks(t, 150) // 3 records a block: both cutoffs fall inside one
	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprintf("first run warm=%v", warm), func(t *testing.T) {
			dir := t.TempDir()
			straddling(t, dir)
			s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
			s.cfg.Summaries = filepath.Join(t.TempDir(), "segments.json")
			if warm {
				if _, err := s.Compact(context.Background(), backends.Options{DryRun: true}); err != nil {
					t.Fatal(err)
				}
			}
			if rep := compact(t, s); rep.FilesRewritten != 1 || rep.RecordsDropped != 20 {
				t.Fatalf("the first run did not rewrite the straddling segment: %+v", rep)
			}
			later := now.Add(600 * time.Second)
			wantRep, want := referenceAt(t, dir, later)
			core, logs := observer.New(zapcore.DebugLevel)
			s.log = zap.New(core)
			s.now = func() time.Time { return later }
			rep := compact(t, s)
			sameRun(t, s, rep, wantRep, want)
			if rep.RecordsDropped != 12 {
				t.Errorf("the second run dropped %d records, want the 12 the cutoff moved past", rep.RecordsDropped)
			}
			if n := classified(t, logs); n > 300 {
				t.Errorf("the second run classified %d bytes; with the rewritten segment's summary, the blocks around the cutoff", n)
			}
		})
	}
}

// TestSummaryBirthTime: where the filesystem keeps birth times, a summary stands for a segment
// only with the birth time it was made with. A new file that took over a summarised segment's
// inode number, with its size and mtime (restored from a backup, say), is born later, and is
// read: here the record it holds has expired.
func TestSummaryBirthTime(t *testing.T) {
	dir := t.TempDir()
	rec := func(ts float64) string { return fmt.Sprintf(`{"timestamp": %.1f}`+"\n", ts) }
	seg := filepath.Join(dir, "events.ndjson.2")
	hour := now.Add(-time.Hour)
	os.WriteFile(seg, []byte(rec(4102444800)), 0o644)
	os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(rec(4102444801)), 0o644)
	os.Chtimes(seg, hour, hour)
	f, err := os.Open(seg)
	if err != nil {
		t.Fatal(err)
	}
	born := birth(f)
	f.Close()
	if born == 0 {
		t.Skip("the filesystem keeps no birth times")
	}
	s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
	s.cfg.Summaries = filepath.Join(dir, "state", "segments.json")
	if rep := compact(t, s); rep.FilesDeleted+rep.FilesRewritten != 0 {
		t.Fatalf("first run changed files: %+v", rep)
	}
	// Other content of the same size and mtime under the same inode: only the birth time can
	// tell it from the file summarised. The cache is made to say the summarised file was born
	// a second before this one, as it would be had the new file reused its inode number.
	os.WriteFile(seg, []byte(rec(1000000000)), 0o644)
	os.Chtimes(seg, hour, hour)
	cache := loadSummaries(s.cfg.Summaries, zap.NewNop())
	var list []*summary
	for _, sum := range cache.m {
		if !sum.Prefix {
			if sum.BtimeNs != born {
				t.Fatalf("the summary keeps birth time %d, the segment's is %d", sum.BtimeNs, born)
			}
			sum.BtimeNs -= 1e9
		}
		list = append(list, sum)
	}
	if err := cache.save(list); err != nil {
		t.Fatal(err)
	}
	if rep := compact(t, s); rep.FilesRewritten != 1 || rep.RecordsAfter != 1 {
		t.Errorf("a segment born after its summary was trusted: %+v", rep)
	}
}

// TestActiveSummaryBlockEndsInCR: a block of the active file's summary that ends in a lone
// "\r" (a line end to Python's universal newlines, which Papyra never writes) is a whole line
// when the run reads that block again, even while the file is fresh and its own last "\r"
// might be half of a "\r\n". The run ends as a run without summaries does, instead of
// failing every time until the file goes quiet.
func TestActiveSummaryBlockEndsInCR(t *testing.T) {
	smallBlocks(t, 100)
	dir := t.TempDir()
	cutoff := float64(now.Add(-time.Hour).Unix())
	var active strings.Builder
	for i := range 12 {
		ts := cutoff - 1000 + float64(i)
		if i >= 7 {
			ts = cutoff + 1000 + float64(i)
		}
		end := "\n"
		if i == 7 {
			end = "\r" // the end of the block of lines 6 and 7, which straddles the cutoff
		}
		fmt.Fprintf(&active, `{"kind": "event", "n": %2d, "timestamp": %.1f}`+end, i, ts)
	}
	path := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(path, []byte(active.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, now, now) // fresh: within the partial-line grace
	s, _ := summarised(t, dir)
	wantRep, want := reference(t, dir)
	if wantRep.RecordsDropped != 7 {
		t.Fatalf("the reference run dropped %d records, want 7: %+v", wantRep.RecordsDropped, wantRep)
	}
	rep, err := s.Compact(context.Background(), backends.Options{})
	if err != nil {
		t.Fatalf("a run with the summary: %v", err)
	}
	sameRun(t, s, rep, wantRep, want)
}

// TestDryRunKeepsNewerSummaries: a dry run, which holds no lock, saves the summaries it
// learned only when no real run holds the store and none saved its own since the dry run read
// them: a real run's summaries of the segments it rewrote are never replaced by those of the
// segments as they were.
func TestDryRunKeepsNewerSummaries(t *testing.T) {
	dir := t.TempDir()
	hour := now.Add(-time.Hour)
	for name, content := range map[string]string{
		"events.ndjson.1": `{"kind": "event", "timestamp": 4102444800.0}` + "\n",
		"events.ndjson":   `{"kind": "event", "timestamp": 4102444801.0}` + "\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, hour, hour)
	}
	s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
	s.cfg.Summaries = filepath.Join(dir, "state", "segments.json")
	dryRun := func() {
		t.Helper()
		if _, err := s.Compact(context.Background(), backends.Options{DryRun: true}); err != nil {
			t.Fatal(err)
		}
	}

	// A real run holds the store: the dry run leaves the cache alone.
	l, err := livefile.Acquire(s.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	dryRun()
	l.Release()
	if _, err := os.Stat(s.cfg.Summaries); !os.IsNotExist(err) {
		t.Fatalf("a dry run saved summaries while the store was locked (stat: %v)", err)
	}
	// Nobody does: it saves them.
	dryRun()
	if _, err := os.Stat(s.cfg.Summaries); err != nil {
		t.Fatalf("a dry run on an idle store saved no summaries: %v", err)
	}

	// A real run saves between the dry run's read and its save: the real run's stay.
	c := loadSummaries(s.cfg.Summaries, zap.NewNop())
	newer := []byte("[]")
	if err := atomicfile.WriteFile(s.cfg.Summaries, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	free := func() (func(), error) { return func() {}, nil }
	if saved, err := c.saveUnlessNewer(c.keep, free); saved || err != nil {
		t.Fatalf("saveUnlessNewer over a newer cache = %v, %v", saved, err)
	}
	if b, _ := os.ReadFile(s.cfg.Summaries); !bytes.Equal(b, newer) {
		t.Fatalf("the newer cache was replaced: %s", b)
	}
	// As read, and unlocked: saved.
	c = loadSummaries(s.cfg.Summaries, zap.NewNop())
	if saved, err := c.saveUnlessNewer(c.keep, free); !saved || err != nil {
		t.Fatalf("saveUnlessNewer over the cache as read = %v, %v", saved, err)
	}
}

// TestPrefixChecksum: a prefix summary's checksum is that of every byte of the lines added to
// it, whether they were gathered for one update or, longer than a batch, taken at once.
func TestPrefixChecksum(t *testing.T) {
	s := &summary{Prefix: true, tally: emptyTally()}
	var all []byte
	off := int64(0)
	add := func(raw []byte) {
		l := ndjson.Line{Raw: raw, Off: off, Len: int64(len(raw)), Terminated: true}
		l.Class = pyjson.Classify(bytes.TrimSuffix(raw, []byte("\n")), false)
		s.addLine(&l)
		all = append(all, raw...)
		off += int64(len(raw))
		if got, want := s.checksum(), crcUpdate(0, all); got != want {
			t.Fatalf("after %d bytes: checksum %x, want %x", len(all), got, want)
		}
	}
	for i := 0; len(all) < 3*crcBatch; i++ {
		add(fmt.Appendf(nil, `{"timestamp": %d.5, "pad": "%s"}`+"\n", 1700000000+i, strings.Repeat("x", i%300)))
		if i == 500 {
			add(fmt.Appendf(nil, `{"timestamp": 1.5, "pad": "%s"}`+"\n", strings.Repeat("y", crcBatch+10)))
		}
	}
	c := s.extend()
	if c.checksum() != s.checksum() || len(c.pending) != 0 {
		t.Errorf("an extended copy has checksum %x and %d bytes pending, want %x and none", c.checksum(), len(c.pending), s.checksum())
	}
}
