package rotating

import (
	"bytes"
	"encoding/json"
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

	"github.com/papyrad/papyrad/internal/pyjson"
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
		if len(got.m) != 3 {
			b, _ := os.ReadFile(s.cfg.Summaries)
			t.Fatalf("%+v: the cache holds %d summaries, want the 3 rotated segments: %s", p, len(got.m), b)
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
	sum := newSummary(fi)
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
	f.Fuzz(func(t *testing.T, data []byte, cutoff float64) {
		if math.IsNaN(cutoff) || math.IsInf(cutoff, 0) {
			return
		}
		s := &summary{Size: int64(len(data)), MinTS: math.Inf(1), MaxTS: math.Inf(-1)}
		var lines []retention.Class
		for _, raw := range bytes.SplitAfter(data, []byte("\n")) {
			if len(raw) == 0 {
				continue
			}
			l := pyjson.Classify(bytes.TrimSuffix(raw, []byte("\n")), false)
			s.add(l)
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
