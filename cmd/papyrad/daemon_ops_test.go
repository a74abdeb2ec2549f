package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonStopSignalTwice: GNU timeout and some supervisors send SIGTERM to the process and
// then to its group, so one stop request arrives twice at once. The two are one graceful stop:
// the daemon waits for its runs (here one that cannot stop until its server lets go, then
// ends) and exits 0; a stop signal more than a second after the first still stops at once
// (stuckStop, in TestDaemonStop).
func TestDaemonStopSignalTwice(t *testing.T) {
	t.Parallel()
	d, release := stuckDaemon(t, time.Minute)
	d.signal(t, syscall.SIGTERM)
	d.signal(t, syscall.SIGTERM)
	d.waitLog(t, 0, 5*time.Second, "the stop", func(e logEntry) bool { return strings.HasPrefix(e.msg(), "stopping") })
	time.Sleep(1200 * time.Millisecond)
	if !d.running() {
		t.Fatalf("two SIGTERMs at once ended the daemon (exit %d) without waiting for its run%s", d.code, d.stopNote())
	}
	release()
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("after the run ended: exit %d, want 0 (a graceful stop)%s", code, d.stopNote())
	}
	d.waitLog(t, 0, time.Second, "the stop", func(e logEntry) bool { return e.msg() == "papyrad stopped" })
	if n := d.count(0, func(e logEntry) bool { return strings.HasPrefix(e.msg(), "second signal") }); n != 0 {
		t.Errorf("the repeated SIGTERM was taken for a second request")
	}
}

// TestDaemonStateDirClaimed: a second daemon on the state directory of a running one refuses to
// start, exit 75, naming the first one's pid, whether its control socket is the same or not;
// the commands that talk to the daemon find its config through PAPYRAD_CONFIG, without flags.
func TestDaemonStateDirClaimed(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: s.store(t, "a"), more: []string{"missing_ok: true"}}}})
	d := startDaemon(t, s)
	pid := "pid " + strconv.Itoa(d.cmd.Process.Pid)

	other := filepath.Join(s.dir, "other.yaml")
	writeFile(t, other, []byte(strings.Replace(string(readFile(t, s.cfg)), "daemon:\n", fmt.Sprintf("daemon:\n  control_socket: %q\n", filepath.Join(s.dir, "other.sock")), 1)))
	for _, cfg := range []string{s.cfg, other} {
		r := papyradWith(t, runOpts{env: daemonEnv(), timeout: 30 * time.Second}, "run", "--config", cfg)
		if r.code != 75 || !strings.Contains(r.stderr, pid) || !strings.Contains(r.stderr, s.state) {
			t.Errorf("a second daemon: want exit 75 naming the state directory and %s\n%s", pid, r)
		}
	}
	if !d.running() {
		t.Fatalf("the first daemon exited (code %d)", d.code)
	}
	r := papyradWith(t, runOpts{env: daemonEnv("PAPYRAD_CONFIG=" + s.cfg), timeout: 30 * time.Second}, "status")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "a: idle") {
		t.Errorf("status with PAPYRAD_CONFIG and no flags: want exit 0 and a's state\n%s", r)
	}
	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	// The claim goes with the daemon.
	d = startDaemon(t, s)
	d.signal(t, syscall.SIGTERM)
	d.wait(t, 20*time.Second)
}
