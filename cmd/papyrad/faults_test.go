package main

// Faults the daemon meets in production, end to end: the disk of one store filling up while its
// run writes, and the Redis server of a store dying in the middle of a trim. Each time the run
// must fail cleanly, be counted as what it is, leave the store whole, and leave the daemon
// serving its other stores and a later run of the same one.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/testutil"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// fillWhenWriting waits for a hidden temp file of a run beside store, then takes every free
// byte of the store's filesystem with fallocate(2) on filler: the run has passed the disk
// guard and is writing. It says whether it saw the temp file, false when over says the run
// has ended first (a run of a few hundred milliseconds can end between two looks on a busy
// machine) or none appeared within timeout.
func fillWhenWriting(t *testing.T, store, filler string, timeout time.Duration, over func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	nextOver := time.Now()
	for len(hiddenBeside(store, ".tmp")) == 0 {
		if now := time.Now(); now.After(deadline) {
			return false
		} else if now.After(nextOver) {
			if over() {
				return false
			}
			nextOver = now.Add(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Microsecond)
	}
	f, err := os.OpenFile(filler, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(filler), &st); err != nil {
		t.Fatal(err)
	}
	// Every free block, then whatever a concurrent free left: the filesystem ends up full.
	if free := int64(st.Bavail) * st.Bsize; free > 0 {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, free); err != nil && err != unix.ENOSPC {
			t.Fatalf("fallocate %s: %v", filler, err)
		}
	}
	return true
}

// TestDaemonDiskFull: two json stores in one daemon, one on a small tmpfs that fills up (by
// another process's fallocate) while its run writes the rewritten file. That run must fail
// with ENOSPC, counted as papyrad_errors_total{reason="enospc"}, with the store byte for byte
// as before and no temp file beside it, while the other store's run succeeds and the daemon
// keeps answering; once there is room again, the full store's next run succeeds.
func TestDaemonDiskFull(t *testing.T) {
	t.Parallel()
	fs := testutil.Tmpfs(t, "64m")
	t.Logf("ENOSPC mechanism: a real size-limited tmpfs (64 MiB), filled with fallocate(2) once the run's temp file appears")
	full := filepath.Join(fs, "store", "events.ndjson")
	filler := filepath.Join(fs, "filler")
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	s := newDaemonSetup(t)
	other := s.store(t, "other")
	// Expired records first, so that the run creates its temp file at once and then spends
	// its time copying the 60000 kept ones (about 11 MB).
	const expired, kept = 10000, 60000
	oldAndFresh(t, full, expired, kept)
	oldAndFresh(t, other, 300, 100)
	cfg := daemonConfig{stores: []daemonStore{{name: "full", path: full}, {name: "other", path: other}}}
	writeFile(t, s.cfg, []byte(withMetrics(cfg.yamlWithState(s.state), 2)))
	d := startDaemon(t, s)
	addr := d.metricsAddr(t)

	// The run may finish before the filesystem fills (the race is the test's, not papyrad's):
	// then the store is put back and the fill tried again, up to a few times.
	var before fileState
	var mark, attempts int
	var e logEntry
	for attempts = 1; ; attempts++ {
		before = stateOf(t, full)
		mark = len(d.logs())
		if r := ctl(t, "trigger", "--config", s.cfg, "full", "other"); r.code != 0 {
			t.Fatalf("trigger: want exit 0\n%s", r)
		}
		filled := fillWhenWriting(t, full, filler, 30*time.Second, func() bool { return d.count(mark, finished("full")) > 0 })
		e, _ = d.waitLog(t, mark, 30*time.Second, "the end of full's run", finished("full"))
		if e.msg() == "compaction failed" || attempts == 5 {
			break
		}
		if filled {
			t.Logf("attempt %d: the run finished before the filesystem filled; again", attempts)
		} else {
			t.Logf("attempt %d: the run finished before its temp file was seen; again", attempts)
		}
		d.waitLog(t, mark, 30*time.Second, "the run of other", compacted("other"))
		if err := os.Remove(filler); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		oldAndFresh(t, full, expired, kept)
		oldAndFresh(t, other, 300, 100) // its run dropped them: give the next one as much to do
	}
	if e.msg() != "compaction failed" {
		t.Fatalf("in %d attempts the run of full always finished before its filesystem filled", attempts)
	}
	t.Logf("the run of full hit ENOSPC at attempt %d: %s", attempts, e.str("error"))
	if e.str("cause") != "enospc" || !strings.Contains(e.str("error"), "no space left on device") || !strings.Contains(e.str("error"), full) {
		t.Errorf("summary line of the failed run: want cause enospc and an error naming the store and the full disk\n%s", e)
	}
	assertUnchanged(t, full, before)
	assertOnlyLock(t, full)

	// The other store's run went through, and the daemon answers.
	o, _ := d.waitLog(t, mark, 30*time.Second, "the run of other", compacted("other"))
	if o.num("records_dropped") != 300 {
		t.Errorf("other: dropped %v records, want 300\n%s", o.num("records_dropped"), o)
	}
	c := readContents(t, other)
	assertWhole(t, c, "other, after its run")
	assertNoExpired(t, c, "other, after its run")
	assertComplete(t, c, "orig", 100)
	assertOnlyLock(t, other)
	st := d.status(t)
	if !strings.Contains(st["full"].LastError, "no space left on device") || st["other"].LastError != "" || st["other"].LastSuccess.IsZero() {
		t.Errorf("status: want full's last error to be the full disk and other's last run a success: %+v", st)
	}
	m := scrapeMetrics(t, addr)
	for series, want := range map[string]float64{
		`papyrad_errors_total{backend="json",reason="enospc",store="full"}`: 1,
		`papyrad_runs_total{backend="json",result="error",store="full"}`:    1,
		`papyrad_runs_total{backend="json",result="ok",store="full"}`:       float64(attempts - 1),
		`papyrad_runs_total{backend="json",result="ok",store="other"}`:      float64(attempts),
		`papyrad_runs_total{backend="json",result="error",store="other"}`:   0,
	} {
		if got := m.value(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	// With room again, the same store compacts.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mark = len(d.logs())
	if r := ctl(t, "trigger", "--config", s.cfg, "full"); r.code != 0 {
		t.Fatalf("trigger: want exit 0\n%s", r)
	}
	e, _ = d.waitLog(t, mark, 60*time.Second, "the end of full's next run", finished("full"))
	if e.msg() != "compaction done" || e.num("records_dropped") != expired {
		t.Fatalf("with room again, full's run: want done with %d records dropped\n%s", expired, e)
	}
	c = readContents(t, full)
	assertWhole(t, c, "full, with room again")
	assertNoExpired(t, c, "full, with room again")
	assertComplete(t, c, "orig", kept)
	assertOnlyLock(t, full)

	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0%s", code, d.stopNote())
	}
}

// TestDaemonRedisRestart: the Redis server of a store is killed while the daemon's run trims a
// large stream, and started again (with its append-only file) once the run has failed. The
// run must fail cleanly and be counted as a redis error; the daemon stays up; the lock the dead
// connection could not release is bounded by its TTL; and the next run, triggered once the
// lock is free, removes the rest of what retention drops and not one kept entry.
func TestDaemonRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{TCP: true, Persist: true})
	c := redisClient(t, srv.URL(0))
	ctx := context.Background()
	const key = "papyra:local:events"
	const expired, kept = 150000, 50000
	addEntries(t, c, key, expired, func(i int) string { return redisRecord("old", i, oldStamp(int64(i))) })
	now := float64(time.Now().Unix())
	keep := addEntries(t, c, key, kept, func(i int) string { return redisRecord("orig", i, now) })

	s := newDaemonSetup(t)
	writeFile(t, s.cfg, fmt.Appendf(nil, `daemon:
  state_dir: %q
  metrics_listen: "127.0.0.1:0"
  timezone: UTC
  shutdown_timeout: 20s
  log: {level: debug, format: json}
defaults:
  retention: {max_age: 1d}
  min_interval: 0s
stores:
  - name: cluster
    backend: redis
    redis: {url: %q}
    schedule: "@every 1h"
    windows: []
    trim_step: 100
`, s.state, srv.URL(0)))
	d := startDaemon(t, s)
	addr := d.metricsAddr(t)

	mark := len(d.logs())
	if r := ctl(t, "trigger", "--config", s.cfg, "cluster"); r.code != 0 {
		t.Fatalf("trigger: want exit 0\n%s", r)
	}
	// Killed once the trim has removed a quarter of the expired entries: well inside it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := c.XLen(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n <= expired*3/4+kept {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never started trimming %s\n%v", key, d.status(t))
		}
		time.Sleep(time.Millisecond)
	}
	srv.Kill()
	killed := time.Now()
	e, _ := d.waitLog(t, mark, time.Minute, "the failed run", failed("cluster"))
	t.Logf("redis killed mid-trim; the run failed %v later: %s", time.Since(killed).Round(time.Millisecond), e.str("error"))
	if e.str("cause") != "redis" {
		t.Errorf("summary line of the failed run: want cause redis\n%s", e)
	}
	if !d.running() {
		t.Fatalf("the daemon exited when its redis server died")
	}
	if st := d.status(t)["cluster"]; st.LastError == "" || st.State == "running" {
		t.Errorf("status of cluster after the failure: %+v", st)
	}

	srv.Restart()
	n, err := c.XLen(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n <= kept || n >= expired+kept {
		t.Errorf("after the restart the stream has %d entries: want the kill to have landed mid-trim (between %d and %d)", n, kept, expired+kept)
	}
	t.Logf("after the restart the stream has %d entries: %d of the %d expired ones were trimmed before the kill", n, expired+kept-n, expired)
	// The lock: released by the failed run, or left to expire within its TTL.
	ttl, err := c.PTTL(ctx, redisLockKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.Exists(ctx, redisLockKey).Val() == 0:
		t.Logf("the failed run's lock is gone")
	case ttl > 0 && ttl <= 30*time.Second:
		t.Logf("the failed run's lock expires in %v", ttl.Round(time.Millisecond))
		waitUntil := time.Now().Add(ttl + 5*time.Second)
		for c.Exists(ctx, redisLockKey).Val() == 1 {
			if time.Now().After(waitUntil) {
				t.Fatalf("the lock %s outlived its TTL", redisLockKey)
			}
			time.Sleep(100 * time.Millisecond)
		}
	default:
		t.Fatalf("the lock %s has TTL %v: it must expire within 30s or be gone", redisLockKey, ttl)
	}

	mark = len(d.logs())
	if r := ctl(t, "trigger", "--config", s.cfg, "cluster"); r.code != 0 {
		t.Fatalf("trigger: want exit 0\n%s", r)
	}
	e, _ = d.waitLog(t, mark, 2*time.Minute, "the next run", func(e logEntry) bool {
		return finished("cluster")(e) || (e.str("store") == "cluster" && e.msg() == "compaction skipped")
	})
	if e.msg() != "compaction done" || e.num("records_dropped") != float64(n-kept) {
		t.Fatalf("the run after the restart: want done, dropping the %d expired entries left\n%s", n-kept, e)
	}
	ids := streamIDs(t, c, key)
	if len(ids) != kept || ids[0] != keep[0] || ids[len(ids)-1] != keep[kept-1] {
		t.Fatalf("after the next run the stream has %d entries, want exactly the %d kept", len(ids), kept)
	}
	for i, id := range ids {
		if id != keep[i] {
			t.Fatalf("entry %d is %s, want kept entry %s", i, id, keep[i])
		}
	}
	if left := c.Exists(ctx, redisLockKey).Val(); left != 0 {
		t.Errorf("the successful run left its lock behind")
	}
	m := scrapeMetrics(t, addr)
	for series, want := range map[string]float64{
		`papyrad_errors_total{backend="redis",reason="redis",store="cluster"}`: 1,
		`papyrad_runs_total{backend="redis",result="error",store="cluster"}`:   1,
		`papyrad_runs_total{backend="redis",result="ok",store="cluster"}`:      1,
	} {
		if got := m.value(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	d.signal(t, syscall.SIGTERM)
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0%s", code, d.stopNote())
	}
}

// withMetrics turns a test daemon's config (daemonConfig.yaml) into one that serves /metrics on
// an ephemeral port and runs up to maxConcurrent stores at once.
func withMetrics(yaml string, maxConcurrent int) string {
	yaml = strings.Replace(yaml, `metrics_listen: ""`, `metrics_listen: "127.0.0.1:0"`, 1)
	return strings.Replace(yaml, "  timezone: UTC\n", fmt.Sprintf("  timezone: UTC\n  max_concurrent: %d\n", maxConcurrent), 1)
}
