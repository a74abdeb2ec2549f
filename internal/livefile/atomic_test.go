package livefile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/papyrad/papyrad/internal/errs"
)

// TestWriteFileAtomic: the new content replaces the old whole, with the mode asked for; a
// failed write leaves the old content and no temp file; a link at the name is replaced as a
// name, its target never written.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "runs.json")
	if err := WriteFileAtomic(name, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(name, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); string(b) != "two" {
		t.Fatalf("content %q, want two", b)
	}
	if fi, _ := os.Stat(name); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}

	withSeam(t, &writeTemp, func(f *os.File, p []byte) (int, error) {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	})
	err := WriteFileAtomic(name, []byte("three"), 0o600)
	if !errs.IsNoSpace(err) || !strings.Contains(err.Error(), name) {
		t.Fatalf("error %v, want ENOSPC naming %s", err, name)
	}
	if b, _ := os.ReadFile(name); string(b) != "two" {
		t.Fatalf("content %q after a failed write, want two", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the directory holds %d entries after a failed write, want the file alone", len(entries))
	}
}

func TestWriteFileAtomicNeverFollowsALink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "summaries.json")
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(name, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
	if fi, err := os.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s is not the new regular file: %v", name, err)
	}
}
