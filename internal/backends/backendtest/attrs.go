package backendtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/testutil"
)

// attrSegments are two files with something to drop, so that a rotated file (where the store
// has them) and the active file are both rewritten.
func attrSegments() ([][]byte, map[string]int64, map[string]int64) {
	segs := [][]byte{
		slices.Concat(records("x", 0, 5, testutil.Old), records("a", 0, 50, fresh)),
		slices.Concat(records("y", 0, 5, testutil.Old), records("b", 0, 50, fresh)),
	}
	return segs, map[string]int64{"a": 50, "b": 50}, map[string]int64{"x": 5, "y": 5}
}

// xattrs: every file a run rewrites keeps the POSIX ACL and the user.* attribute of the file
// it replaces, byte for byte as getfacl and getfattr show them, and its mode (whose group
// bits are the ACL's mask): a named user keeps rw-, the mask is not widened nor narrowed.
func (s *suite) xattrs(t *testing.T) {
	setfacl, getfacl := testutil.Tool(t, "setfacl"), testutil.Tool(t, "getfacl")
	setfattr, getfattr := testutil.Tool(t, "setfattr"), testutil.Tool(t, "getfattr")
	segs, kept, expired := attrSegments()
	f := s.newFixture(t, t.TempDir(), segs, kept, expired)
	// attrs is what the standard tools show of a file's ACL and extended attributes.
	attrs := func(name string) string {
		t.Helper()
		acl, err := exec.Command(getfacl, "--absolute-names", "--omit-header", name).CombinedOutput()
		if err != nil {
			t.Fatalf("getfacl %s: %v: %s", name, err, acl)
		}
		xa, err := exec.Command(getfattr, "--absolute-names", "--dump", "--match=^user\\.", "--encoding=hex", name).CombinedOutput()
		if err != nil {
			t.Fatalf("getfattr %s: %v: %s", name, err, xa)
		}
		// getfattr's header names the file, which a rewrite does not change.
		return string(acl) + string(xa)
	}
	before := map[string]string{}
	for i, n := range f.files(t) {
		if err := os.Chmod(n, 0o640); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(setfacl, "-m", "user:61002:rw-,mask::rw-", n).CombinedOutput(); err != nil {
			if strings.Contains(string(out), "not supported") {
				t.Skipf("the test directory's filesystem has no ACLs: %s", out)
			}
			t.Fatalf("setfacl %s: %v: %s", n, err, out)
		}
		// A value with a NUL and high bytes: copied as bytes, not as text.
		val := "0x00ff7061707972612d3" + string(rune('0'+i))
		if out, err := exec.Command(setfattr, "-n", "user.papyra.origin", "-v", val, n).CombinedOutput(); err != nil {
			t.Fatalf("setfattr %s: %v: %s", n, err, out)
		}
		before[n] = attrs(n)
		if !strings.Contains(before[n], "user:61002:rw-") || !strings.Contains(before[n], "mask::rw-") || !strings.Contains(before[n], "user.papyra.origin=") {
			t.Fatalf("%s was not set up: %s", n, before[n])
		}
	}
	states := f.snapshot(t)
	if _, err := f.store.Compact(context.Background(), backends.Options{}); err != nil {
		t.Fatalf("the run failed: %v", err)
	}
	rewritten := 0
	for n, b := range before {
		st := stateOf(t, n)
		if st.ino == states[n].ino {
			continue
		}
		rewritten++
		if a := attrs(n); a != b {
			t.Errorf("the rewrite of %s changed its ACL or attributes:\n before %s\n after  %s", filepath.Base(n), b, a)
		}
		if st.mode != states[n].mode || st.uid != states[n].uid || st.gid != states[n].gid {
			t.Errorf("the rewrite of %s changed mode/owner/group: %v %d:%d -> %v %d:%d", filepath.Base(n),
				states[n].mode, states[n].uid, states[n].gid, st.mode, st.uid, st.gid)
		}
	}
	if rewritten != len(before) {
		t.Errorf("%d of the store's %d files were rewritten, want all", rewritten, len(before))
	}
	c := f.check(t, "after the run")
	f.checkExactly(t, c, nil, "after the run")
	f.checkClean(t, "after the run")
}

// xattrRefused: when the filesystem refuses an attribute of the store to the rewritten file
// (EPERM, ENOTSUP), the run fails before its commit with an error naming the store file and
// the attribute, and the store is left exactly as it was.
func (s *suite) xattrRefused(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.ENOTSUP} {
		t.Run(errno.Error(), func(t *testing.T) {
			segs, kept, expired := attrSegments()
			f := s.newFixture(t, t.TempDir(), segs, kept, expired)
			for _, n := range f.files(t) {
				if err := syscall.Setxattr(n, "user.papyra.origin", []byte("app"), 0); err != nil {
					if errors.Is(err, syscall.ENOTSUP) {
						t.Skipf("the test directory's filesystem has no user attributes: %v", err)
					}
					t.Fatal(err)
				}
			}
			before := f.snapshot(t)
			injectFaults(t, func(op atomicfile.Op, _ string) error {
				if op == atomicfile.OpSetxattr {
					return errno
				}
				return nil
			}, f.dir, f.params.Quarantine)
			_, err := f.store.Compact(context.Background(), backends.Options{})
			if err == nil {
				t.Fatal("the run succeeded though the rewritten file could not get the store's attribute")
			}
			if !errors.Is(err, errno) || !strings.Contains(err.Error(), "user.papyra.origin") || !strings.Contains(err.Error(), f.dir) {
				t.Errorf("error %q does not name the attribute and the store, or is not %v", err, errno)
			}
			f.checkSnapshot(t, before, "after the refused run")
			f.checkClean(t, "after the refused run")
		})
	}
}
