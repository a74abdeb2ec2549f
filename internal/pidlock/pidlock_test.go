package pidlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/papyrad/papyrad/internal/errs"
)

// TestSecondHolderRefused: while one holder has the lock, another open of the same file is
// refused with errs.ErrInUse naming the holder's pid; after Release it can be taken again.
func TestSecondHolderRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "papyrad.pid")
	l, err := Acquire(path, 0o640, errs.ErrInUse)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want this pid", b, err)
	}
	// flock locks belong to open file descriptions: a second Acquire in this process is a
	// second holder, as another process would be.
	_, err = Acquire(path, 0o640, errs.ErrInUse)
	if !errors.Is(err, errs.ErrInUse) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Acquire: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(path, 0o640, errs.ErrInUse)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

// TestStalePidOverwritten: a pid left by a holder that is gone does not hold the lock, and the
// new holder writes its own over it.
func TestStalePidOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "papyrad.pid")
	if err := os.WriteFile(path, []byte("999999999\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(path, 0o640, errs.ErrInUse)
	if err != nil {
		t.Fatalf("with a stale pid in the file: %v", err)
	}
	defer l.Release()
	if b, _ := os.ReadFile(path); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want this pid", b)
	}
}

// TestSymlinkRefused: the lock file is never followed through a symbolic link.
func TestSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	path := filepath.Join(dir, "papyrad.pid")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path, 0o640, errs.ErrInUse); err == nil {
		t.Fatal("a symbolic link was taken as the lock file")
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link's target was created")
	}
}

// TestReleaseWithAForkedCopy: a released lock can be taken again at once even while another
// process holds a copy of its descriptor, as a child this process forks does until it execs.
func TestReleaseWithAForkedCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.lock")
	l, err := Acquire(path, 0o600, errs.ErrLocked)
	if err != nil {
		t.Fatal(err)
	}
	// A child holding a copy of the lock's descriptor, as a fork does before its exec.
	cmd := exec.Command("sleep", "30")
	cmd.ExtraFiles = []*os.File{l.f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(path, 0o600, errs.ErrLocked)
	if err != nil {
		t.Fatalf("after Release, with a child holding a copy of the descriptor: %v", err)
	}
	l2.Release()
}
