package backendtest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/testutil"
)

// memDir returns a directory on a fresh tmpfs, unmounted when the test ends, or where no
// tmpfs can be mounted, a temporary directory.
func memDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=256m,mode=0755"); err != nil {
		return dir
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// diskFull runs out of space on a real small filesystem: the run fails with ENOSPC, every
// file of the store is as it was, nothing of the run is left, and once there is room again
// the same run succeeds. It runs on a tmpfs, and on ext4, where a rewrite goes out with direct
// I/O.
func (s *suite) diskFull(t *testing.T) {
	for _, fs := range []struct {
		name  string
		mount func(t *testing.T) string
		// fill leaves the filesystem too full for the rewrite; room makes room again.
		fill, room func(t *testing.T, mnt string)
	}{
		{
			"tmpfs",
			func(t *testing.T) string { return testutil.Tmpfs(t, "1m") },
			func(*testing.T, string) {},
			func(t *testing.T, mnt string) {
				if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT|syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m"); err != nil {
					t.Fatalf("grow the tmpfs: %v", err)
				}
			},
		},
		{
			"ext4",
			func(t *testing.T) string { return testutil.Ext4(t, 16) },
			func(t *testing.T, mnt string) {
				var st syscall.Statfs_t
				if err := syscall.Statfs(mnt, &st); err != nil {
					t.Fatal(err)
				}
				filler, err := os.Create(filepath.Join(mnt, "filler"))
				if err != nil {
					t.Fatal(err)
				}
				defer filler.Close()
				// All but about 256 KiB, less what the filler's own extent tree takes.
				n := int64(st.Bfree)*st.Bsize - 256<<10
				for err = syscall.ENOSPC; errors.Is(err, syscall.ENOSPC) && n > 0; n -= 64 << 10 {
					err = syscall.Fallocate(int(filler.Fd()), 0, 0, n)
				}
				if err != nil {
					t.Fatalf("fill the filesystem: %v", err)
				}
			},
			func(t *testing.T, mnt string) {
				if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
					t.Fatal(err)
				}
			},
		},
	} {
		t.Run(fs.name, func(t *testing.T) {
			mnt := fs.mount(t)
			s.diskFullOn(t, mnt, func() { fs.fill(t, mnt) }, func() { fs.room(t, mnt) })
		})
	}
}

func (s *suite) diskFullOn(t *testing.T, mnt string, fill, room func()) {
	dir := filepath.Join(mnt, "store")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// An expired file first (deleted whole where the store has files: no space needed), then
	// about 700 KiB with one expired record first: its rewrite cannot fit beside it.
	const kept = 3300
	segs := [][]byte{
		records("x", 0, 100, testutil.Old),
		slices.Concat(records("y", 0, 1, testutil.Old), records("orig", 0, kept, fresh)),
	}
	f := s.newFixture(t, dir, segs, map[string]int64{"orig": kept}, map[string]int64{"x": 100, "y": 1})
	fill()
	before := f.snapshot(t)
	rep, err := f.store.Compact(context.Background(), backends.Options{})
	if err == nil {
		t.Fatalf("the run succeeded on a full filesystem (report %+v)", rep)
	}
	if !errs.IsNoSpace(err) {
		t.Errorf("error %q does not wrap ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("error %q does not say the disk is full", err)
	}
	f.checkSnapshot(t, before, "after the failed run")
	f.checkClean(t, "after the failed run")
	f.checkNoQuarantine(t, "after the failed run")

	room()
	rep = f.compact(t, "with room again")
	if rep.RecordsDropped != 101 {
		t.Errorf("with room again: dropped %d records, want 101", rep.RecordsDropped)
	}
	c := f.check(t, "with room again")
	f.checkExactly(t, c, nil, "with room again")
	f.checkClean(t, "with room again")
}

// fileState is what a user compares to see whether a file was touched.
type fileState struct {
	ino, size int64
	mtime     time.Time
	mode      os.FileMode
	uid, gid  uint32
	sha       string
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		t.Fatal(err)
	}
	return fileState{ino: int64(st.Ino), size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode(), uid: st.Uid, gid: st.Gid,
		sha: fmt.Sprintf("%x", h.Sum(nil))}
}

// snapshot is the state of every file of the store.
func (f *fixture) snapshot(t *testing.T) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	for _, n := range f.files(t) {
		out[n] = stateOf(t, n)
	}
	return out
}

// checkSnapshot fails unless the store has the same files, each untouched.
func (f *fixture) checkSnapshot(t *testing.T, before map[string]fileState, when string) {
	t.Helper()
	after := f.snapshot(t)
	for n, b := range before {
		a, ok := after[n]
		switch {
		case !ok:
			t.Errorf("%s: %s is gone", when, filepath.Base(n))
		case a != b:
			t.Errorf("%s: %s changed:\n before %+v\n after  %+v", when, filepath.Base(n), b, a)
		}
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			t.Errorf("%s: %s appeared in the store", when, filepath.Base(n))
		}
	}
}

// ownership checks that rewritten files keep the mode, owner and group of the files they
// replace, that a run that cannot keep them fails before changing anything, and that a
// directory the run cannot write to gives a permission error with the store untouched.
func (s *suite) ownership(t *testing.T) {
	// Two files with something to drop: a rotated file (where the store has them) and the
	// active file are both rewritten.
	segs := [][]byte{
		slices.Concat(records("x", 0, 5, testutil.Old), records("a", 0, 50, fresh)),
		slices.Concat(records("y", 0, 5, testutil.Old), records("b", 0, 50, fresh)),
	}
	kept, expired := map[string]int64{"a": 50, "b": 50}, map[string]int64{"x": 5, "y": 5}
	// setup lays out the store in a directory reachable by other users, gives its files
	// mode and owner, and its directory dirMode and dirUID's ownership.
	setup := func(t *testing.T, mode os.FileMode, uid, gid int, dirMode os.FileMode, dirUID int) *fixture {
		t.Helper()
		dir := t.TempDir()
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		f := s.newFixture(t, dir, segs, clone(kept), clone(expired))
		for _, n := range f.files(t) {
			if err := os.Chmod(n, mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(n, uid, gid); err != nil {
				t.Fatal(err)
			}
			if mode&(os.ModeSetgid|os.ModeSetuid) != 0 {
				if err := os.Chmod(n, mode); err != nil { // chown cleared them
					t.Fatal(err)
				}
			}
		}
		// The quarantine directory, made now so that the run's user can write there.
		if err := os.MkdirAll(f.params.Quarantine, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(f.params.Quarantine), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(f.params.Quarantine, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, dirUID, -1); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, dirMode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return f
	}
	root := os.Geteuid() == 0
	me, myGID := os.Geteuid(), os.Getegid()

	// kept checks a successful run: every file replaced kept its mode, owner and group.
	keptAttrs := func(t *testing.T, f *fixture, before map[string]fileState, o outcome) {
		t.Helper()
		if o.Err != "" {
			t.Fatalf("the run failed: %s", o.Err)
		}
		rewritten := 0
		for n, b := range before {
			a := stateOf(t, n)
			if a.ino == b.ino {
				continue
			}
			rewritten++
			if a.mode != b.mode || a.uid != b.uid || a.gid != b.gid {
				t.Errorf("the rewrite of %s changed mode/owner/group: %v %d:%d -> %v %d:%d",
					filepath.Base(n), b.mode, b.uid, b.gid, a.mode, a.uid, a.gid)
			}
		}
		if rewritten == 0 {
			t.Errorf("no file of the store was rewritten")
		}
		c := f.check(t, "after the run")
		f.checkExactly(t, c, nil, "after the run")
		f.checkClean(t, "after the run")
	}
	inProcess := func(t *testing.T, f *fixture) outcome {
		t.Helper()
		rep, err := f.store.Compact(context.Background(), backends.Options{})
		o := outcome{Result: string(rep.Result), Warnings: rep.Warnings}
		if err != nil {
			o.Err, o.Permission = err.Error(), errors.Is(err, fs.ErrPermission)
		}
		return o
	}
	// as runs the store as uid with the given groups in a child process.
	as := func(t *testing.T, f *fixture, uid int, groups ...uint32) outcome {
		t.Helper()
		exe := testutil.Shared(t, os.Args[0]) // the go tool keeps it in a private directory
		// The run's user owns the files: it may take the file leases that prove nobody
		// writes a replaced file any more.
		f.params.DrainTimeout = 5 * time.Second
		return s.startChild(t, f, childOpts{exe: exe, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: groups}}).wait(t)
	}

	t.Run("another user's 0640 store", func(t *testing.T) {
		if !root {
			t.Skip("needs root to give the store another owner")
		}
		f := setup(t, 0o640, 1234, 5678, 0o755, 0)
		keptAttrs(t, f, f.snapshot(t), inProcess(t, f))
	})
	t.Run("0660 store rewritten by its owner in its group", func(t *testing.T) {
		if !root {
			t.Skip("needs root to run as another user")
		}
		f := setup(t, 0o660, 1234, 5678, 0o755, 1234)
		keptAttrs(t, f, f.snapshot(t), as(t, f, 1234, 5678))
	})
	t.Run("setgid and odd mode", func(t *testing.T) {
		f := setup(t, os.ModeSetgid|0o604, me, myGID, 0o755, me)
		keptAttrs(t, f, f.snapshot(t), inProcess(t, f))
	})
	t.Run("group impossible to keep", func(t *testing.T) {
		if !root {
			t.Skip("needs root to make a store whose group its owner is not in")
		}
		f := setup(t, 0o640, 1234, 5678, 0o755, 1234)
		before := f.snapshot(t)
		o := as(t, f, 1234)
		if o.Err == "" {
			t.Fatalf("the run succeeded though the rewritten file cannot get the store's group")
		}
		if !strings.Contains(o.Err, "owner") && !strings.Contains(o.Err, "group") {
			t.Errorf("error %q does not say the owner or group could not be kept", o.Err)
		}
		f.checkSnapshot(t, before, "after the refused run")
		f.checkClean(t, "after the refused run")
	})
	t.Run("read-only directory", func(t *testing.T) {
		// Root ignores directory permissions: as root, run as a user who owns the store but
		// not its directory.
		var f *fixture
		var run func() outcome
		if root {
			f = setup(t, 0o644, 1234, 1234, 0o555, 0)
			run = func() outcome { return as(t, f, 1234) }
		} else {
			f = setup(t, 0o644, me, myGID, 0o555, -1)
			run = func() outcome { return inProcess(t, f) }
		}
		before := f.snapshot(t)
		o := run()
		if o.Err == "" {
			t.Fatalf("the run succeeded in a directory it cannot write to")
		}
		if !o.Permission || !strings.Contains(o.Err, "permission denied") {
			t.Errorf("error %q does not say permission was denied (errors.Is fs.ErrPermission: %v)", o.Err, o.Permission)
		}
		f.checkSnapshot(t, before, "after the refused run")
		if l := f.leftovers(t); len(l) > 0 {
			t.Errorf("left beside the store: %v", l)
		}
	})
}

func clone(m map[string]int64) map[string]int64 { return maps.Clone(m) }
