package main

// End-to-end tests of the daemon: `papyrad run` started as a subprocess on a config in a temporary
// directory, driven by real signals and by the status and trigger commands over its control
// socket, and checked through its JSON log, its status and the stores it compacts. The systemd
// units in deploy/systemd are checked here too.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/testutil"
)

// TestDaemonScheduledRun: a store on "@every 2s" is compacted by the schedule alone, the run's
// summary line carries the report's figures, the next tick runs again, and the last run is
// recorded in the state directory for catch-up.
func TestDaemonScheduledRun(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	store := s.store(t, "a")
	oldAndFresh(t, store, 500, 200)
	size := stateOf(t, store).size
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: store, schedule: "@every 2s"}}})
	d := startDaemon(t, s)

	e, next := d.waitLog(t, 0, 10*time.Second, "a scheduled run of a", compacted("a"))
	for k, want := range map[string]float64{
		"records_before": 700, "records_after": 200, "records_dropped": 500, "records_quarantined": 0,
		"records_unreclaimed": 0, "bytes_before": float64(size), "files_rewritten": 1, "files_deleted": 0,
	} {
		if got := e.num(k); got != want {
			t.Errorf("summary line: %s = %v, want %v\n%s", k, got, want, e)
		}
	}
	if e.str("result") != "ok" || e.str("backend") != "json" || e.str("level") != "info" {
		t.Errorf("summary line: want result ok, backend json, level info\n%s", e)
	}
	if after := e.num("bytes_after"); after <= 0 || after >= float64(size) {
		t.Errorf("summary line: bytes_after %v, want less than %d\n%s", after, size, e)
	}
	if e.num("duration_seconds") < 0 {
		t.Errorf("summary line: no duration_seconds\n%s", e)
	}
	c := readContents(t, store)
	assertWhole(t, c, "after the scheduled run")
	assertNoExpired(t, c, "after the scheduled run")
	assertComplete(t, c, "orig", 200)
	assertOnlyLock(t, store)

	// The schedule keeps going: the next tick takes the records that expired meanwhile.
	appendFile(t, store, records("later", 0, 50, oldStamp))
	d.waitLog(t, next, 10*time.Second, "a second scheduled run", func(e logEntry) bool {
		return compacted("a")(e) && e.num("records_dropped") == 50
	})
	assertNoExpired(t, readContents(t, store), "after the second run")

	st := d.status(t)["a"]
	if st.State != "idle" && st.State != "running" {
		t.Errorf("status: state %q, want idle", st.State)
	}
	if st.LastRun.IsZero() || st.LastSuccess.IsZero() || st.LastError != "" || st.NextRun.IsZero() {
		t.Errorf("status: want last_run, last_success, next_run and no last_error: %+v", st)
	}
	var runs struct {
		LastRun map[string]time.Time `json:"last_run"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(s.state, "runs.json")), &runs); err != nil {
		t.Fatalf("runs.json: %v", err)
	}
	if time.Since(runs.LastRun["a"]) > time.Minute {
		t.Errorf("runs.json: last run of a %v, want within the last minute", runs.LastRun["a"])
	}
}

// TestDaemonWindowDefers: a tick outside every window is deferred, not run and not dropped;
// SIGUSR1 runs it anyway.
func TestDaemonWindowDefers(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	store := s.store(t, "a")
	oldAndFresh(t, store, 300, 100)
	before := stateOf(t, store)
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: store, schedule: "* * * * * *", windows: []string{closedWindow(time.Now())}}}})
	d := startDaemon(t, s)

	st := d.waitStatus(t, "a", 10*time.Second, "pending for the window", func(s storeStatus) bool {
		return s.State == "pending" && s.DeferReason == "window"
	})
	if st.DeferredSince.IsZero() || time.Since(st.DeferredSince) > time.Minute {
		t.Errorf("status: deferred_since %v, want a moment ago", st.DeferredSince)
	}
	d.waitLog(t, 0, 5*time.Second, "the deferral", func(e logEntry) bool {
		return e.msg() == "run deferred" && e.str("store") == "a" && e.str("reason") == "window"
	})
	time.Sleep(2 * time.Second) // two more ticks, coalesced into the pending request
	if n := d.count(0, compacted("a")); n != 0 {
		t.Fatalf("the store was compacted outside its window (%d runs)", n)
	}
	assertUnchanged(t, store, before)

	// SIGUSR1 bypasses the window.
	mark := len(d.logs())
	d.signal(t, syscall.SIGUSR1)
	e, _ := d.waitLog(t, mark, 10*time.Second, "the run SIGUSR1 asked for", compacted("a"))
	if e.num("records_dropped") != 300 {
		t.Errorf("SIGUSR1 run dropped %v records, want 300\n%s", e.num("records_dropped"), e)
	}
	c := readContents(t, store)
	assertWhole(t, c, "after SIGUSR1")
	assertNoExpired(t, c, "after SIGUSR1")
	assertComplete(t, c, "orig", 100)
}

// TestDaemonTrafficDefers: while an application appends fast the run waits, and status says
// why; once it stops, the run happens and nothing it wrote is lost.
func TestDaemonTrafficDefers(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	store := s.store(t, "a")
	oldAndFresh(t, store, 300, 100)
	w := startWriter(t, store, "A", "append", time.Millisecond)
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: store, schedule: "@every 2s",
		more: []string{"traffic: {sample: 1s, max_records_per_second: 50}"}}}})
	d := startDaemon(t, s)

	d.waitStatus(t, "a", 15*time.Second, "pending for traffic", func(s storeStatus) bool {
		return s.State == "pending" && s.DeferReason == "traffic"
	})
	d.waitLog(t, 0, 5*time.Second, "the deferral", func(e logEntry) bool {
		return e.msg() == "run deferred" && e.str("store") == "a" && e.str("reason") == "traffic"
	})
	if n := d.count(0, compacted("a")); n != 0 {
		t.Fatalf("the store was compacted under traffic (%d runs)", n)
	}

	mark := len(d.logs())
	n := w.stop(t)
	e, _ := d.waitLog(t, mark, 15*time.Second, "the run once the writer stopped", compacted("a"))
	if e.num("records_dropped") != 300 {
		t.Errorf("run dropped %v records, want 300\n%s", e.num("records_dropped"), e)
	}
	c := readContents(t, store)
	assertWhole(t, c, "after the run")
	assertNoExpired(t, c, "after the run")
	assertComplete(t, c, "orig", 100)
	assertComplete(t, c, "A", n)
}

// TestDaemonDiskRefuses: a reserve no filesystem has refuses every run, scheduled or forced by
// SIGUSR1 or trigger, and the store is never touched.
func TestDaemonDiskRefuses(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	store := s.store(t, "a")
	oldAndFresh(t, store, 300, 100)
	before := stateOf(t, store)
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: store, schedule: "@every 2s",
		more: []string{"disk: {reserve: 1PiB}"}}}})
	d := startDaemon(t, s)

	d.waitStatus(t, "a", 10*time.Second, "pending for disk", func(s storeStatus) bool {
		return s.State == "pending" && s.DeferReason == "disk"
	})
	assertUnchanged(t, store, before)
	assertOnlyLock(t, store)

	for _, force := range []struct {
		name string
		do   func()
	}{
		{"SIGUSR1", func() { d.signal(t, syscall.SIGUSR1) }},
		{"trigger", func() {
			if r := ctl(t, "trigger", "--config", s.cfg, "a"); r.code != 0 {
				t.Fatalf("trigger: want exit 0\n%s", r)
			}
		}},
	} {
		mark := len(d.logs())
		force.do()
		d.waitLog(t, mark, 10*time.Second, "the refusal of the run "+force.name+" asked for", diskRefused("a"))
		if n := d.count(mark, compacted("a")); n != 0 {
			t.Fatalf("%s forced a run past the disk guard", force.name)
		}
		st := d.waitStatus(t, "a", 5*time.Second, "pending for disk", func(s storeStatus) bool { return s.State == "pending" })
		if st.DeferReason != "disk" {
			t.Errorf("after %s: status reason %q, want disk", force.name, st.DeferReason)
		}
		assertUnchanged(t, store, before)
		assertOnlyLock(t, store)
	}
}

// TestDaemonReload: SIGHUP with a broken file keeps the running config (and the daemon keeps
// compacting); with a valid file it applies it. The systemd notifications go with it: READY,
// WATCHDOG at half the interval, RELOADING then READY around a reload, STOPPING.
func TestDaemonReload(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	a, b := s.store(t, "a"), s.store(t, "b")
	oldAndFresh(t, a, 100, 10)
	oldAndFresh(t, b, 200, 10)
	cfgA := daemonConfig{stores: []daemonStore{{name: "a", path: a, schedule: "@every 2s"}}}
	s.writeConfig(t, cfgA)
	notes := listenNotify(t, filepath.Join(s.dir, "notify.sock"))
	d := startDaemon(t, s, "NOTIFY_SOCKET="+notes.path, "WATCHDOG_USEC=1000000")
	notes.wait(t, "READY=1", 5*time.Second)
	_, mark := d.waitLog(t, 0, 10*time.Second, "the first run of a", compacted("a"))

	// A broken file: the daemon says so and keeps the running config.
	writeFile(t, s.cfg, []byte(cfgA.yamlWithState(s.state)+"    no_such_key: 1\n"))
	d.signal(t, syscall.SIGHUP)
	e, mark := d.waitLog(t, mark, 5*time.Second, "the failed reload", func(e logEntry) bool { return e.msg() == "reload failed: keeping the running configuration" })
	if !strings.Contains(e.str("error"), "no_such_key") || e.str("level") != "error" {
		t.Errorf("reload failure line: want level error naming the bad key\n%s", e)
	}
	notes.wait(t, "RELOADING=1", 5*time.Second)
	appendFile(t, a, records("later", 0, 30, oldStamp))
	d.waitLog(t, mark, 10*time.Second, "a run after the failed reload", func(e logEntry) bool {
		return compacted("a")(e) && e.num("records_dropped") == 30
	})
	// With the file broken, `status --config` cannot find the socket; --socket can.
	st := decodeStatus(t, ctl(t, "status", "--socket", s.socket(), "--json"))
	if _, ok := st["b"]; ok || len(st) != 1 {
		t.Errorf("after a failed reload the stores are %v, want only a", st)
	}

	// A valid file adding b: b is compacted on its schedule.
	s.writeConfig(t, daemonConfig{stores: []daemonStore{cfgA.stores[0], {name: "b", path: b, schedule: "@every 2s"}}})
	mark = len(d.logs())
	d.signal(t, syscall.SIGHUP)
	e, mark = d.waitLog(t, mark, 5*time.Second, "the reload", func(e logEntry) bool { return e.msg() == "configuration reloaded" })
	if e.num("stores") != 2 {
		t.Errorf("reload: %v stores, want 2\n%s", e.num("stores"), e)
	}
	e, _ = d.waitLog(t, mark, 10*time.Second, "a run of the added store", compacted("b"))
	if e.num("records_dropped") != 200 {
		t.Errorf("b: dropped %v, want 200", e.num("records_dropped"))
	}
	if st := d.status(t); len(st) != 2 {
		t.Errorf("status after the reload lists %d stores, want 2: %v", len(st), st)
	}
	if n := notes.count("WATCHDOG=1"); n < 2 {
		t.Errorf("%d watchdog pings with WATCHDOG_USEC=1s over several seconds, want one every 0.5s", n)
	}
	if got := notes.all(); !inOrder(got, "READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1") {
		t.Errorf("notifications %q: want READY, then RELOADING and READY for each reload", got)
	}
	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0%s", code, d.stopNote())
	}
	notes.wait(t, "STOPPING=1", time.Second)
}

// TestDaemonReloadApplies: what a reload changes applies to requests already waiting, and a
// change to the daemon section either applies or is said to need a restart.
func TestDaemonReloadApplies(t *testing.T) {
	t.Parallel()
	// A store deferred for its window; the reload opens it ("windows: []"): the waiting
	// request runs now, not when the old window would have opened, two hours later.
	t.Run("windows of a deferred store", func(t *testing.T) {
		t.Parallel()
		s := newDaemonSetup(t)
		store := s.store(t, "a")
		oldAndFresh(t, store, 100, 10)
		c := daemonConfig{stores: []daemonStore{{name: "a", path: store, schedule: "@every 1s", windows: []string{closedWindow(time.Now())}}}}
		s.writeConfig(t, c)
		d := startDaemon(t, s)
		d.waitStatus(t, "a", 10*time.Second, "pending for the window", func(s storeStatus) bool { return s.DeferReason == "window" })
		c.stores[0].windows = nil
		s.writeConfig(t, c)
		mark := len(d.logs())
		d.signal(t, syscall.SIGHUP)
		d.waitLog(t, mark, 5*time.Second, "the reload", func(e logEntry) bool { return e.msg() == "configuration reloaded" })
		if !waitCount(d, mark, compacted("a"), 5*time.Second) {
			t.Errorf("the reload removed the store's windows, yet its waiting run did not happen: %+v", d.status(t)["a"])
		}
	})
	// The time zone moves so that a window closed in UTC is open in the new zone; the reload
	// also starts the ticks, so that no request deferred under the old zone is waiting.
	t.Run("daemon timezone", func(t *testing.T) {
		t.Parallel()
		s := newDaemonSetup(t)
		store := s.store(t, "a")
		oldAndFresh(t, store, 100, 10)
		c := daemonConfig{stores: []daemonStore{{name: "a", path: store, windows: []string{closedWindow(time.Now())}}}}
		s.writeConfig(t, c)
		d := startDaemon(t, s)
		c.stores[0].schedule = "@every 1s"
		// Etc/GMT-2 is UTC+2: there the window opened a moment ago.
		y := strings.Replace(c.yamlWithState(s.state), "timezone: UTC", "timezone: Etc/GMT-2", 1)
		writeFile(t, s.cfg, []byte(y))
		mark := len(d.logs())
		d.signal(t, syscall.SIGHUP)
		d.waitLog(t, mark, 5*time.Second, "the reload", func(e logEntry) bool { return e.msg() == "configuration reloaded" })
		said := func(e logEntry) bool { return strings.Contains(e.String(), "restart") }
		if !waitCount(d, mark, func(e logEntry) bool { return compacted("a")(e) || said(e) }, 5*time.Second) {
			t.Errorf("a reload changed daemon.timezone: the store's window is open in the new zone, yet the store is %+v, and the log does not say that the change needs a restart",
				d.status(t)["a"])
		}
	})
}

// inOrder reports whether want appears in got as a subsequence (of the messages' first lines).
func inOrder(got []string, want ...string) bool {
	i := 0
	for _, g := range got {
		first, _, _ := strings.Cut(g, "\n")
		if i < len(want) && first == want[i] {
			i++
		}
	}
	return i == len(want)
}

// notifySocket stands in for systemd's notification socket.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T, path string) *notifySocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return n
}

func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.msgs)
}

func (n *notifySocket) count(prefix string) int {
	c := 0
	for _, m := range n.all() {
		if strings.HasPrefix(m, prefix) {
			c++
		}
	}
	return c
}

func (n *notifySocket) wait(t *testing.T, prefix string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for n.count(prefix) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %q notification within %v; got %q", prefix, timeout, n.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDaemonControl: status and trigger over the control socket, their exit codes, and the
// socket's mode.
func TestDaemonControl(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	store := s.store(t, "a")
	oldAndFresh(t, store, 100, 10)
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: store, windows: []string{closedWindow(time.Now())}}}})

	for _, args := range [][]string{{"status", "--config", s.cfg}, {"trigger", "--config", s.cfg, "a"}} {
		if r := ctl(t, args...); r.code != 75 || !strings.Contains(r.stderr, "no papyrad daemon") {
			t.Errorf("without a daemon: want exit 75 and a clear message\n%s", r)
		}
	}

	d := startDaemon(t, s)
	fi, err := os.Lstat(s.socket())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("control socket %s has mode %v, want a socket with mode 0660", s.socket(), fi.Mode())
	}

	st := d.status(t)["a"]
	if st.State != "idle" || st.NextRun.IsZero() || !st.LastRun.IsZero() {
		t.Errorf("status: want a idle, a next run and no last run: %+v", st)
	}
	if r := ctl(t, "status", "--config", s.cfg); r.code != 0 || !strings.HasPrefix(r.stdout, "a: idle") || !strings.Contains(r.stdout, "next run") {
		t.Errorf("status: want \"a: idle\" and its next run\n%s", r)
	}
	if r := ctl(t, "trigger", "--config", s.cfg, "nosuch"); r.code != 64 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("trigger of an unknown store: want exit 64 naming it\n%s", r)
	}
	// trigger bypasses the closed window.
	r := ctl(t, "trigger", "--config", s.cfg, "a")
	if r.code != 0 || !strings.Contains(r.stdout, "triggered: a") {
		t.Errorf("trigger a: want exit 0\n%s", r)
	}
	e, _ := d.waitLog(t, 0, 10*time.Second, "the triggered run", compacted("a"))
	if e.num("records_dropped") != 100 {
		t.Errorf("triggered run dropped %v, want 100", e.num("records_dropped"))
	}
	d.waitStatus(t, "a", 5*time.Second, "the triggered run as the last", func(s storeStatus) bool {
		return s.State == "idle" && !s.LastRun.IsZero() && !s.LastSuccess.IsZero()
	})
	if st := decodeStatus(t, ctl(t, "status", "--socket", s.socket(), "--json")); st["a"].LastRun.IsZero() {
		t.Errorf("status --socket: want store a with its last run: %+v", st)
	}
	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0%s", code, d.stopNote())
	}
	if _, err := os.Lstat(s.socket()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the control socket is left after the daemon stopped: %v", err)
	}
	if r := ctl(t, "status", "--config", s.cfg); r.code != 75 {
		t.Errorf("status after the daemon stopped: want exit 75\n%s", r)
	}
}

// TestDaemonCatchUp: a store whose last recorded run is older than a tick that passed while
// the daemon was down runs once at start; a store never run before does not.
func TestDaemonCatchUp(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	a, b := s.store(t, "a"), s.store(t, "b")
	oldAndFresh(t, a, 100, 10)
	oldAndFresh(t, b, 100, 10)
	beforeB := stateOf(t, b)
	// A daily tick that cannot fall during the test.
	schedule := "0 3 * * *"
	if h := time.Now().UTC().Hour(); h == 2 || h == 3 {
		schedule = "0 15 * * *"
	}
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: a, schedule: schedule}, {name: "b", path: b, schedule: schedule}}})
	if err := os.MkdirAll(s.state, 0o750); err != nil {
		t.Fatal(err)
	}
	threeDaysAgo := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	writeFile(t, filepath.Join(s.state, "runs.json"), fmt.Appendf(nil, `{"last_run": {"a": %q}}`, threeDaysAgo.Format(time.RFC3339)))
	d := startDaemon(t, s)

	e, _ := d.waitLog(t, 0, 10*time.Second, "the catch-up run of a", compacted("a"))
	if e.num("records_dropped") != 100 {
		t.Errorf("catch-up run dropped %v, want 100", e.num("records_dropped"))
	}
	time.Sleep(2 * time.Second)
	if n := d.count(0, compacted("a")); n != 1 {
		t.Errorf("a ran %d times, want once", n)
	}
	if n := d.count(0, func(e logEntry) bool { return e.str("store") == "b" && strings.HasPrefix(e.msg(), "compaction") }); n != 0 {
		t.Errorf("b, never run before, was caught up")
	}
	assertUnchanged(t, b, beforeB)
	st := d.status(t)
	if st["a"].LastRun.Before(threeDaysAgo.Add(time.Hour)) || !st["b"].LastRun.IsZero() {
		t.Errorf("status: a last ran %v (want now), b %v (want never)", st["a"].LastRun, st["b"].LastRun)
	}
	var runs struct {
		LastRun map[string]time.Time `json:"last_run"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(s.state, "runs.json")), &runs); err != nil {
		t.Fatal(err)
	}
	if time.Since(runs.LastRun["a"]) > time.Minute {
		t.Errorf("runs.json: a last ran %v, want now", runs.LastRun["a"])
	}
}

// TestDaemonStop: SIGTERM during a run stops it at a safe point, the process exits 0 within
// shutdown_timeout, and the store is whole with nothing of the run left beside it. A run that
// does not stop is given shutdown_timeout, and a second SIGTERM ends the wait at once.
func TestDaemonStop(t *testing.T) {
	t.Parallel()
	n := int64(150000)
	if testing.Short() {
		n = 50000
	}
	for _, tc := range []struct {
		name  string
		phase string // the hidden file whose appearance says the run is in the phase to interrupt
	}{
		{"while writing the temp file", ".tmp"},
		{"while draining the replaced file", ".old"},
	} {
		// One after the other: a test starved of CPU by a sibling compacting its own store
		// can fail to see a short phase.
		t.Run(tc.name, func(t *testing.T) {
			stopMidRun(t, n, tc.phase)
		})
	}
	t.Run("runs that do not stop", func(t *testing.T) {
		t.Parallel()
		stuckStop(t)
	})
}

// TestDaemonOneSIGTERM: one SIGTERM is one graceful stop, even when it arrives while the
// daemon is busy (here: reloading its config). The process exits 0 and never logs a second
// signal.
func TestDaemonOneSIGTERM(t *testing.T) {
	t.Parallel()
	s := newDaemonSetup(t)
	s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "a", path: s.store(t, "a")}}})
	attempts := 20
	if testing.Short() {
		attempts = 10
	}
	for i := range attempts {
		d := startDaemon(t, s)
		time.Sleep(50 * time.Millisecond)
		d.signal(t, syscall.SIGHUP)
		d.signal(t, syscall.SIGTERM)
		code := d.wait(t, 20*time.Second)
		second := d.count(0, func(e logEntry) bool { return strings.HasPrefix(e.msg(), "second signal") })
		if code != 0 || second != 0 {
			t.Fatalf("attempt %d: one SIGTERM (just after a SIGHUP) ended the daemon with exit %d, and %d \"second signal\" lines", i+1, code, second)
		}
	}
}

func stopMidRun(t *testing.T, n int64, phase string) {
	s := newDaemonSetup(t)
	store := s.store(t, "a")
	oldAndFresh(t, store, n, n)
	const timeout = 20 * time.Second
	s.writeConfig(t, daemonConfig{shutdownTimeout: timeout, stores: []daemonStore{{name: "a", path: store}}})
	w := startWriter(t, store, "A", "append", time.Millisecond)
	var h *writerProc
	if phase == ".old" {
		// The replaced file outlives the commit only while a writer holds it (a lease
		// proves at once that none does): a long-lived writer keeps the drain going.
		h = startWriter(t, store, "H", "hold", 5*time.Millisecond)
	}
	d := startDaemon(t, s)

	d.signal(t, syscall.SIGUSR1)
	if !waitHidden(t, store, phase, 20*time.Second) {
		t.Fatalf("the run never created a %s file beside the store", phase)
	}
	// Taken before the signal: the daemon's clock for shutdown_timeout starts when it gets it.
	sent := time.Now()
	d.signal(t, syscall.SIGTERM)
	code := d.wait(t, timeout+10*time.Second)
	took := d.end.Sub(sent)
	t.Logf("SIGTERM in the %s phase: exit %d after %v", phase, code, took.Round(time.Millisecond))
	if code != 0 || took > timeout {
		t.Errorf("exit %d after %v, want 0 within shutdown_timeout (%v)%s", code, took, timeout, d.stopNote())
	}
	d.waitLog(t, 0, time.Second, "the stop", func(e logEntry) bool { return e.msg() == "papyrad stopped" })
	written := w.stop(t)
	var held int64
	if h != nil {
		held = h.stop(t)
		// What the long-lived writer wrote into the replaced file since the stop is
		// forwarded by the next run's recovery.
		if r := papyrad(t, "compact", "--config", s.cfg); r.code != 0 {
			t.Fatalf("the run after the stop: %s", r)
		}
	}

	c := readContents(t, store)
	assertWhole(t, c, "after the stop")
	assertComplete(t, c, "orig", n)
	assertComplete(t, c, "A", written)
	if h != nil {
		assertComplete(t, c, "H", held)
	}
	switch old := countWriter(c, "old"); old {
	case 0:
		t.Logf("the run committed before it stopped")
	case n:
		t.Logf("the run stopped before its commit")
	default:
		t.Errorf("the store holds %d of the %d expired records: a mix of before and after", old, n)
	}
	assertOnlyLock(t, store)
}

// stuckStop holds the daemon in a stop with a run that cannot stop (stuckDaemon). A single
// SIGTERM then exits non-zero once shutdown_timeout has passed; a second one, more than a
// second after the first, exits at once.
func stuckStop(t *testing.T) {
	variants := []bool{false, true} // a second SIGTERM?
	if testing.Short() {
		variants = variants[1:]
	}
	for _, second := range variants {
		timeout := 2 * time.Second
		if second {
			timeout = time.Minute
		}
		d, _ := stuckDaemon(t, timeout)
		sent := time.Now() // before the signal, as above
		d.signal(t, syscall.SIGTERM)
		signalled := time.Now()
		if !second {
			code := d.wait(t, timeout+10*time.Second)
			took := d.end.Sub(sent)
			if code == 0 || took < timeout || took > timeout+5*time.Second {
				t.Errorf("a stop held by a stuck run: exit %d after %v, want non-zero after shutdown_timeout (%v)%s", code, took, timeout, d.stopNote())
			}
			d.waitLog(t, 0, time.Second, "the timeout", func(e logEntry) bool { return e.msg() == "runs did not stop within shutdown_timeout" })
			continue
		}
		d.waitLog(t, 0, 5*time.Second, "the stop", func(e logEntry) bool { return strings.HasPrefix(e.msg(), "stopping") })
		time.Sleep(time.Until(signalled.Add(1200 * time.Millisecond))) // past the second of a repeated signal
		if !d.running() {
			t.Fatalf("the daemon exited (code %d) on the first SIGTERM with a stuck run%s", d.code, d.stopNote())
		}
		d.signal(t, syscall.SIGTERM)
		sent = time.Now()
		code := d.wait(t, 10*time.Second)
		took := d.end.Sub(sent)
		if code == 0 || took > 2*time.Second {
			t.Errorf("second SIGTERM: exit %d after %v, want non-zero at once", code, took)
		}
		d.waitLog(t, 0, time.Second, "the second signal", func(e logEntry) bool { return e.msg() == "second signal: stopping at once" })
	}
}

// stuckDaemon starts a daemon, with shutdown_timeout timeout, whose one store is running and
// cannot reach a safe point until release is called: a redis store whose server accepts
// connections and never answers (a command's wait for its reply does not end when the run is
// cancelled). release closes the server's connections, which fails the run.
func stuckDaemon(t *testing.T, timeout time.Duration) (d *runningDaemon, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	release = func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(release)
	s := newDaemonSetup(t)
	writeFile(t, s.cfg, fmt.Appendf(nil, "daemon: {state_dir: %q, metrics_listen: \"\", timezone: UTC, shutdown_timeout: %s, log: {level: debug, format: json}}\n"+
		"stores:\n  - {name: r, backend: redis, redis: {url: \"redis://%s/0\"}, retention: {max_age: 1d}, schedule: \"@every 1h\", windows: []}\n",
		s.state, timeout, ln.Addr()))
	d = startDaemon(t, s)
	d.signal(t, syscall.SIGUSR1)
	d.waitStatus(t, "r", 10*time.Second, "the run", func(st storeStatus) bool { return st.State == "running" })
	return d, release
}

// TestDaemonUnits checks the systemd units: the timeouts agree with the daemon's, and
// `systemd-analyze verify` accepts them (a failure under CI=true without it), with ExecStart pointed
// at the binary under test as `make install` points it at the installed one.
func TestDaemonUnits(t *testing.T) {
	t.Parallel()
	src := filepath.Join("..", "..", "deploy", "systemd")
	units := []string{"papyrad.service", "papyrad-compact.service", "papyrad-compact.timer"}
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		b := readFile(t, filepath.Join(src, u))
		if !bytes.Contains(b, []byte("/usr/local/bin/papyrad ")) && strings.HasSuffix(u, ".service") {
			t.Errorf("%s: ExecStart does not run /usr/local/bin/papyrad", u)
		}
		p := filepath.Join(dir, u)
		writeFile(t, p, bytes.ReplaceAll(b, []byte("/usr/local/bin/papyrad"), []byte(papyradBin)))
		paths = append(paths, p)
	}

	svc := unitKeys(t, filepath.Join(src, "papyrad.service"))
	for k, want := range map[string]string{
		"Type": "notify", "ExecReload": "/bin/kill -HUP $MAINPID", "Restart": "on-failure",
		"ExecStart":      "/usr/local/bin/papyrad run --config /etc/papyrad/papyrad.yaml",
		"StateDirectory": "papyrad", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
	} {
		if got := svc[k]; len(got) == 0 || got[len(got)-1] != want {
			t.Errorf("papyrad.service: %s=%v, want %s", k, got, want)
		}
	}
	if _, ok := svc["DynamicUser"]; ok {
		t.Errorf("papyrad.service sets DynamicUser: papyrad needs a stable identity to rewrite the application's files")
	}
	if got := unitDuration(t, svc, "TimeoutStopSec"); got <= config.DefaultShutdownTimeout {
		t.Errorf("papyrad.service: TimeoutStopSec %v is not above the default shutdown_timeout %v", got, config.DefaultShutdownTimeout)
	}
	if got := unitDuration(t, svc, "WatchdogSec"); got <= 0 {
		t.Errorf("papyrad.service: no WatchdogSec")
	}
	timer := unitKeys(t, filepath.Join(src, "papyrad-compact.timer"))
	if got := timer["Persistent"]; len(got) != 1 || got[0] != "true" {
		t.Errorf("papyrad-compact.timer: Persistent=%v, want true", got)
	}
	oneshot := unitKeys(t, filepath.Join(src, "papyrad-compact.service"))
	if got := oneshot["Type"]; len(got) != 1 || got[0] != "oneshot" {
		t.Errorf("papyrad-compact.service: Type=%v, want oneshot", got)
	}

	// Last: without systemd-analyze (outside CI) this skips, after every other check ran.
	analyze := testutil.Tool(t, "systemd-analyze")
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...)
	out, err := cmd.CombinedOutput()
	// verify warns about some problems (unknown keys, bad values) without failing: any line
	// about our units is a failure.
	var complaints []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "papyrad") {
			complaints = append(complaints, l)
		}
	}
	if err != nil || len(complaints) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// unitKeys reads the Key=Value lines of a unit file, every value of each key in order.
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, l := range strings.Split(string(readFile(t, path)), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: not a Key=Value line: %q", path, l)
		}
		m[k] = append(m[k], v)
	}
	return m
}

var unitSeconds = regexp.MustCompile(`^(\d+)(s|min)?$`)

func unitDuration(t *testing.T, keys map[string][]string, k string) time.Duration {
	t.Helper()
	v := keys[k]
	if len(v) == 0 {
		return 0
	}
	m := unitSeconds.FindStringSubmatch(v[len(v)-1])
	if m == nil {
		t.Fatalf("%s=%s: write it in seconds or minutes", k, v[len(v)-1])
	}
	d, _ := time.ParseDuration(m[1] + "s")
	if m[2] == "min" {
		d *= 60
	}
	return d
}

func diskRefused(store string) func(logEntry) bool {
	return func(e logEntry) bool {
		return e.str("store") == store && strings.Contains(e.str("error"), "not enough free disk space")
	}
}

// countWriter returns how many distinct records of writer the store holds.
func countWriter(c *testutil.Contents, writer string) int64 { return spanOf(spans(c), writer).n }

// waitCount waits until a log line from index from on matches.
func waitCount(d *runningDaemon, from int, match func(logEntry) bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d.count(from, match) > 0 {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// waitHidden polls, every millisecond, for a hidden file of a run beside store.
func waitHidden(t *testing.T, store, suffix string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if len(hiddenBeside(store, suffix)) > 0 {
			return true
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}
