package testutil

import (
	"os"
	"testing"
)

// Root skips a test that needs root (other users, namespaces, mounts), except under CI=true,
// where CI runs as root and a test that quietly did not run would hide a regression.
func Root(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s needs root, and CI runs as root", what)
	}
	tb.Skipf("%s needs root; skipping", what)
}
