package testutil

import (
	"os"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size (mount's size= syntax) on a fresh temporary
// directory and unmounts it when the test ends: a real filesystem that fills up. Without the
// privilege to mount the test is skipped, except under CI=true, where mounting must work.
func Tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size+",mode=0755"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a %s tmpfs on CI: %v", size, err)
		}
		t.Skipf("cannot mount a tmpfs here (%v): needs root or CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}
