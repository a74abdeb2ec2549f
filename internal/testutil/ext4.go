package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Ext4 makes an ext4 filesystem of sizeMiB in an image file (no blocks reserved for root),
// mounts it through a loop device on a fresh temporary directory and unmounts it when the
// test ends: a real filesystem with direct I/O and a journal, that fills up. Without root, the tools (mkfs.ext4, mount) or a
// loop device the test is skipped, except under CI=true, where it must work.
func Ext4(t *testing.T, sizeMiB int) string {
	t.Helper()
	Root(t, "mounting an ext4 image")
	mkfs, mount, umount := Tool(t, "mkfs.ext4"), Tool(t, "mount"), Tool(t, "umount")
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
	if out, err := exec.Command(mkfs, "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if out, err := exec.Command(mount, "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		// A container without loop devices: as Tmpfs does without the right to mount.
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount an ext4 image on CI: %v: %s", err, out)
		}
		t.Skipf("cannot mount an ext4 image here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(umount, mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	return mnt
}
