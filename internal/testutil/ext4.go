package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Ext4 makes an ext4 filesystem of sizeMiB in an image file (no blocks reserved for root), mounts it through a loop device
// on a fresh temporary directory and unmounts it when the test ends: a real filesystem with
// direct I/O and a journal, that fills up. Without root or the tools (mkfs.ext4, mount) the
// test is skipped, except under CI=true, where it must work.
func Ext4(t *testing.T, sizeMiB int) string {
	t.Helper()
	need := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("an ext4 filesystem on CI: %s", why)
		}
		t.Skipf("cannot make an ext4 filesystem here: %s", why)
	}
	if os.Geteuid() != 0 {
		need("mounting needs root")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			need(tool + " not found")
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err == nil {
		err = f.Truncate(int64(sizeMiB) << 20)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		need(fmt.Sprintf("mount -o loop: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	return mnt
}
