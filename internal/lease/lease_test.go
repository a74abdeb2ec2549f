package lease

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/testutil"
)

// The test binary doubles as a probe run as another user: with PAPYRAD_LEASE_PROBE=FILE it
// reports what a read lease on FILE says and exits.
func TestMain(m *testing.M) {
	if name := os.Getenv("PAPYRAD_LEASE_PROBE"); name != "" {
		f, err := os.Open(name)
		if err == nil {
			var writing bool
			writing, err = OpenForWriting(f)
			if err == nil {
				fmt.Println("writing", writing)
				os.Exit(0)
			}
		}
		switch {
		case errors.Is(err, errs.ErrNoLease):
			fmt.Println("nolease", err)
		default:
			fmt.Println("error", err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newFile(t *testing.T) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(name, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func open(t *testing.T, name string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(name, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadLeaseSeesWritersInThisProcess(t *testing.T) {
	name := newFile(t)
	r := open(t, name, os.O_RDONLY)
	if w, err := OpenForWriting(r); err != nil || w {
		t.Fatalf("no writer: OpenForWriting = %v, %v", w, err)
	}
	// A reader does not count.
	open(t, name, os.O_RDONLY)
	if w, err := OpenForWriting(r); err != nil || w {
		t.Fatalf("a reader only: OpenForWriting = %v, %v", w, err)
	}
	w := open(t, name, os.O_WRONLY|os.O_APPEND)
	if _, err := Take(r, Read); !errors.Is(err, errs.ErrHeld) || !strings.Contains(err.Error(), name) {
		t.Fatalf("with a writer: Take = %v, want ErrHeld naming the file", err)
	}
	w.Close()
	if w, err := OpenForWriting(r); err != nil || w {
		t.Fatalf("writer closed: OpenForWriting = %v, %v", w, err)
	}
}

// TestBreakHoldsTheOpenerBack: a writer opening the file breaks the lease, and its open
// returns only once the lease is released: it is delayed, never refused.
func TestBreakHoldsTheOpenerBack(t *testing.T) {
	name := newFile(t)
	r := open(t, name, os.O_RDONLY)
	l, err := Take(r, Read)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if b, err := l.Broken(); err != nil || b {
		t.Fatalf("fresh lease: Broken = %v, %v", b, err)
	}
	opened := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = f.WriteString("{\"late\": 1}\n")
			f.Close()
		}
		opened <- err
	}()
	for {
		b, err := l.Broken()
		if err != nil {
			t.Fatal(err)
		}
		if b {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-opened:
		t.Fatalf("the writer's open returned (%v) while the lease was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("the writer failed: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	b, _ := os.ReadFile(name)
	if string(b) != "{}\n{\"late\": 1}\n" {
		t.Fatalf("file = %q", b)
	}
}

func TestWriteLease(t *testing.T) {
	name := newFile(t)
	r := open(t, name, os.O_RDONLY)
	other := open(t, name, os.O_RDONLY)
	if _, err := Take(r, Write); !errors.Is(err, errs.ErrHeld) {
		t.Fatalf("with another reader: Take(Write) = %v, want ErrHeld", err)
	}
	other.Close()
	l, err := Take(r, Write)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Downgrade(); err != nil {
		t.Fatal(err)
	}
	// Downgraded: a reader gets in without breaking it, a writer would.
	open(t, name, os.O_RDONLY)
	if b, err := l.Broken(); err != nil || b {
		t.Fatalf("reader after downgrade: Broken = %v, %v", b, err)
	}
}

func TestWriteLeaseBrokenByAReaderCannotBeDowngraded(t *testing.T) {
	name := newFile(t)
	r := open(t, name, os.O_RDONLY)
	l, err := Take(r, Write)
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	go func() {
		f, err := os.Open(name)
		if err == nil {
			f.Close()
		}
		close(opened)
	}()
	for b := false; !b; {
		if b, err = l.Broken(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Downgrade(); !errors.Is(err, errs.ErrHeld) {
		t.Fatalf("Downgrade of a broken write lease = %v, want ErrHeld", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	<-opened
}

// holder starts a shell that opens name for appending and waits; it is killed with the test.
func holder(t *testing.T, name string, attr *syscall.SysProcAttr) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `exec 3>>"$0"; echo ready; read x`, name)
	cmd.SysProcAttr = attr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the writer: %v", err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("writer did not open the file: %q %v", line, err)
	}
}

// TestWritersPapyradCannotSee: a writer running as another user, or in its own PID namespace,
// is invisible to a walk of /proc from a dedicated user or a sidecar; the lease sees both.
func TestWritersPapyradCannotSee(t *testing.T) {
	testutil.Root(t, "writers as another user and in another PID namespace")
	for _, tc := range []struct {
		name string
		attr *syscall.SysProcAttr
	}{
		{"another user", &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: testutil.AppUID, Gid: testutil.AppUID}}},
		{"own PID namespace", &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := newFile(t)
			testutil.Deployment{}.StoreDir(t, filepath.Dir(name))
			if err := os.Chown(name, testutil.AppUID, testutil.AppUID); err != nil {
				t.Fatal(err)
			}
			r := open(t, name, os.O_RDONLY)
			holder(t, name, tc.attr)
			if w, err := OpenForWriting(r); err != nil || !w {
				t.Fatalf("OpenForWriting = %v, %v; want true", w, err)
			}
		})
	}
}

// TestDedicatedUser: papyrad as its own user, not the file's owner, gets a lease only with
// CAP_LEASE (the unit grants it as an ambient capability); without it the answer is
// ErrNoLease, never "nobody writes".
func TestDedicatedUser(t *testing.T) {
	d := testutil.Deploy(t, testutil.AsDedicatedUser)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	probe := testutil.Shared(t, exe)
	dir := t.TempDir()
	d.StoreDir(t, dir)
	name := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(name, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(caps []uintptr) string {
		cmd := d.Papyrad(probe)
		cmd.Env = append(os.Environ(), "PAPYRAD_LEASE_PROBE="+name)
		cmd.SysProcAttr.AmbientCaps = caps
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe: %v: %s", err, out)
		}
		return string(out)
	}
	const capLease = 28
	if got := run(nil); !strings.HasPrefix(got, "nolease") {
		t.Errorf("without CAP_LEASE: %q, want nolease", got)
	}
	if got := run(testutil.UnitCapabilities); got != "writing false\n" {
		t.Errorf("with the unit's capabilities, no writer: %q", got)
	}
	holder(t, name, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID})
	if got := run([]uintptr{capLease}); got != "writing true\n" {
		t.Errorf("with CAP_LEASE alone, a writer in another PID namespace: %q", got)
	}
}
