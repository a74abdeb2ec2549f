package quarantine

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
)

func TestLinesComeBackExactly(t *testing.T) {
	dir := t.TempDir()
	q := New(dir, "orders", "/data/events.ndjson", "run1", time.Date(2026, 11, 25, 23, 59, 0, 0, time.FixedZone("X", 3600)))
	lines := [][]byte{[]byte("not json"), {0xff, 0xfe, '{'}, []byte(`{"kind": "ev`)}
	for i, l := range lines {
		if err := q.Add(l, int64(i*10), "reason"); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("z", 300_000)
	if err := q.AddStream(strings.NewReader(big), 99, "too long"); err != nil {
		t.Fatal(err)
	}
	pending, final, err := q.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "orders", "2026-11-25", "run1.ndjson"); final != want {
		t.Errorf("final = %s, want %s (UTC date)", final, want)
	}
	if err := os.Rename(pending, final); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(final)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	want := append(lines, []byte(big))
	i := 0
	for ; sc.Scan(); i++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		raw, err := base64.StdEncoding.DecodeString(e.Base64)
		if err != nil || string(raw) != string(want[i]) {
			t.Errorf("entry %d: bytes %q, want %q", i, raw, want[i])
		}
		if e.Store != "orders" || e.RunID != "run1" || e.Source != "/data/events.ndjson" {
			t.Errorf("entry %d: %+v", i, e)
		}
		if (e.Text != "") != (i != 1 && i != 3) {
			t.Errorf("entry %d: text %q: only valid UTF-8 lines that were read in memory carry text", i, e.Text)
		}
	}
	if i != 4 {
		t.Errorf("%d entries, want 4", i)
	}
}

func TestNothingQuarantinedCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	q := New(dir, "orders", "/x", "run1", time.Now())
	if p, f, err := q.Close(); p != "" || f != "" || err != nil {
		t.Errorf("Close = %q, %q, %v", p, f, err)
	}
	q.Discard()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("created %d entries", len(entries))
	}
}

func TestDiscardRemovesPending(t *testing.T) {
	dir := t.TempDir()
	q := New(dir, "orders", "/x", "run1", time.Now())
	q.Add([]byte("x"), 0, "r")
	q.Discard()
	matches, _ := filepath.Glob(filepath.Join(dir, "orders", "*", "*"))
	if len(matches) != 0 {
		t.Errorf("left %v", matches)
	}
}

// TestPlantedLinkNotFollowed: a link planted under a run's pending name (someone who can write
// to the quarantine directory) is never written through: the run's quarantine fails, naming
// the file, and the link's target is untouched.
func TestPlantedLinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	target := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	pending := filepath.Join(dir, "orders", "2026-05-01", ".run1.ndjson.pending")
	if err := os.MkdirAll(filepath.Dir(pending), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, pending); err != nil {
		t.Fatal(err)
	}
	q := New(dir, "orders", "/srv/orders/events.ndjson", "run1", now)
	err := q.Add([]byte("{broken"), 0, "invalid JSON")
	if err == nil || !strings.Contains(err.Error(), pending) {
		t.Fatalf("Add through a planted link: %v, want an error naming %s", err, pending)
	}
	q.Discard()
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
}

// TestEveryCreatedDirectoryIsSynced: the quarantine's root, store and day directories are
// created on the first line, and each of them is fsynced, with the existing directory they were
// created in; a failed fsync of any of them fails the run before a line is written.
func TestEveryCreatedDirectoryIsSynced(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	base := t.TempDir()
	root := filepath.Join(base, "quarantine")
	levels := []string{
		filepath.Join(root, "orders", "2026-11-25"), filepath.Join(root, "orders"), root, base,
	}
	t.Run("synced", func(t *testing.T) {
		var synced []string
		atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
			if op == atomicfile.OpSyncDir {
				synced = append(synced, name)
			}
			return nil
		})
		q := New(root, "orders", "/data/events.ndjson", "run1", at)
		if err := q.Add([]byte("x"), 0, "reason"); err != nil {
			t.Fatal(err)
		}
		for _, d := range levels {
			if !slices.Contains(synced, d) {
				t.Errorf("%s was not fsynced (fsynced: %v)", d, synced)
			}
		}
		q.Discard()
		os.RemoveAll(root)
	})
	for _, d := range levels {
		t.Run("fails at "+filepath.Base(d), func(t *testing.T) {
			atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
				if op == atomicfile.OpSyncDir && name == d {
					return syscall.EIO
				}
				return nil
			})
			q := New(root, "orders", "/data/events.ndjson", "run2", at)
			defer os.RemoveAll(root)
			defer q.Discard()
			if err := q.Add([]byte("x"), 0, "reason"); !errors.Is(err, syscall.EIO) {
				t.Errorf("Add = %v, want the failed fsync of %s", err, d)
			}
		})
	}
}
