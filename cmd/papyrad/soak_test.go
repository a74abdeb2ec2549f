package main

// The daemon soak: many stores of both file kinds, live writers of every style, compaction every
// few seconds for minutes, and at the end every record accounted for and the daemon's memory,
// goroutines and descriptors where they were after warm-up.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/testutil"
)

// soakDuration is how long the writers run after warm-up: PAPYRAD_SOAK (a Go duration, `make
// torture` sets 10m), else 10s in `make test`: there the soak shows that the daemon holds its
// footing under load, and `make torture` that nothing leaks over time. It runs alone, so its
// length adds to the package's: on two cores at 2.1 GHz, 20s put make test past 6 minutes.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	if v := os.Getenv("PAPYRAD_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("PAPYRAD_SOAK=%q: want a positive Go duration such as 10m", v)
		}
		return d
	}
	return 10 * time.Second
}

const (
	// soakMaxAge is every store's max_age: short, so that the stores stop growing once the
	// writers have run that long, and the soak measures the daemon on a steady load.
	soakMaxAge       = 20 * time.Second
	soakMaxFiles     = 200 // a rotating store's max_files, and its writer's
	soakExpiredEvery = 10  // a writer stamps every 10th record in 2001
)

// soakStore is one store of the soak and what has been written to it.
type soakStore struct {
	name, backend string
	path          string  // the json file, or the rotating set's --path
	set           *rotSet // rotating stores
	active        string  // the file the test appends to (stores without a writer)
	writer        *writerProc
	rotating      bool      // the writer rotates the set
	written       int64     // the writer's records, seqs 0..written-1, once stopped
	appended      int64     // fresh records "T" the test appended, seqs 0..appended-1
	lastBatch     time.Time // before the last batch was made: its records are stamped later
	expired       int64     // expired records "X" the test appended
}

// soakStores lays out the 50 stores: 30 json and 20 rotating. Ten have a papyrawriter of
// their own (json: three open-append-close, two long-lived handles; rotating: three Papyra
// rotators, two Python logging rotators), each stamping every tenth record expired; the
// others get batches of expired and fresh records from the test.
func soakStores(t *testing.T, s daemonSetup) []*soakStore {
	t.Helper()
	var out []*soakStore
	for i := range 50 {
		st := &soakStore{}
		switch {
		case i < 5 || (i >= 10 && i < 35):
			st.backend, st.name = "json", fmt.Sprintf("j%02d", i)
			st.path = s.store(t, st.name)
			st.active = st.path
			writeFile(t, st.path, slices.Concat(records("old", 0, 100, oldStamp), records("orig", 0, 200, fresh)))
		default:
			st.backend, st.name = "rotating", fmt.Sprintf("r%02d", i)
			naming := testutil.SuffixNaming
			if i >= 45 {
				naming = testutil.SequenceNaming
			}
			st.path = s.store(t, st.name)
			st.set = &rotSet{store: st.path, state: s.state, naming: naming, maxFiles: soakMaxFiles}
			// Oldest first: expired only; expired and fresh; fresh only; the active file.
			slots := []int{3, 2, 1, 0}
			if naming == testutil.SequenceNaming {
				slots = []int{1, 2, 3, 4}
			}
			st.set.put(t, slots[0], records("old", 0, 100, oldStamp), 0o644)
			st.set.put(t, slots[1], slices.Concat(records("old", 100, 50, oldStamp), records("orig", 0, 50, fresh)), 0o644)
			st.set.put(t, slots[2], records("orig", 50, 50, fresh), 0o644)
			st.set.put(t, slots[3], slices.Concat(records("old", 150, 10, oldStamp), records("orig", 100, 10, fresh)), 0o644)
			st.active = st.set.slot(slots[3])
		}
		out = append(out, st)
	}
	return out
}

func (st *soakStore) yaml() string {
	y := fmt.Sprintf("  - name: %s\n    backend: %s\n    path: %q\n", st.name, st.backend, st.path)
	if st.set != nil {
		y += fmt.Sprintf("    rotation: {max_files: %d, naming: %s}\n", soakMaxFiles, st.set.naming)
	}
	return y
}

// soakConfig is the soak's config: every store compacted every schedule, up to 4 at once.
func soakConfig(state, schedule string, stores []*soakStore) string {
	var b strings.Builder
	fmt.Fprintf(&b, `daemon:
  state_dir: %q
  metrics_listen: "127.0.0.1:0"
  timezone: UTC
  max_concurrent: 4
  shutdown_timeout: 30s
  log: {level: info, format: json}
defaults:
  schedule: %q
  windows: []
  min_interval: 0s
  retention: {max_age: %s}
  disk: {reserve: 1MiB, factor: 1.1}
  drain_timeout: 1s
stores:
`, state, schedule, soakMaxAge)
	for _, st := range stores {
		b.WriteString(st.yaml())
	}
	return b.String()
}

// soakSample is what the daemon holds at one moment.
type soakSample struct {
	rss        int64 // VmRSS, bytes
	goroutines int   // go_goroutines
	fds        int   // entries of /proc/PID/fd
}

func (s soakSample) String() string {
	return fmt.Sprintf("RSS %.1f MiB, %d goroutines, %d fds", float64(s.rss)/(1<<20), s.goroutines, s.fds)
}

// sampleDaemon reads the daemon's open descriptors and resident memory from /proc, then its
// goroutines from /metrics (on a connection that is closed after the scrape, so that it is not
// one of the descriptors counted next time).
func sampleDaemon(t *testing.T, pid int, addr string) soakSample {
	t.Helper()
	var s soakSample
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	s.fds = len(fds)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", l, err)
			}
			s.rss = kb << 10
		}
	}
	text := metricsText(t, addr)
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, "go_goroutines "); ok {
			if s.goroutines, err = strconv.Atoi(v); err != nil {
				t.Fatalf("go_goroutines %q: %v", v, err)
			}
		}
	}
	if s.rss == 0 || s.goroutines == 0 {
		t.Fatalf("no VmRSS in /proc/%d/status or no go_goroutines on /metrics", pid)
	}
	return s
}

// quiet switches the daemon to a schedule that does not fire during the test (SIGHUP), waits
// until no store is running or waiting, and samples it three times a little apart: the
// smallest figures of the three are its footprint at rest. The soak's schedule is put back
// with resume.
func quiet(t *testing.T, d *runningDaemon, s daemonSetup, stores []*soakStore, addr string) soakSample {
	t.Helper()
	writeFile(t, s.cfg, []byte(soakConfig(s.state, "@every 1h", stores)))
	d.signal(t, syscall.SIGHUP)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := d.status(t)
		busy := 0
		for _, x := range st {
			if x.State != "idle" || time.Until(x.NextRun) < 30*time.Minute {
				busy++
			}
		}
		if busy == 0 && len(st) == len(stores) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not come to rest within 2 minutes of the reload: %d stores busy or still on the soak schedule", busy)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var best soakSample
	for i := range 3 {
		time.Sleep(300 * time.Millisecond)
		x := sampleDaemon(t, d.cmd.Process.Pid, addr)
		if i == 0 {
			best = x
		}
		best.rss, best.goroutines, best.fds = min(best.rss, x.rss), min(best.goroutines, x.goroutines), min(best.fds, x.fds)
	}
	return best
}

// resume puts the soak's schedule back.
func resume(t *testing.T, d *runningDaemon, s daemonSetup, stores []*soakStore, schedule string) {
	t.Helper()
	writeFile(t, s.cfg, []byte(soakConfig(s.state, schedule, stores)))
	d.signal(t, syscall.SIGHUP)
}

// waitAllRan waits until every store has finished a run since after (its last_run is later).
func waitAllRan(t *testing.T, d *runningDaemon, stores []*soakStore, after time.Time, timeout time.Duration, what string) map[string]storeStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := d.status(t)
		var behind []string
		for _, x := range stores {
			if !st[x.name].LastRun.After(after) {
				behind = append(behind, x.name)
			}
		}
		if len(behind) == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d stores have not run within %v: %v", what, len(behind), timeout, behind)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// latestRun is the latest last_run of a status.
func latestRun(st map[string]storeStatus) time.Time {
	var latest time.Time
	for _, x := range st {
		if x.LastRun.After(latest) {
			latest = x.LastRun
		}
	}
	return latest
}

// appendBatch appends, in one O_APPEND write as Papyra would, n expired records "X" and n
// fresh ones "T" to the store's active file.
func (st *soakStore) appendBatch(n int64) error {
	made := time.Now()
	b := slices.Concat(records("X", st.expired, n, oldStamp), records("T", st.appended, n, fresh))
	f, err := os.OpenFile(st.active, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("append to %s: %w", st.active, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	st.expired += n
	st.appended += n
	st.lastBatch = made
	return nil
}

// verify checks one store after the soak. The final runs all started after stopped and had
// all ended by done; each dropped what was older than soakMaxAge when it ran. So every record
// left must be younger than soakMaxAge at stopped (the setup's records, the test's expired
// ones and a writer's every tenth are gone), and each writer's records must be a whole run of
// its latest ones, each once: from the first left, which must have been dropped soon after
// done had the runs gone on, to the last written. Nothing of papyrad's may be beside it but
// its lock. It returns the records checked.
func (st *soakStore) verify(t *testing.T, stopped, done, lastRun time.Time) int {
	t.Helper()
	var c *testutil.Contents
	if st.set != nil {
		c = st.set.read(t).Contents
		st.set.assertClean(t)
	} else {
		c = readContents(t, st.path)
		assertOnlyLock(t, st.path)
	}
	when := "store " + st.name + " after the soak"
	assertWhole(t, c, when)
	cutoff := float64(stopped.Add(-soakMaxAge).UnixMicro())/1e6 - 0.001
	var old []string
	for k, ts := range c.Stamp {
		if ts < cutoff {
			old = append(old, fmt.Sprintf("%s at %.3f", k, ts))
		}
	}
	if len(old) > 0 {
		slices.Sort(old)
		t.Errorf("%s: %d records older than max_age (before %.3f) at the final runs are left, e.g. %v", when, len(old), cutoff, old[:min(len(old), 5)])
	}
	n := soakLatest(t, c, when, "T", st.appended, 0, done, st.lastBatch, lastRun)
	if st.writer != nil {
		n += soakLatest(t, c, when, st.writer.name, st.written, soakExpiredEvery, done, time.Time{}, lastRun)
	}
	if len(c.Count) != n {
		t.Errorf("%s: %d distinct records, want the %d latest of the test's and the writer's", when, len(c.Count), n)
	}
	return len(c.Count)
}

// soakLatest checks that the records of writer in c (seqs 0..written-1, every expiredEvery-th
// stamped expired when expiredEvery > 0) are exactly its latest ones but the expired: a
// contiguous run of seqs ending at the last written, none missing in between, and none more
// that the final runs, ended by done, should have kept (the record before the first left
// would have been younger than soakMaxAge then). Unless the store's last run ended (lastRun)
// max_age or more after newest (a time before the last of them was stamped; zero if not
// known), some must be left. It returns how many are left.
func soakLatest(t *testing.T, c *testutil.Contents, when, writer string, written, expiredEvery int64, done, newest, lastRun time.Time) int {
	t.Helper()
	expired := func(seq int64) bool { return expiredEvery > 0 && seq%expiredEvery == expiredEvery-1 }
	first := int64(-1)
	for seq := range written {
		if !expired(seq) && c.Count[testutil.Key{Writer: writer, Seq: seq}] > 0 {
			first = seq
			break
		}
	}
	if first < 0 {
		switch {
		case written == 0:
		case !newest.IsZero() && lastRun.Sub(newest) >= soakMaxAge:
			// On a loaded machine the final runs can end more than max_age after the last
			// batch: then every record of it has expired, rightly.
			t.Logf("%s: none of the %d records of %s is left: the store's last run ended %v after its newest was made, past max_age",
				when, written, writer, lastRun.Sub(newest).Round(time.Millisecond))
		default:
			t.Errorf("%s: none of the %d records of %s is left, yet the last were written just before the final runs", when, written, writer)
		}
		return 0
	}
	var missing []int64
	left := 0
	for seq := first; seq < written; seq++ {
		switch {
		case expired(seq):
		case c.Count[testutil.Key{Writer: writer, Seq: seq}] == 0:
			missing = append(missing, seq)
		default:
			left++
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: %s's records from seq %d to %d are left but for %d of them (first %v): kept records lost",
			when, writer, first, written-1, len(missing), missing[:min(len(missing), 5)])
	}
	// The record before the first left was dropped by a run that ended by done: it was older
	// than soakMaxAge then, and the first left is at most a batch interval younger.
	if ts := c.Stamp[testutil.Key{Writer: writer, Seq: first}]; first > 0 && ts > float64(done.Add(-soakMaxAge+5*time.Second).UnixMicro())/1e6 {
		t.Errorf("%s: %s's oldest record left, seq %d, is %.1fs old at the end of the final runs: the runs dropped younger records than max_age (%v)",
			when, writer, first, float64(done.UnixMicro())/1e6-ts, soakMaxAge)
	}
	return left
}

// TestDaemonSoak runs the daemon over 50 stores (30 json, 20 rotating, five of them in sequence
// naming) with 10 papyrawriter processes of every style appending and the test adding batches
// to the other 40, compacting every store every 3 seconds, 4 at a time, for soakDuration. With
// a max_age of 20 seconds the stores stop growing once the writers have run that long: the load
// is steady from the end of the warm-up on, and a daemon that holds on to memory, goroutines or
// descriptors shows it. At the end, with the writers stopped and two more runs of every store,
// each store holds exactly every writer's latest records, each once, and nothing older than
// max_age nor expired, with nothing left beside it; the quarantine is empty; `papyrad scan`
// finds nothing; no run failed; every store had its share of the runs; and the daemon's
// resident memory, goroutines and open descriptors at rest are what they were at rest after
// warm-up.
//
// Not parallel: it runs alone in this package, before the parallel tests start. Its final runs
// must come within max_age of the writers' last records, and under the kill loops' load they
// did not always.
func TestDaemonSoak(t *testing.T) {
	soak := soakDuration(t)
	const schedule = "*/3 * * * * *"
	s := newDaemonSetup(t)
	stores := soakStores(t, s)
	writeFile(t, s.cfg, []byte(soakConfig(s.state, schedule, stores)))

	for i, st := range stores[:10] {
		args := []string{"-path", st.path, "-expired-every", strconv.Itoa(soakExpiredEvery)}
		switch {
		case i < 3:
			args = append(args, "-mode", "append", "-interval", "10ms")
		case i < 5:
			args = append(args, "-mode", "hold", "-interval", "10ms")
		case i < 8:
			args = append(args, "-mode", "papyra", "-max-bytes", "65536", "-max-files", strconv.Itoa(soakMaxFiles), "-rate", "100")
			st.rotating = true
		default:
			args = append(args, "-mode", "logging", "-max-bytes", "65536", "-max-files", strconv.Itoa(soakMaxFiles), "-rate", "100")
			st.rotating = true
		}
		st.writer = startWriterProc(t, "W"+st.name, args...)
	}
	start := time.Now()
	d := startDaemon(t, s)
	addr := d.metricsAddr(t)

	// The test's batches: every second, 5 expired and 5 fresh records to each store without a
	// writer, until stopAppending is closed.
	stopAppending := make(chan struct{})
	appendErr := make(chan error, 1)
	var appenders sync.WaitGroup
	appenders.Add(1)
	go func() {
		defer appenders.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopAppending:
				return
			case <-tick.C:
			}
			for _, st := range stores[10:] {
				if err := st.appendBatch(5); err != nil {
					appendErr <- err
					return
				}
			}
		}
	}()
	stop := sync.OnceFunc(func() { close(stopAppending); appenders.Wait() })
	t.Cleanup(stop)

	// Warm-up: the writers have run for max_age (and a little more), so the stores no longer
	// grow, and every store has run twice since.
	time.Sleep(time.Until(start.Add(soakMaxAge + 5*time.Second)))
	first := waitAllRan(t, d, stores, time.Now(), 2*time.Minute, "warm-up")
	waitAllRan(t, d, stores, latestRun(first), 2*time.Minute, "warm-up")
	warm := time.Since(start)
	before := quiet(t, d, s, stores, addr)
	t.Logf("after warm-up (%v), at rest: %s; the stores hold %s", warm.Round(time.Second), before, soakBytes(t, s))
	resume(t, d, s, stores, schedule)

	// The soak. A line of figures every tenth of it (at least every minute).
	every := min(soak/10, time.Minute)
	soakStart := time.Now()
	for time.Since(soakStart) < soak {
		select {
		case err := <-appendErr:
			t.Fatalf("the test's batches: %v", err)
		case <-d.exited:
			t.Fatalf("the daemon exited (code %d) during the soak", d.code)
		case <-time.After(min(every, soak-time.Since(soakStart))):
		}
		text := metricsText(t, addr)
		x := sampleDaemon(t, d.cmd.Process.Pid, addr)
		t.Logf("soak %v: %s; runs ok %.0f, failed %.0f; records dropped %.0f", time.Since(soakStart).Round(time.Second), x,
			sumSeries(text, "papyrad_runs_total", `result="ok"`), sumSeries(text, "papyrad_runs_total", `result="error"`),
			sumSeries(text, "papyrad_records_dropped_total"))
		for _, st := range stores[:10] {
			if err := st.writer.Alive(); err != nil {
				t.Fatalf("writer %s died during the soak: %v", st.writer.name, err)
			}
		}
	}

	// The end: writers and batches stop, every store runs twice more (a run that ends after a
	// moment started after it only if it is the second to end), then the daemon comes to rest.
	stop()
	select {
	case err := <-appendErr:
		t.Fatalf("the test's batches: %v", err)
	default:
	}
	for _, st := range stores[:10] {
		if !st.rotating {
			st.written = st.writer.stop(t)
			continue
		}
		var rs rotStats
		st.written, rs = (&rotWriter{writerProc: st.writer}).stop(t)
		if rs.deleted > 0 {
			t.Fatalf("writer %s removed %d segments of its own (its set was full): its records cannot all be accounted for", st.writer.name, rs.deleted)
		}
	}
	stopped := time.Now()
	if r := ctl(t, "trigger", "--config", s.cfg); r.code != 0 {
		t.Fatalf("trigger: want exit 0\n%s", r)
	}
	first = waitAllRan(t, d, stores, stopped, 2*time.Minute, "the runs after the writers stopped")
	final := waitAllRan(t, d, stores, latestRun(first), 2*time.Minute, "the final runs")
	for _, st := range stores {
		if e := final[st.name].LastError; e != "" {
			t.Errorf("store %s: the final run failed: %s", st.name, e)
		}
	}
	after := quiet(t, d, s, stores, addr)
	done := time.Now()    // every run has ended
	atRest := d.status(t) // when each store's last run ended
	text := metricsText(t, addr)
	runsOK := sumSeries(text, "papyrad_runs_total", `result="ok"`) + sumSeries(text, "papyrad_runs_total", `result="pending"`)
	runsFailed := sumSeries(text, "papyrad_runs_total", `result="error"`)
	t.Logf("at rest after %v of soak: %s (after warm-up: %s); the stores hold %s; %.0f runs ok, %.0f failed, %.0f records dropped, %.0f files rewritten, %.0f deleted",
		soak, after, before, soakBytes(t, s), runsOK, runsFailed, sumSeries(text, "papyrad_records_dropped_total"),
		sumSeries(text, "papyrad_files_rewritten_total"), sumSeries(text, "papyrad_files_deleted_total"))
	if runsFailed > 0 {
		var lines []string
		for _, e := range d.logs() {
			if e.msg() == "compaction failed" && e.str("level") == "error" && len(lines) < 5 {
				lines = append(lines, e.String())
			}
		}
		t.Errorf("%.0f runs failed during the soak, e.g.\n%s", runsFailed, strings.Join(lines, "\n"))
	}
	// Every store had its share of the runs: none waited for a slot while others ran.
	fewest, least := -1.0, ""
	for _, st := range stores {
		// A pending run (a long-lived writer still holds a file it replaced) did its work too.
		n := sumSeries(text, "papyrad_runs_total", `result="ok"`, `store="`+st.name+`"`) +
			sumSeries(text, "papyrad_runs_total", `result="pending"`, `store="`+st.name+`"`)
		if fewest < 0 || n < fewest {
			fewest, least = n, st.name
		}
	}
	t.Logf("the store that ran least, %s, ran %.0f times (%.1f on average)", least, fewest, runsOK/float64(len(stores)))
	if ticks := float64(soak / (3 * time.Second)); fewest < ticks/2 {
		t.Errorf("store %s ran %.0f times over %v on a %s schedule: the daemon left it far behind", least, fewest, soak, schedule)
	}
	if after.rss > before.rss*3/2+16<<20 {
		t.Errorf("resident memory grew from %.1f MiB to %.1f MiB over the soak", float64(before.rss)/(1<<20), float64(after.rss)/(1<<20))
	}
	if after.goroutines > before.goroutines+5 {
		t.Errorf("goroutines at rest grew from %d to %d over the soak", before.goroutines, after.goroutines)
	}
	if after.fds > before.fds {
		t.Errorf("open descriptors at rest grew from %d to %d over the soak: %s", before.fds, after.fds, fdTargets(d.cmd.Process.Pid))
	}

	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t, 40*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0%s", code, d.stopNote())
	}
	var verified int
	for _, st := range stores {
		verified += st.verify(t, stopped, done, atRest[st.name].LastRun)
	}
	if q := filesUnder(t, filepath.Join(s.state, "quarantine")); len(q) > 0 {
		t.Errorf("the soak quarantined lines (the writers write none that are not records): %v", q)
	}
	if r := papyrad(t, "scan", "--config", s.cfg); r.code != 0 {
		t.Errorf("papyrad scan after the soak: want exit 0 (nothing to report)\n%s", r)
	}
	var written int64
	for _, st := range stores[:10] {
		written += st.written
	}
	t.Logf("%d records verified in %d stores (the writers wrote %d, the test appended %d batches to each of the other %d); the whole test took %v",
		verified, len(stores), written, stores[10].appended/5, len(stores)-10, time.Since(start).Round(time.Second))
}

// soakBytes says how much the stores hold on disk, and in how many files.
func soakBytes(t *testing.T, s daemonSetup) string {
	t.Helper()
	files := filesUnder(t, s.stores)
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return fmt.Sprintf("%.1f MiB in %d files", float64(n)/(1<<20), len(files))
}

// fdTargets lists what the process's descriptors point at, for a failure message.
func fdTargets(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s→%s ", e.Name(), target)
	}
	return b.String()
}

// sumSeries adds up the samples of a metric whose labels contain every one of with.
func sumSeries(text, metric string, with ...string) float64 {
	var sum float64
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, metric+"{") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		labels := l[:i]
		ok := true
		for _, w := range with {
			ok = ok && strings.Contains(labels, w)
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil && ok {
			sum += v
		}
	}
	return sum
}
