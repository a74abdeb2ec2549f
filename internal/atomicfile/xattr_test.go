package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/testutil"
)

// xattrDir returns a directory whose filesystem has user attributes and ACLs, or skips.
func xattrDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(probe)
	if err := unix.Setxattr(probe, "user.probe", []byte("x"), 0); err != nil {
		t.Skipf("no user attributes here: %v", err)
	}
	return dir
}

func getx(t *testing.T, name, attr string) ([]byte, error) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return getXattr(f, attr)
}

// TestCopyXattrs: the new file ends with exactly the old file's ACL and user attributes,
// byte for byte, and its mode keeps the old ACL's mask: what it inherited from the directory's
// default ACL and the attributes the old file lacks are gone.
func TestCopyXattrs(t *testing.T) {
	setfacl := testutil.Tool(t, "setfacl")
	dir := xattrDir(t)
	src := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(src, []byte("x\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(setfacl, "-m", "user:61002:rw-,mask::rw-", src).CombinedOutput(); err != nil {
		t.Fatalf("setfacl: %v: %s", err, out)
	}
	if err := unix.Setxattr(src, "user.origin", []byte{0, 0xff, 'a'}, 0); err != nil {
		t.Fatal(err)
	}
	// The directory gives new files an ACL of its own; the new file also has an attribute of
	// its own.
	if out, err := exec.Command(setfacl, "-d", "-m", "user:61003:r--", dir).CombinedOutput(); err != nil {
		t.Fatalf("setfacl -d: %v: %s", err, out)
	}
	tmp := filepath.Join(dir, ".papyrad.events.ndjson.r1.tmp")
	dst, err := Create(tmp, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := unix.Fsetxattr(int(dst.Fd()), "user.stray", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if err := dst.Chmod(0o660); err != nil {
		t.Fatal(err)
	}
	s, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	calls := record(t, -1)
	if err := CopyXattrs(s, dst); err != nil {
		t.Fatal(err)
	}
	if len(*calls) == 0 || (*calls)[0].op != OpSetxattr || (*calls)[0].name != tmp {
		t.Errorf("operations %v, want setxattr on %s through the seam", *calls, tmp)
	}
	for _, attr := range []string{"system.posix_acl_access", "user.origin"} {
		want, err := getx(t, src, attr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := getx(t, tmp, attr); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %x, %v; want %x", attr, got, err, want)
		}
	}
	if _, err := getx(t, tmp, "user.stray"); !errors.Is(err, unix.ENODATA) {
		t.Errorf("user.stray, which the old file lacks, is still there: %v", err)
	}
	if fi, _ := os.Stat(tmp); fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want 0660 (group bits are the mask rw-)", fi.Mode().Perm())
	}
}

// TestCopyXattrsRefused: an attribute the filesystem refuses fails the copy with an error
// that names it; a file without attributes copies nothing and needs no setxattr.
func TestCopyXattrsRefused(t *testing.T) {
	dir := xattrDir(t)
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(src, nil, 0o644)
	os.WriteFile(dst, nil, 0o644)
	s, _ := os.Open(src)
	defer s.Close()
	d, _ := os.OpenFile(dst, os.O_WRONLY, 0)
	defer d.Close()
	calls := record(t, -1)
	if err := CopyXattrs(s, d); err != nil || len(*calls) != 0 {
		t.Fatalf("a file without attributes: %v, operations %v", err, *calls)
	}
	if err := unix.Setxattr(src, "user.origin", []byte("app"), 0); err != nil {
		t.Fatal(err)
	}
	InjectFaults(t, func(op Op, _ string) error {
		if op == OpSetxattr {
			return syscall.ENOTSUP
		}
		return nil
	})
	err := CopyXattrs(s, d)
	if !errors.Is(err, syscall.ENOTSUP) || !strings.Contains(err.Error(), "user.origin") || !strings.Contains(err.Error(), dst) {
		t.Errorf("error %v, want ENOTSUP naming user.origin and %s", err, dst)
	}
}
