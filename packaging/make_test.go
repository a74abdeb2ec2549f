// Package packaging holds how papyrad is shipped: the Debian package's nfpm description and
// maintainer scripts (nfpm.yaml, deb/) and the OCI image's Containerfile. Its tests run
// `make deb` and `make image` as a release would, then install the package into a scratch
// root and run the image's entrypoint from its unpacked root file system.
package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/testutil"
)

// What the tests build papyrad as: `papyrad version` must print these, set at link time.
const (
	testVersion   = "v9.8.7-1-gdeadbee"
	testRevision  = "deadbeef00112233445566778899aabbccddeeff"
	testBuildDate = "2026-01-02T03:04:05Z"
)

// sbinPath makes sure the tools of a root shell (dpkg's helpers, useradd, chroot) are found.
const sbinPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// makeTarget runs make TARGET in the repository with the build's outputs under dist, and
// returns its output; it fails the test when make fails.
func makeTarget(t *testing.T, dist string, target string, vars ...string) string {
	t.Helper()
	testutil.Tool(t, "make")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := append([]string{"-C", "..", target, "DISTDIR=" + dist, "BIN=" + filepath.Join(dist, "bin", "papyrad"),
		"VERSION=" + testVersion, "REVISION=" + testRevision, "BUILD_DATE=" + testBuildDate}, vars...)
	cmd := exec.CommandContext(ctx, "make", args...)
	cmd.Env = withPath(os.Environ())
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("make %s: %v", target, time.Since(start).Round(time.Millisecond))
	return string(out)
}

// run runs a command and fails the test when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = withPath(os.Environ())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func withPath(environ []string) []string {
	out := []string{"PATH=" + sbinPath + ":" + os.Getenv("PATH")}
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	return out
}

// checkVersion checks what `papyrad version` printed: the values the Makefile linked in.
func checkVersion(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{"papyrad version " + testVersion + "\n", "commit:     " + testRevision + "\n",
		"build date: " + testBuildDate + "\n", "go version: go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("papyrad version: no %q in\n%s", want, out)
		}
	}
}
