package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/papyrad/papyrad/internal/testutil"
)

// fillerStore returns about n bytes of fresh records followed by one corrupt line, so that a
// --no-retention run has to rewrite the whole store.
func fillerStore(n int64) []byte {
	b := records("orig", 0, n/200, fresh)
	return append(b, "{\"kind\": \"event\", \"timestamp\": 41\n"...)
}

// TestDiskFull runs out of space on a real, small filesystem: the run must fail with the
// system's message, leave the store byte for byte as it was and clean up after itself.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	t.Run("store filesystem", func(t *testing.T) {
		// The store fills 70% of the filesystem; its rewrite cannot fit beside it.
		fs := testutil.Tmpfs(t, "1m")
		store := filepath.Join(fs, "events.ndjson")
		writeFile(t, store, fillerStore(700<<10))
		before := stateOf(t, store)
		state := t.TempDir()
		assertFailedFull(t, store, before, state, jsonStore(store, state, "--no-retention"))
		// Once the filesystem has room again, the same run succeeds.
		if err := syscall.Mount("tmpfs", fs, "tmpfs", syscall.MS_REMOUNT|syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m"); err != nil {
			t.Fatalf("grow the tmpfs: %v", err)
		}
		rep, r := compactJSON(t, jsonStore(store, state, "--no-retention")...)
		if r.code != 0 || rep.FilesRewritten != 1 || rep.RecordsQuarantined != 1 || rep.RecordsAfter != rep.RecordsBefore {
			t.Fatalf("with room again: want exit 0, one rewrite, one line quarantined, every record kept\n%s", r)
		}
		assertOnlyLock(t, store)
	})
	t.Run("quarantine filesystem", func(t *testing.T) {
		// The store has room, the quarantine does not: a line that cannot be quarantined
		// must not leave the store.
		qdir := testutil.Tmpfs(t, "64k")
		dir := t.TempDir()
		store := filepath.Join(dir, "events.ndjson")
		b := records("orig", 0, 100, fresh)
		b = append(b, bytes.Repeat([]byte("not json "), 40000)...)
		b = append(b, '\n')
		writeFile(t, store, b)
		before := stateOf(t, store)
		assertFailedFull(t, store, before, qdir, jsonStore(store, t.TempDir(), "--no-retention", "--quarantine-dir", qdir))
	})
}

// assertFailedFull runs `papyrad compact ARGS` on store, whose run cannot find room: it must
// fail with the system's message, leave the store as it was (before) with nothing beside it
// but the lock, and write no quarantine file under quarantine.
func assertFailedFull(t *testing.T, store string, before fileState, quarantine string, args []string) {
	t.Helper()
	rep, r := compactJSON(t, args...)
	if r.code != 1 || rep.Result != "error" {
		t.Fatalf("want exit 1 and result error\n%s", r)
	}
	if !strings.Contains(rep.Error, "no space left on device") {
		t.Errorf("error %q does not say the disk is full", rep.Error)
	}
	assertUnchanged(t, store, before)
	assertOnlyLock(t, store)
	if f := filesUnder(t, quarantine); len(f) > 0 {
		t.Errorf("a failed run left quarantine files: %v", f)
	}
}

// TestOwnership checks that a rewrite keeps the store's mode, owner and group, and fails
// before the commit when it cannot.
func TestOwnership(t *testing.T) {
	t.Parallel()
	root := os.Geteuid() == 0
	// A store with one expired record, so that every run rewrites it.
	content := append(records("old", 0, 1, oldStamp), records("orig", 0, 50, fresh)...)

	// setup prepares a store in its own directory (reachable by other users; dirUID -1
	// keeps the directory's owner) and returns its path.
	setup := func(t *testing.T, mode os.FileMode, uid, gid int, dirMode os.FileMode, dirUID int) string {
		t.Helper()
		dir := t.TempDir()
		// t.TempDir's parent is private to the test's user; open it for the run's user.
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		store := filepath.Join(dir, "events.ndjson")
		writeFile(t, store, content)
		if err := os.Chmod(store, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(store, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, dirUID, -1); dirUID >= 0 && err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, dirMode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return store
	}
	me, myGID := os.Geteuid(), os.Getegid()
	otherGroup := myGID
	if !root {
		if gs, _ := os.Getgroups(); len(gs) > 0 {
			for _, g := range gs {
				if g != myGID {
					otherGroup = g
				}
			}
		}
	}
	// runAs runs papyrad as uid with the given groups (as root), or as the test's user.
	runAs := func(uid int, groups ...uint32) runOpts {
		if !root || uid == 0 {
			return runOpts{}
		}
		return runOpts{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: groups}}
	}

	t.Run("preserved", func(t *testing.T) {
		type tc struct {
			name     string
			mode     os.FileMode
			uid, gid int
			as       runOpts
		}
		cases := []tc{{"mode 0640, own group", 0o640, me, otherGroup, runOpts{}}}
		if root {
			cases = []tc{
				{"root rewrites another user's 0640 store", 0o640, 1234, 5678, runOpts{}},
				{"owner in the store's group", 0o660, 1234, 5678, runAs(1234, 5678)},
				{"setgid and odd mode kept", os.ModeSetgid | 0o604, 1234, 1234, runOpts{}},
			}
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				store := setup(t, c.mode, c.uid, c.gid, 0o755, c.uid)
				before := stateOf(t, store)
				rep, r := compactJSONWith(t, c.as, jsonStore(store, t.TempDir(), "--max-age", "1d")...)
				if r.code != 0 || rep.FilesRewritten != 1 {
					t.Fatalf("want exit 0 and a rewrite\n%s", r)
				}
				after := stateOf(t, store)
				if after.ino == before.ino {
					t.Fatalf("the store was not rewritten")
				}
				if after.mode != before.mode || after.uid != before.uid || after.gid != before.gid {
					t.Errorf("rewrite changed mode/owner/group: %v %d:%d -> %v %d:%d",
						before.mode, before.uid, before.gid, after.mode, after.uid, after.gid)
				}
			})
		}
	})

	t.Run("impossible to preserve", func(t *testing.T) {
		if !root {
			t.Skip("needs root to make a store whose group its owner is not in")
		}
		// Run as the store's owner, who is not in the store's group: the rewritten file
		// cannot get that group, so the run must fail before replacing anything.
		store := setup(t, 0o640, 1234, 5678, 0o755, 1234)
		before := stateOf(t, store)
		rep, r := compactJSONWith(t, runAs(1234), jsonStore(store, t.TempDir(), "--max-age", "1d")...)
		if r.code != 1 || rep.Result != "error" {
			t.Fatalf("want exit 1 and result error\n%s", r)
		}
		if !strings.Contains(rep.Error, "owner") && !strings.Contains(rep.Error, "group") {
			t.Errorf("error %q does not say the owner or group could not be kept", rep.Error)
		}
		assertUnchanged(t, store, before)
		assertOnlyLock(t, store)
	})

	t.Run("read-only directory", func(t *testing.T) {
		// The store is writable, its directory is not: no temp file, no lock file.
		uid, dirOwner := me, -1
		if root {
			// Root ignores directory permissions: run as a user who owns the store
			// but not the directory.
			uid, dirOwner = 1234, 0
		}
		store := setup(t, 0o644, uid, uid, 0o555, dirOwner)
		before := stateOf(t, store)
		rep, r := compactJSONWith(t, runAs(uid), jsonStore(store, t.TempDir(), "--max-age", "1d")...)
		if r.code != 1 || rep.Result != "error" {
			t.Fatalf("want exit 1 and result error\n%s", r)
		}
		if !strings.Contains(rep.Error, "permission denied") {
			t.Errorf("error %q does not say permission was denied", rep.Error)
		}
		assertUnchanged(t, store, before)
		if n := beside(t, store); len(n) > 0 {
			t.Errorf("left beside the store: %v", n)
		}
	})
}
