package testutil

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSetFiles(t *testing.T) {
	for _, tc := range []struct {
		naming string
		files  []string // in the directory
		want   []string // the set, oldest first
	}{
		{SuffixNaming, []string{"events.ndjson", "events.ndjson.1", "events.ndjson.3", "events.ndjson.5", "events.ndjson.bak", "other"},
			[]string{"events.ndjson.3", "events.ndjson.1", "events.ndjson"}},
		{SuffixNaming, []string{"events.ndjson.2"}, []string{"events.ndjson.2"}},
		{SequenceNaming, []string{"events-0010.ndjson", "events-0002.ndjson", "events-notes.ndjson", "events.ndjson", "events-0003.txt"},
			[]string{"events-0002.ndjson", "events-0010.ndjson"}},
	} {
		dir := t.TempDir()
		for _, n := range tc.files {
			if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := SetFiles(filepath.Join(dir, "events.ndjson"), tc.naming, 5)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i] = filepath.Base(got[i])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: SetFiles = %v, want %v", tc.naming, tc.files, got, tc.want)
		}
	}
}

func TestReadSet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	a := Record(Key{"A", 0}, Old(0))
	b := Record(Key{"A", 1}, Now())
	// The older segment ends without a newline: it must not swallow the next file's first line.
	if err := os.WriteFile(path+".2", append(a, b[:10]...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, a...), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ReadSet(path, SuffixNaming, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 2 || c.Count[Key{"A", 0}] != 2 || c.Count[Key{"A", 1}] != 1 || len(c.Bad) != 1 || !c.Unterminated {
		t.Fatalf("ReadSet: files %v, counts %v, bad %d, unterminated %v", c.Files, c.Count, len(c.Bad), c.Unterminated)
	}
	if c.Bad[0].Off != int64(len(a)) {
		t.Errorf("the torn line is at offset %d of the set, want %d", c.Bad[0].Off, len(a))
	}
	if want := []Key{{"A", 0}, {"A", 1}, {"A", 0}}; !slices.Equal(c.Order, want) {
		t.Errorf("Order = %v, want %v", c.Order, want)
	}
}
