package main

// End-to-end tests of papyrad's defences against a hostile or careless environment: state
// directories anyone can write to, symbolic links under a store's names, stores that share
// files, and Redis passwords, which must never show in anything papyrad prints, logs or serves.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// TestStateDirAnyoneCanWrite: papyrad refuses to keep its state or quarantine in a directory
// anyone may write to (sticky bit or not), in compact and at daemon start, with exit 78 and
// an error naming the directory and its mode; the store is not touched. A missing state
// directory is made by the daemon, mode 0750.
func TestStateDirAnyoneCanWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "stores", "events.ndjson")
	if err := os.MkdirAll(filepath.Dir(store), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, store, append(records("old", 0, 3, oldStamp), records("orig", 0, 3, fresh)...))
	before := stateOf(t, store)
	open := func(t *testing.T, name string, mode os.FileMode) string {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return d
	}
	shared := open(t, "shared", 0o777)
	sticky := open(t, "sticky", 0o1777)
	private := open(t, "private", 0o750)

	for _, tc := range []struct {
		name    string
		args    []string
		refused string
		mode    string
	}{
		{"state dir 0777", []string{"--state-dir", shared}, shared, "0777"},
		{"state dir 1777 (sticky, as /tmp)", []string{"--state-dir", sticky}, sticky, "0777"},
		{"quarantine dir 0777", []string{"--state-dir", private, "--quarantine-dir", shared}, shared, "0777"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := papyrad(t, append([]string{"compact", "--backend", "json", "--path", store, "--max-age", "1d"}, tc.args...)...)
			if r.code != 78 || !strings.Contains(r.stderr, tc.refused) || !strings.Contains(r.stderr, "mode "+tc.mode) || !strings.Contains(r.stderr, "can be written by anyone") {
				t.Fatalf("want exit 78 and an error naming %s and its mode %s\n%s", tc.refused, tc.mode, r)
			}
			assertUnchanged(t, store, before)
		})
	}

	cfgFor := func(t *testing.T, state string) string {
		t.Helper()
		cfg := filepath.Join(t.TempDir(), "papyrad.yaml")
		writeFile(t, cfg, fmt.Appendf(nil, "daemon:\n  state_dir: %s\n  metrics_listen: \"\"\n  log: {format: json}\nstores:\n  - {name: orders, backend: json, path: %s, retention: {max_age: 1d}}\n", state, store))
		return cfg
	}
	t.Run("compact with a config", func(t *testing.T) {
		r := ctl(t, "compact", "--config", cfgFor(t, shared))
		if r.code != 78 || !strings.Contains(r.stderr, "store orders: state directory "+shared) {
			t.Fatalf("want exit 78 naming the store and the state directory\n%s", r)
		}
		assertUnchanged(t, store, before)
	})
	t.Run("daemon", func(t *testing.T) {
		r := ctl(t, "run", "--config", cfgFor(t, shared))
		if r.code != 78 || !strings.Contains(r.stderr, shared) || !strings.Contains(r.stderr, "mode 0777") {
			t.Fatalf("want the daemon to refuse to start, exit 78, naming %s\n%s", shared, r)
		}
		if _, err := os.Lstat(filepath.Join(shared, "papyrad.sock")); !os.IsNotExist(err) {
			t.Errorf("the refused daemon made its control socket: %v", err)
		}
		assertUnchanged(t, store, before)
	})
	t.Run("daemon makes a missing state dir 0750", func(t *testing.T) {
		s := newDaemonSetup(t)
		s.writeConfig(t, daemonConfig{stores: []daemonStore{{name: "orders", path: s.store(t, "orders")}}})
		writeFile(t, filepath.Join(s.stores, "orders", "events.ndjson"), records("orig", 0, 1, fresh))
		d := startDaemon(t, s)
		fi, err := os.Stat(s.state)
		if err != nil {
			t.Fatal(err)
		}
		if want := os.FileMode(0o750) &^ umask(t); fi.Mode().Perm() != want {
			t.Errorf("state directory made with mode %04o, want %04o", fi.Mode().Perm(), want)
		}
		d.signal(t, syscall.SIGTERM)
		if code := d.wait(t, 30*time.Second); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	})
}

// TestRotatingLinkRefused: the binary refuses a rotating set with a segment that is a
// symbolic link, naming it, and leaves every file of the set and the link's target as they
// were.
func TestRotatingLinkRefused(t *testing.T) {
	t.Parallel()
	s := newRotSet(t, "suffix", 4)
	s.put(t, 3, records("old", 0, 3, oldStamp), 0o644)
	s.put(t, 1, records("old", 3, 3, oldStamp), 0o644)
	s.put(t, 0, records("orig", 0, 3, fresh), 0o644)
	target := filepath.Join(t.TempDir(), "elsewhere.ndjson")
	writeFile(t, target, records("old", 6, 3, oldStamp))
	if err := os.Symlink(target, s.slot(2)); err != nil {
		t.Fatal(err)
	}
	var states []fileState
	for k := 0; k < 4; k++ {
		states = append(states, stateOf(t, s.slot(k)))
	}
	targetBefore := stateOf(t, target)
	rep, r := compactJSON(t, s.flags("--max-age", "1d")...)
	if r.code != 1 || rep.Result != report.ResultError || !strings.Contains(rep.Error, s.slot(2)) || !strings.Contains(rep.Error, "symbolic link") {
		t.Fatalf("want exit 1 and an error naming the link %s\n%s", s.slot(2), r)
	}
	for k := 0; k < 4; k++ {
		assertUnchanged(t, s.slot(k), states[k])
	}
	assertUnchanged(t, target, targetBefore)
}

// TestConfigStoresShareFiles: config check refuses stores that would read each other's files
// with exit 78, naming both.
func TestConfigStoresShareFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "papyrad.yaml")
	writeFile(t, cfg, fmt.Appendf(nil, `daemon: {state_dir: %[1]s/state}
stores:
  - {name: edge, backend: rotating, path: %[1]s/data/events.ndjson, rotation: {naming: sequence}, retention: {max_age: 7d}}
  - {name: orders, backend: json, path: %[1]s/data/events-0003.ndjson, retention: {max_age: 7d}}
  - {name: audit, backend: json, path: %[1]s/state/audit.ndjson, retention: {max_age: 7d}}
`, dir))
	r := ctl(t, "config", "check", "--config", cfg)
	if r.code != 78 {
		t.Fatalf("want exit 78\n%s", r)
	}
	for _, want := range []string{
		"stores[1] (orders): path: " + dir + "/data/events-0003.ndjson is a numbered file of the set of stores[0] (edge)",
		"stores[2] (audit): path: " + dir + "/state/audit.ndjson is inside daemon.state_dir",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q\n%s", want, r)
		}
	}
}

// TestRedisPasswordsNeverShown: with passwords in a redis URL, in a password file and a wrong
// one, nothing papyrad prints (config check, scan, compact), logs, serves over its control
// socket (status, metrics) or over TCP (/metrics), or writes to quarantine shows a password.
// The config file, readable by others and holding a password, is warned about by name.
func TestRedisPasswordsNeverShown(t *testing.T) {
	t.Parallel()
	const (
		good  = "url-pass-7Qx4"
		wrong = "wrong-pass-9Zk2"
	)
	srv := redisserver.Start(t, redisserver.Options{TCP: true, Args: []string{"--requirepass", good}})
	c := redisClient(t, fmt.Sprintf("redis://:%s@%s/0", good, srv.TCPAddr()))
	ctx := context.Background()
	for _, data := range []string{`{"kind": "event", "timestamp": 978307200.0}`, `{"kind": "ev`, `{"kind": "event", "timestamp": 4102444800.0}`} {
		if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: "papyra:a:events", Values: []any{"data", data}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s := newDaemonSetup(t)
	pwFile := filepath.Join(s.dir, "redis.pw")
	writeFile(t, pwFile, []byte(good+"\n"))
	if err := os.Chmod(pwFile, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.cfg, fmt.Appendf(nil, `daemon:
  state_dir: %s
  metrics_listen: "127.0.0.1:0"
  timezone: UTC
  log: {level: debug, format: json}
defaults:
  retention: {max_age: 1d}
  schedule: "@every 1h"
  windows: []
stores:
  - {name: in-url, backend: redis, redis: {url: "redis://:%s@%s/0", system_id: a}}
  - {name: in-file, backend: redis, redis: {url: "redis://%s/1", system_id: b, password_file: %s}}
  - {name: wrong, backend: redis, redis: {url: "redis://app:%s@%s/2", system_id: c}}
`, s.state, good, srv.TCPAddr(), srv.TCPAddr(), pwFile, wrong, srv.TCPAddr()))
	if err := os.Chmod(s.cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	shown := func(what, text string) {
		t.Helper()
		for _, pw := range []string{good, wrong} {
			if strings.Contains(text, pw) {
				t.Errorf("%s shows a password:\n%s", what, text)
			}
		}
	}

	r := papyrad(t, "config", "check", "--config", s.cfg)
	shown("config check", r.stdout+r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "redis://:xxxxx@") || !strings.Contains(r.stdout, "redis://app:xxxxx@") {
		t.Errorf("config check: want exit 0 and the URLs with xxxxx for passwords\n%s", r)
	}
	if !strings.Contains(r.stderr, "papyrad: warning: "+s.cfg+" holds redis passwords") || !strings.Contains(r.stderr, "(mode 0644)") {
		t.Errorf("config check does not warn that %s, mode 0644, holds passwords\n%s", s.cfg, r)
	}

	r = papyrad(t, "scan", "--config", s.cfg, "--json")
	shown("scan", r.stdout+r.stderr)
	r = papyrad(t, "compact", "--config", s.cfg, "--json")
	shown("compact", r.stdout+r.stderr)
	reps := decodeReports(t, r)
	if r.code != 1 || len(reps) != 3 || reps[0].Result != report.ResultOK || reps[1].Result != report.ResultOK || reps[2].Result != report.ResultError {
		t.Fatalf("compact: want the wrong password to fail its store only\n%s", r)
	}
	if !strings.Contains(reps[2].Error, "redis://app:xxxxx@"+srv.TCPAddr()+"/2") {
		t.Errorf("the failed store's error does not name its server: %s", reps[2].Error)
	}
	if reps[0].QuarantineFile == "" {
		t.Fatalf("the torn entry was not quarantined: %+v", reps[0])
	}
	shown("the quarantine file", string(readFile(t, reps[0].QuarantineFile)))

	d := startDaemon(t, s)
	if r := ctl(t, "trigger", "--config", s.cfg); r.code != 0 {
		t.Fatalf("trigger: %s", r)
	}
	for _, name := range []string{"in-url", "in-file", "wrong"} {
		d.waitLog(t, 0, 30*time.Second, "a run of "+name, func(e logEntry) bool {
			return e.str("store") == name && strings.HasPrefix(e.msg(), "compaction ")
		})
	}
	r = ctl(t, "status", "--config", s.cfg, "--json")
	shown("status", r.stdout+r.stderr)
	if !strings.Contains(r.stdout, "xxxxx") {
		t.Errorf("status does not show the failed store's error with its server named:\n%s", r.stdout)
	}
	r = ctl(t, "metrics", "--config", s.cfg, "--json")
	shown("metrics", r.stdout+r.stderr)
	listening, _ := d.waitLog(t, 0, 10*time.Second, "the metrics listener", func(e logEntry) bool { return e.msg() == "metrics listening" })
	resp, err := http.Get("http://" + listening.str("addr") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `store="wrong"`) {
		t.Errorf("/metrics: %d\n%.2000s", resp.StatusCode, body)
	}
	shown("/metrics", string(body))
	d.signal(t, syscall.SIGHUP) // a reload logs the config's warnings again
	d.waitLog(t, 0, 10*time.Second, "the reload", func(e logEntry) bool { return e.msg() == "configuration reloaded" })
	d.signal(t, syscall.SIGTERM)
	d.wait(t, 30*time.Second)
	logs := d.stderr.String() + d.stdout.String()
	shown("the daemon's log", logs)
	if n := strings.Count(logs, s.cfg+" holds redis passwords"); n != 2 {
		t.Errorf("the daemon logged the config file's warning %d times, want at start and at the reload", n)
	}
}

// decodeReports decodes compact --json's stores.
func decodeReports(t *testing.T, r result) []report.Report {
	t.Helper()
	var out report.Compaction
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("compact --json: %v\n%s", err, r)
	}
	return out.Stores
}

// umask reads the process's umask without setting it (syscall.Umask would change it for a
// moment under the tests running in parallel).
func umask(t *testing.T) os.FileMode {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				t.Fatalf("/proc/self/status: %q", l)
			}
			return os.FileMode(m)
		}
	}
	t.Fatal("/proc/self/status has no Umask line")
	return 0
}
