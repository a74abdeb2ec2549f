package rotating

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/retention"
)

// readArchive returns the contents of the store's published archives, in name order, and
// fails on leftovers of unpublished runs.
func readArchive(t *testing.T, dir string) string {
	t.Helper()
	var out bytes.Buffer
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("unpublished archive file left: %s", p)
			return nil
		}
		f, _ := os.Open(p)
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&out, zr)
		return nil
	})
	return out.String()
}

func TestArchiveSet(t *testing.T) {
	dir := t.TempDir()
	oldRec := func(n int) string {
		return `{"kind":"event","n":` + strconv.Itoa(n) + `,"timestamp":978307200.0}` + "\n"
	}
	newRec := func(n int) string {
		return `{"kind":"event","n":` + strconv.Itoa(n) + `,"timestamp":` + strconv.FormatInt(now.Unix(), 10) + `.0}` + "\n"
	}
	files := map[string]string{
		"events.ndjson.3": oldRec(1) + "\n" + oldRec(2),        // emptied whole, blank line included
		"events.ndjson.2": oldRec(3) + oldRec(4),               // emptied whole
		"events.ndjson.1": oldRec(5) + newRec(6),               // rewritten
		"events.ndjson":   oldRec(7) + "garbage\n" + newRec(8), // the active file, rewritten
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		os.Chtimes(p, now.Add(-time.Hour), now.Add(-time.Hour))
	}
	s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
	arch := filepath.Join(dir, "archive")
	s.cfg.Archive = &archive.Config{Dir: arch, Compress: archive.Gzip}
	rep := compact(t, s)
	if rep.RecordsDropped != 6 || rep.RecordsArchived != 6 || rep.FilesDeleted != 0 || rep.FilesRewritten != 4 {
		t.Errorf("report: %+v", rep)
	}
	want := files["events.ndjson.3"] + files["events.ndjson.2"] + oldRec(5) + oldRec(7)
	if got := readArchive(t, arch); got != want {
		t.Errorf("archive holds\n%s\nwant, oldest segment first, byte for byte\n%s", got, want)
	}
	if got := strings.Join(readSet(t, s), ""); got != newRec(6)+newRec(8) {
		t.Errorf("set holds %q", got)
	}

	// A second run with nothing to drop archives nothing more.
	rep = compact(t, s)
	if rep.RecordsArchived != 0 || rep.ArchiveFile != "" {
		t.Errorf("second run archived: %+v", rep)
	}
	if got := readArchive(t, arch); got != want {
		t.Errorf("after the second run the archives hold %q", got)
	}
}

// TestArchiveFailureChangesNothing: a run whose archive cannot be written leaves every
// segment as it was.
func TestArchiveFailureChangesNothing(t *testing.T) {
	dir := copySet(t, filepath.Join("..", "..", "..", "testdata", "papyra", "rotating", "basic", "store"))
	before := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		before[e.Name()] = string(b)
	}
	blocked := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(blocked, nil, 0o600)
	s := newStore(dir, Suffix, retention.Policy{MaxRecords: 1})
	s.cfg.Archive = &archive.Config{Dir: blocked, Compress: archive.Zstd}
	if _, err := s.Compact(t.Context(), backends.Options{}); err == nil || !strings.Contains(err.Error(), "archive") {
		t.Fatalf("want an archive error, got %v", err)
	}
	for name, content := range before {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != content {
			t.Errorf("%s changed by a run that could not archive", name)
		}
	}
	after, _ := os.ReadDir(dir)
	for _, e := range after {
		if _, ok := before[e.Name()]; !ok && !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("the failed run left %s", e.Name())
		}
	}
}
