package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/papyrad/papyrad/internal/errs"
)

var errInjected = errors.New("injected fault")

type call struct {
	op   Op
	name string
}

// record injects a fault seam that lists every operation and fails the one at index failAt
// (none if negative).
func record(t *testing.T, failAt int) *[]call {
	var mu sync.Mutex
	calls := &[]call{}
	InjectFaults(t, func(op Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		*calls = append(*calls, call{op, name})
		if len(*calls)-1 == failAt {
			return errInjected
		}
		return nil
	})
	return calls
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteFile: the new content replaces the old whole, with the mode asked for; a failed
// write leaves the old content and no temp file.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "runs.json")
	if err := WriteFile(name, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(name, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, name); got != "two" {
		t.Fatalf("content %q, want two", got)
	}
	if fi, _ := os.Stat(name); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	InjectFaults(t, func(op Op, _ string) error {
		if op == OpWrite {
			return syscall.ENOSPC
		}
		return nil
	})
	err := WriteFile(name, []byte("three"), 0o600)
	if !errs.IsNoSpace(err) || !strings.Contains(err.Error(), name) {
		t.Fatalf("error %v, want ENOSPC naming %s", err, name)
	}
	if got := readFile(t, name); got != "two" {
		t.Fatalf("content %q after a failed write, want two", got)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"runs.json"}) {
		t.Fatalf("the directory holds %v after a failed write, want the file alone", got)
	}
}

func TestWriteFileNeverFollowsALink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "summaries.json")
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(name, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, target); got != "keep" {
		t.Errorf("the link's target was written: %q", got)
	}
	if fi, err := os.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s is not the new regular file: %v", name, err)
	}
}

// replaceWith writes data to a temp file beside name and puts it there with Replace, as a
// caller does, removing the temp file if anything fails.
func replaceWith(name, data string) (err error) {
	tmp := filepath.Join(filepath.Dir(name), HiddenPrefix(name)+"r1.tmp")
	f, err := Create(tmp, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = Remove(tmp)
		}
	}()
	_, err = Write(f, []byte(data))
	if err == nil {
		err = Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	_, err = Replace(tmp, name, nil)
	return err
}

// TestFaultAtEveryOperation fails each operation of WriteFile and of an exchange-based
// replace in turn: the target holds the old content or the new, whole, and nothing else is
// left in the directory.
func TestFaultAtEveryOperation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(name, data string) error
		ops   []Op // the operations a run goes through, in order
	}{
		{"WriteFile", func(name, data string) error { return WriteFile(name, []byte(data), 0o600) },
			[]Op{OpCreate, OpWrite, OpSync, OpRename, OpSyncDir}},
		{"Replace", replaceWith,
			[]Op{OpCreate, OpWrite, OpSync, OpExchange, OpRemove, OpSyncDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "state.json")
			if err := os.WriteFile(name, []byte("old content"), 0o600); err != nil {
				t.Fatal(err)
			}
			// A clean run through the seam gives the operations to fail.
			if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			var calls *[]call
			t.Run("clean", func(t *testing.T) {
				calls = record(t, -1)
				if err := tc.write(filepath.Join(dir, "probe"), "x"); err != nil {
					t.Fatal(err)
				}
			})
			os.Remove(filepath.Join(dir, "probe"))
			var ops []Op
			for _, c := range *calls {
				ops = append(ops, c.op)
			}
			if !slices.Equal(ops, tc.ops) {
				t.Fatalf("operations %v, want %v", ops, tc.ops)
			}
			for i, op := range tc.ops {
				t.Run(string(op), func(t *testing.T) {
					record(t, i)
					err := tc.write(name, "new content")
					if !errors.Is(err, errInjected) {
						t.Fatalf("error %v, want the injected fault", err)
					}
					if got := readFile(t, name); got != "old content" && got != "new content" {
						t.Fatalf("after a fault at %s the file holds %q", op, got)
					}
					if got := listDir(t, dir); !slices.Equal(got, []string{"state.json"}) {
						t.Errorf("after a fault at %s the directory holds %v, want the file alone", op, got)
					}
					// Put the old content back for the next operation.
					if err := os.WriteFile(name, []byte("old content"), 0o600); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}

// TestReplaceUndoesWhenTookRefuses: when what came out of the exchange is not what the caller
// expected, the exchange is undone and both files are back under their names.
func TestReplaceUndoesWhenTookRefuses(t *testing.T) {
	dir := t.TempDir()
	name, tmp := filepath.Join(dir, "events.ndjson"), filepath.Join(dir, ".papyrad.events.ndjson.r1.tmp")
	os.WriteFile(name, []byte("theirs"), 0o644)
	os.WriteFile(tmp, []byte("ours"), 0o644)
	var saw string
	replaced, err := Replace(tmp, name, func(out string) error {
		saw = readFile(t, out)
		return errs.ErrReplaced
	})
	if replaced || !errors.Is(err, errs.ErrReplaced) {
		t.Fatalf("Replace = %v, %v; want false, errs.ErrReplaced", replaced, err)
	}
	if saw != "theirs" {
		t.Errorf("took saw %q, want the file name held", saw)
	}
	if readFile(t, name) != "theirs" || readFile(t, tmp) != "ours" {
		t.Errorf("the exchange was not undone")
	}
}

// TestMkdirAllSyncsEveryCreatedDirectory: every directory MkdirAll creates is fsynced, and so
// is the existing one they were created in; an existing directory costs nothing.
func TestMkdirAllSyncsEveryCreatedDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "c")
	t.Run("create", func(t *testing.T) {
		calls := record(t, -1)
		if err := MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		want := []call{
			{OpMkdir, filepath.Join(root, "a")}, {OpMkdir, filepath.Join(root, "a", "b")}, {OpMkdir, dir},
			{OpSyncDir, dir}, {OpSyncDir, filepath.Join(root, "a", "b")}, {OpSyncDir, filepath.Join(root, "a")}, {OpSyncDir, root},
		}
		if !slices.Equal(*calls, want) {
			t.Errorf("operations\n  %v\nwant\n  %v", *calls, want)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v", dir, fi, err)
		}
	})
	t.Run("exists", func(t *testing.T) {
		calls := record(t, -1)
		if err := MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if len(*calls) != 0 {
			t.Errorf("an existing directory went through %v", *calls)
		}
	})
	t.Run("fault", func(t *testing.T) {
		InjectFaults(t, func(op Op, name string) error {
			if op == OpSyncDir && name == root {
				return syscall.EIO
			}
			return nil
		})
		if err := MkdirAll(filepath.Join(root, "d", "e"), 0o700); !errors.Is(err, syscall.EIO) {
			t.Errorf("MkdirAll = %v, want the fsync's EIO", err)
		}
	})
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(root, "file", "x"), 0o700); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("MkdirAll under a file = %v, want ENOTDIR", err)
	}
}

// TestLinkOpenLinksTheOpenInode: the open file gets the new name even after its old name was
// given to another file.
func TestLinkOpenLinksTheOpenInode(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "events.ndjson")
	os.WriteFile(name, []byte("old"), 0o644)
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Rename(name, name+".1")
	os.WriteFile(name, []byte("new"), 0o644)
	if err := LinkOpen(f, name, filepath.Join(dir, "kept")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "kept")); got != "old" {
		t.Errorf("the link holds %q, want the open file's content", got)
	}
}

func TestNames(t *testing.T) {
	name := "/var/lib/app/events.ndjson"
	if got := HiddenPrefix(name); got != ".papyrad.events.ndjson." {
		t.Errorf("HiddenPrefix = %q", got)
	}
	for _, tc := range []struct {
		name      string
		own, temp bool
	}{
		{filepath.Base(tempName(name)), true, true},
		{filepath.Base(tempName("/d/.papyrad.events.ndjson.0123456789abcdef.journal")), true, true},
		{".papyrad.events.ndjson.0123456789abcdef.journal", true, false},
		{".papyrad.events.ndjson.xyz.new", true, false},
		{"events.ndjson.0123456789abcdef.new", false, false},
		{"events.ndjson", false, false},
	} {
		if IsOwn(tc.name) != tc.own || IsTemp(tc.name) != tc.temp {
			t.Errorf("%s: IsOwn %v, IsTemp %v; want %v, %v", tc.name, IsOwn(tc.name), IsTemp(tc.name), tc.own, tc.temp)
		}
	}
	if a, b := NewRunID(), NewRunID(); a == b || len(a) != 16 {
		t.Errorf("NewRunID gave %q and %q", a, b)
	}
}

// TestInjectFaultsWhileRunning: a test may inject while goroutines it started use the package.
func TestInjectFaultsWhileRunning(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 4 {
		wg.Go(func() {
			name := filepath.Join(dir, "f"+string(rune('a'+i)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = WriteFile(name, []byte("x"), 0o600)
			}
		})
	}
	for range 20 {
		t.Run("inject", func(t *testing.T) {
			InjectFaults(t, func(Op, string) error { return errInjected })
		})
	}
	close(stop)
	wg.Wait()
}
