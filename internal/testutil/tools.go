package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// Tool returns the path of an outside checker (promtool, ...), skipping the test when it is
// not installed, except under CI=true: CI installs it (.ci/run), so there a missing tool is a
// failure rather than a test that quietly did not run.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		tb.Skipf("%s is not installed; skipping what it checks", name)
	}
	return p
}
