package testutil

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeployments checks that each mode hides from papyrad what it claims to: the dedicated
// user cannot read the application's descriptors, the PID namespace does not show its
// processes, and the dedicated user has exactly the unit's capabilities.
func TestDeployments(t *testing.T) {
	for _, mode := range Modes {
		t.Run(string(mode), func(t *testing.T) {
			d := Deploy(t, mode)
			dir := filepath.Join(t.TempDir(), "store")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			d.StoreDir(t, dir)
			store := filepath.Join(dir, "events.ndjson")
			app := d.Application("/bin/sh", "-c", `exec 3>>"$0"; echo ready; read x`, store)
			in, err := app.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out, err := app.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := app.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { in.Close(); _ = app.Process.Kill(); _ = app.Wait() })
			if l, err := bufio.NewReader(out).ReadString('\n'); err != nil || l != "ready\n" {
				t.Fatalf("application did not start: %q %v", l, err)
			}
			fi, err := os.Stat(store)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o660 {
				t.Errorf("the application created its store %v, want group-writable 0660", fi.Mode().Perm())
			}
			// The application's shell is the child of sh -c ... exec: its pid is app's.
			pid := strconv.Itoa(app.Process.Pid)
			probe := d.Papyrad("/bin/sh", "-c", `ls /proc/$0/fd >/dev/null 2>&1 && echo sees; grep CapAmb /proc/self/status; touch "$1/papyrad-was-here"`, pid, dir)
			b, err := probe.CombinedOutput()
			if err != nil {
				t.Fatalf("probe: %v: %s", err, b)
			}
			sees := strings.Contains(string(b), "sees")
			if want := mode == AsRoot; sees != want {
				t.Errorf("papyrad sees the application's descriptors: %v, want %v (%s)", sees, want, b)
			}
			wantCaps := "0000000000000000"
			if mode == AsDedicatedUser {
				wantCaps = "0000000010000009" // CAP_CHOWN, CAP_FOWNER, CAP_LEASE
			}
			if !strings.Contains(string(b), "CapAmb:\t"+wantCaps) {
				t.Errorf("ambient capabilities: %s, want %s", b, wantCaps)
			}
			if _, err := os.Stat(filepath.Join(dir, "papyrad-was-here")); err != nil {
				t.Errorf("papyrad cannot write the store directory: %v", err)
			}
		})
	}
}
