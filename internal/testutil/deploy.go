package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Mode is one way papyrad is deployed beside an application, each of which the safety tests
// run in: what papyrad can see of the application's processes differs, the stores must not.
type Mode string

const (
	// AsRoot: papyrad runs as root and sees every process.
	AsRoot Mode = "root"
	// AsDedicatedUser: papyrad runs as its own user (the systemd unit's default), in the
	// application's group, with the unit's ambient capabilities; the application runs as
	// another user, whose /proc/<pid>/fd papyrad cannot read.
	AsDedicatedUser Mode = "dedicated-user"
	// InPIDNamespace: papyrad runs in a PID namespace of its own with its own /proc, as a
	// sidecar container does: the application's processes are not there at all.
	InPIDNamespace Mode = "pid-namespace"
)

// Modes lists every deployment, in the order tests run them.
var Modes = []Mode{AsRoot, AsDedicatedUser, InPIDNamespace}

// The identities of the dedicated-user deployment: numeric ids no system account uses.
const (
	PapyradUID = 61001 // papyrad's own user and group
	AppUID     = 61002 // the application's user and group
)

// UnitCapabilities are the ambient capabilities deploy/systemd/papyrad.service grants.
var UnitCapabilities = []uintptr{0 /* CAP_CHOWN */, 3 /* CAP_FOWNER */, 28 /* CAP_LEASE */}

// Deployment is a Mode set up for one test.
type Deployment struct {
	Mode Mode
}

// Deploy prepares mode for t: it needs root (see Root) and, for InPIDNamespace, unshare(1).
func Deploy(t testing.TB, mode Mode) Deployment {
	t.Helper()
	Root(t, "deployment "+string(mode))
	if mode == InPIDNamespace {
		Tool(t, "unshare")
	}
	return Deployment{Mode: mode}
}

// StoreDir makes dir a store directory as the README sets one up: owned by the application,
// group-writable with setgid (2770), so that papyrad writes it through the group.
func (d Deployment) StoreDir(t testing.TB, dir string) {
	t.Helper()
	share(t, filepath.Dir(dir))
	if err := os.Chown(dir, AppUID, AppUID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o770|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
}

// StateDir makes dir papyrad's state directory: owned by papyrad's user in the
// dedicated-user deployment.
func (d Deployment) StateDir(t testing.TB, dir string) {
	t.Helper()
	share(t, filepath.Dir(dir))
	if d.Mode == AsDedicatedUser {
		if err := os.Chown(dir, PapyradUID, PapyradUID); err != nil {
			t.Fatal(err)
		}
	}
}

// PapyradUser returns the uid papyrad runs as in this deployment, the owner of the files it
// writes beside a store.
func (d Deployment) PapyradUser() int {
	if d.Mode == AsDedicatedUser {
		return PapyradUID
	}
	return os.Geteuid()
}

// Papyrad returns a command that runs the program bin (papyrad, or a test binary that acts
// for it) as the deployment runs papyrad. bin must be readable by other users (see Shared).
func (d Deployment) Papyrad(bin string, args ...string) *exec.Cmd {
	switch d.Mode {
	case AsDedicatedUser:
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: PapyradUID, Gid: PapyradUID, Groups: []uint32{AppUID}},
			AmbientCaps: UnitCapabilities,
		}
		return cmd
	case InPIDNamespace:
		return exec.Command("unshare", append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// Application returns a command that runs the program bin as the application runs: as its
// own user, with a umask that keeps the store group-writable.
func (d Deployment) Application(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", append([]string{"-c", `umask 007; exec "$@"`, "sh", bin}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: AppUID, Gid: AppUID}}
	return cmd
}

// Shared copies the program bin into a directory every user can read and returns the copy:
// test binaries and go build outputs live in directories only their owner may enter.
func Shared(t testing.TB, bin string) string {
	t.Helper()
	dir := t.TempDir()
	share(t, dir)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(bin))
	if err := os.WriteFile(out, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// share lets every user through dir and the test's temporary directories above it.
func share(t testing.TB, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); d != "/" && d != tmp; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o005 == 0o005 {
			continue
		}
		if err := os.Chmod(d, fi.Mode().Perm()|0o005); err != nil {
			t.Fatal(err)
		}
	}
}
