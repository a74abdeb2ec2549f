package main

// End-to-end tests: they build the papyrad binary once and run it, as an operator would, on
// real files in temporary directories. The helpers here start and check those runs; the tests
// themselves are in the other *_test.go files of this directory.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
	"github.com/papyrad/papyrad/internal/testutil/s3test"
)

// The programs under test, built by TestMain.
var (
	papyradBin  string
	writerBin   string
	peakRSSBin  string
	s3ServerBin string
)

// e2eParallel is how many tests of this package run at once unless -parallel says otherwise.
// They spend most of their time waiting for the programs they start (a daemon's schedule, a
// writer, a run's drain), so go test's default (GOMAXPROCS: 2 on a 2-core machine) would
// leave the machine idle for most of the package's run; much more would starve the runs the
// tests time and kill.
const e2eParallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", strconv.Itoa(max(e2eParallel, runtime.GOMAXPROCS(0))))
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "papyrad-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "papyrad e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Tests that run papyrad under another uid need to reach the binary.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "papyrad e2e:", err)
		return 1
	}
	// Built as shipped, without -race: the race detector watches this process, and the
	// crash test aims its kills at phases of a run whose length must be the product's own.
	// One go build for the three, once for the whole package.
	bins, err := testutil.BuildAll(dir, []string{
		"github.com/papyrad/papyrad/cmd/papyrad",
		"github.com/papyrad/papyrad/internal/testutil/papyrawriter",
		"github.com/papyrad/papyrad/internal/testutil/peakrss",
		s3test.Pkg,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "papyrad e2e:", err)
		return 1
	}
	papyradBin, writerBin, peakRSSBin, s3ServerBin = bins[0], bins[1], bins[2], bins[3]
	return m.Run()
}

// result is what one papyrad invocation did.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	dur            time.Duration
	maxRSS         int64 // peak resident memory, bytes; only with runOpts.measureRSS
}

func (r result) String() string {
	return fmt.Sprintf("papyrad %s: exit %d after %v\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond), testutil.Abbrev([]byte(r.stdout), 4000), testutil.Abbrev([]byte(r.stderr), 4000))
}

// runOpts changes how papyrad is started.
type runOpts struct {
	cred       *syscall.Credential // run as this user
	timeout    time.Duration       // 2 minutes if zero
	measureRSS bool                // start papyrad through peakrss to learn its peak memory
	env        []string            // the environment; papyradEnv if nil
}

// papyrad runs the binary with args and checks that it did not panic.
func papyrad(t *testing.T, args ...string) result {
	t.Helper()
	return papyradWith(t, runOpts{}, args...)
}

func papyradWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	env := o.env
	if env == nil {
		env = papyradEnv(t)
	}
	cmd := exec.CommandContext(ctx, papyradBin, args...)
	var rssFile string
	if o.measureRSS {
		rssFile = filepath.Join(t.TempDir(), "peakrss")
		cmd = exec.CommandContext(ctx, peakRSSBin, append([]string{papyradBin}, args...)...)
		env = append(env, "PEAKRSS_FILE="+rssFile)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if o.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), dur: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	case ctx.Err() != nil:
		t.Fatalf("papyrad %s did not finish within %v\n%s", strings.Join(args, " "), o.timeout, r)
	default:
		t.Fatalf("papyrad %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	if o.measureRSS {
		b, err := os.ReadFile(rssFile)
		if err != nil {
			t.Fatalf("peak memory of papyrad %s: %v", strings.Join(args, " "), err)
		}
		if r.maxRSS, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	checkNoPanic(t, r)
	return r
}

// papyradEnv points papyrad's default state directory at a fresh temporary directory, so that
// a test that forgets --state-dir never writes to the system's, and leaves out the testKnobs.
func papyradEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(testKnobs, k) {
			env = append(env, kv)
		}
	}
	return append(env, "PAPYRAD_STATE_DIR="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir())
}

func checkNoPanic(t *testing.T, r result) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "fatal error:"} {
		if strings.Contains(r.stderr, s) || strings.Contains(r.stdout, s) {
			t.Fatalf("papyrad crashed (output contains %q)\n%s", s, r)
		}
	}
}

// compactJSON runs `papyrad compact ARGS --json` and returns its one store report.
func compactJSON(t *testing.T, args ...string) (report.Report, result) {
	t.Helper()
	return compactJSONWith(t, runOpts{}, args...)
}

func compactJSONWith(t *testing.T, o runOpts, args ...string) (report.Report, result) {
	t.Helper()
	r := papyradWith(t, o, append(append([]string{"compact"}, args...), "--json")...)
	return decodeReport(t, r), r
}

func decodeReport(t *testing.T, r result) report.Report {
	t.Helper()
	var out report.Compaction
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("compact --json printed no report: %v\n%s", err, r)
	}
	if len(out.Stores) != 1 {
		t.Fatalf("compact --json reported %d stores, want 1\n%s", len(out.Stores), r)
	}
	// The keys scripts rely on (SPEC §9) are there whatever their values.
	var raw struct {
		Stores []map[string]json.RawMessage `json:"stores"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range stableReportKeys {
		if _, ok := raw.Stores[0][k]; !ok {
			t.Errorf("compact --json: report has no %q\n%s", k, r)
		}
	}
	if _, ok := raw.Stores[0]["error"]; !ok && out.Stores[0].Result == report.ResultError {
		t.Errorf("compact --json: a failed report has no \"error\"\n%s", r)
	}
	return out.Stores[0]
}

var stableReportKeys = []string{"store", "backend", "dry_run", "result", "records_before",
	"records_after", "records_dropped", "records_quarantined", "records_archived",
	"records_unreclaimed", "bytes_before", "bytes_after", "files_rewritten", "files_deleted",
	"duration_seconds"}

// jsonStore returns the ad-hoc flags that describe a json store at path, with its state kept
// in stateDir (outside the store's directory, so that nothing but papyrad's hidden files can
// appear beside the store).
func jsonStore(path, stateDir string, more ...string) []string {
	return append([]string{"--backend", "json", "--path", path, "--state-dir", stateDir}, more...)
}

// fileState is what a user would compare to see whether a file was touched.
type fileState struct {
	ino, size  int64
	mtime      time.Time
	mode       os.FileMode
	uid, gid   uint32
	sha        string
	isSymlink  bool
	linkTarget string
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	fs := fileState{ino: int64(st.Ino), size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode(), uid: st.Uid, gid: st.Gid}
	if fi.Mode()&os.ModeSymlink != 0 {
		fs.isSymlink = true
		fs.linkTarget, err = os.Readlink(path)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	if fi.Mode().IsRegular() {
		fs.sha = fileDigest(t, path)
	}
	return fs
}

// assertUnchanged fails unless path has the same inode, size, mtime, mode, owner and bytes.
func assertUnchanged(t *testing.T, path string, before fileState) {
	t.Helper()
	if after := stateOf(t, path); after != before {
		t.Errorf("%s changed:\n before %+v\n after  %+v", filepath.Base(path), before, after)
	}
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends b with one O_APPEND write, the way Papyra appends a record.
func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.Write(b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("short write %d of %d", n, len(b))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// records returns n records of writer, seqs from..from+n-1, stamped by ts(seq).
func records(writer string, from, n int64, ts func(seq int64) float64) []byte {
	b := make([]byte, 0, n*200)
	for s := from; s < from+n; s++ {
		b = testutil.AppendRecord(b, testutil.Key{Writer: writer, Seq: s}, ts(s))
	}
	return b
}

func fresh(int64) float64 { return testutil.Now() }

// beside lists the names in the store's directory other than the store itself.
func beside(t *testing.T, store string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(store))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != filepath.Base(store) {
			names = append(names, e.Name())
		}
	}
	return names
}

func lockName(store string) string { return ".papyrad." + filepath.Base(store) + ".lock" }

// assertOnlyLock fails unless nothing but papyrad's lock file (or nothing at all) is left
// beside the store.
func assertOnlyLock(t *testing.T, store string) {
	t.Helper()
	for _, n := range beside(t, store) {
		if n != lockName(store) {
			t.Errorf("left beside the store: %v (only %s may remain)", beside(t, store), lockName(store))
			return
		}
	}
}

// quarantined is one line of a quarantine file, decoded.
type quarantined struct {
	Offset int64   `json:"offset"`
	Reason string  `json:"reason"`
	Text   *string `json:"text"`
	Base64 string  `json:"base64"`
	Store  string  `json:"store"`
	Source string  `json:"source"`
	RunID  string  `json:"run_id"`
	bytes  []byte
}

func readQuarantine(t *testing.T, path string) []quarantined {
	t.Helper()
	var out []quarantined
	for i, l := range testutil.SplitLines(readFile(t, path)) {
		var q quarantined
		if err := json.Unmarshal(l.Data, &q); err != nil {
			t.Fatalf("quarantine %s line %d is not JSON: %v", path, i+1, err)
		}
		b, err := base64.StdEncoding.DecodeString(q.Base64)
		if err != nil {
			t.Fatalf("quarantine %s line %d: base64: %v", path, i+1, err)
		}
		q.bytes = b
		out = append(out, q)
	}
	return out
}

// filesUnder lists the regular files under dir (nil if dir does not exist).
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writerProc is a running papyrawriter (testutil.Writer, with this package's names).
type writerProc struct {
	*testutil.Writer
	name string
}

// startWriter starts a writer appending to path (mode "append" or "hold") and waits until it
// has written its first record.
func startWriter(t *testing.T, path, name, mode string, interval time.Duration) *writerProc {
	t.Helper()
	return startWriterProc(t, name, "-path", path, "-mode", mode, "-interval", interval.String())
}

// startWriterProc starts papyrawriter as writer name with args and waits for its "ready"
// (testutil.StartWriter: a test that fails or dies leaves no writer appending).
func startWriterProc(t *testing.T, name string, args ...string) *writerProc {
	t.Helper()
	return &writerProc{Writer: testutil.StartWriter(t, writerBin, name, args...), name: name}
}

func (w *writerProc) pid() int { return w.PID() }

// pause stops the writer between two system calls, so that the store can be read without a
// write in flight.
func (w *writerProc) pause(t *testing.T) { t.Helper(); w.Pause(t) }

func (w *writerProc) resume(t *testing.T) { t.Helper(); w.Resume(t) }

// stop ends the writer and returns how many records it wrote (seqs 0..n-1).
func (w *writerProc) stop(t *testing.T) int64 {
	t.Helper()
	n, _ := w.Stop(t)
	return n
}

// span summarises one writer's records in a store.
type span struct {
	n   int64 // distinct seqs present
	max int64 // highest seq, -1 if none
}

func spans(c *testutil.Contents) map[string]*span {
	out := map[string]*span{}
	for k := range c.Count {
		s := out[k.Writer]
		if s == nil {
			s = &span{max: -1}
			out[k.Writer] = s
		}
		s.n++
		s.max = max(s.max, k.Seq)
	}
	return out
}

func spanOf(m map[string]*span, writer string) span {
	if s := m[writer]; s != nil {
		return *s
	}
	return span{max: -1}
}

// assertComplete fails unless the store holds writer's seqs 0..n-1, each once.
func assertComplete(t *testing.T, c *testutil.Contents, writer string, n int64) {
	t.Helper()
	s := spanOf(spans(c), writer)
	if s.n == n && s.max == n-1 {
		return
	}
	var missing []int64
	for seq := int64(0); seq < n && len(missing) < 10; seq++ {
		if c.Count[testutil.Key{Writer: writer, Seq: seq}] == 0 {
			missing = append(missing, seq)
		}
	}
	t.Errorf("writer %s: store holds %d distinct records (highest seq %d), want seqs 0..%d; first missing: %v",
		writer, s.n, s.max, n-1, missing)
}

// assertWhole fails if a line of the store is torn or a record appears twice.
func assertWhole(t *testing.T, c *testutil.Contents, when string) {
	t.Helper()
	if p := c.Problems(10); len(p) > 0 {
		t.Errorf("%s: the store is damaged:\n  %s", when, strings.Join(p, "\n  "))
	}
}

// assertNoExpired fails if a record stamped in 2001 is left.
func assertNoExpired(t *testing.T, c *testutil.Contents, when string) {
	t.Helper()
	var left []string
	for k, ts := range c.Stamp {
		if ts < testutil.OldEpoch+1e8 {
			left = append(left, k.String())
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		t.Errorf("%s: %d expired records left, e.g. %v", when, len(left), left[:min(len(left), 5)])
	}
}

func readContents(t *testing.T, path string) *testutil.Contents {
	t.Helper()
	c, err := testutil.ReadContents(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// archiveFiles lists the archive files under dir, failing on files an unfinished run left
// (hidden names).
func archiveFiles(t *testing.T, dir string) (files []string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("an unfinished run's archive file is left: %s", p)
			return nil
		}
		files = append(files, p)
		return nil
	})
	return files
}

// decompress reads an archive file with the standard tool for its extension.
func decompress(t *testing.T, f string) []byte {
	t.Helper()
	var cmd *exec.Cmd
	switch filepath.Ext(f) {
	case ".zst":
		cmd = exec.Command(testutil.Tool(t, "zstd"), "-dc", f)
	case ".gz":
		cmd = exec.Command(testutil.Tool(t, "gzip"), "-dc", f)
	default:
		return readFile(t, f)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd, err)
	}
	return out
}

// assertCount checks that c holds records 0..n-1 of writer exactly once each.
func assertCount(t *testing.T, c *testutil.Contents, writer string, n int64, when string) {
	t.Helper()
	var have, dup int64
	for k, cnt := range c.Count {
		if k.Writer != writer {
			continue
		}
		have++
		if cnt != 1 {
			dup++
		}
	}
	if have != n || dup != 0 {
		t.Errorf("%s: %s has %d of its %d records, %d of them more than once", when, writer, have, n, dup)
	}
}

// oldStamp stamps record seq in 2001: expired under any max_age the tests use.
func oldStamp(seq int64) float64 { return testutil.Old(seq) }

// median is the middle of the durations (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// pending reports whether a journal is left beside the store: a replaced file still waits to
// be drained.
func pending(t *testing.T, store string) bool {
	t.Helper()
	for _, n := range beside(t, store) {
		if strings.HasSuffix(n, ".journal") {
			return true
		}
	}
	return false
}

// daemonStore is one store of a test daemon's config.
type daemonStore struct {
	name, path string
	schedule   string   // "@every 1h" (nothing during a test) if empty
	windows    []string // any time if empty
	more       []string // further YAML keys, one per line ("disk: {reserve: 1PiB}")
}

// daemonConfig is a test daemon's config: time zone UTC, no metrics listener, debug logs in
// JSON, ticks never merged (min_interval 0s), a reserve small enough for any test machine.
type daemonConfig struct {
	state           string
	shutdownTimeout time.Duration // 20s if zero
	stores          []daemonStore
}

func (c daemonConfig) yaml() string {
	var b strings.Builder
	shutdown := c.shutdownTimeout
	if shutdown == 0 {
		shutdown = 20 * time.Second
	}
	fmt.Fprintf(&b, "daemon:\n  state_dir: %q\n  metrics_listen: \"\"\n  timezone: UTC\n  shutdown_timeout: %s\n  log: {level: debug, format: json}\n", c.state, shutdown)
	b.WriteString("defaults:\n  retention: {max_age: 1d}\n  min_interval: 0s\n  max_deferral: 72h\n  disk: {reserve: 1MiB, factor: 1.1}\n  drain_timeout: 2s\nstores:\n")
	for _, s := range c.stores {
		schedule := s.schedule
		if schedule == "" {
			schedule = "@every 1h"
		}
		windows, _ := json.Marshal(s.windows)
		if s.windows == nil {
			windows = []byte("[]")
		}
		fmt.Fprintf(&b, "  - name: %s\n    backend: json\n    path: %q\n    schedule: %q\n    windows: %s\n", s.name, s.path, schedule, windows)
		for _, m := range s.more {
			fmt.Fprintf(&b, "    %s\n", m)
		}
	}
	return b.String()
}

// daemonSetup is a temporary directory with a config file, a state directory and a directory
// for stores, for one daemon.
type daemonSetup struct {
	dir, cfg, state, stores string
}

func newDaemonSetup(t *testing.T) daemonSetup {
	t.Helper()
	dir := t.TempDir()
	s := daemonSetup{dir: dir, cfg: filepath.Join(dir, "papyrad.yaml"), state: filepath.Join(dir, "state"), stores: filepath.Join(dir, "stores")}
	if err := os.Mkdir(s.stores, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// store returns the path of a store file in its own directory, so that nothing but papyrad's
// hidden files can appear beside it.
func (s daemonSetup) store(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(s.stores, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "events.ndjson")
}

func (s daemonSetup) writeConfig(t *testing.T, c daemonConfig) {
	t.Helper()
	c.state = s.state
	writeFile(t, s.cfg, []byte(c.yaml()))
}

func (s daemonSetup) socket() string { return filepath.Join(s.state, "papyrad.sock") }

// daemonEnv is the environment for the daemon and the commands that talk to it: without any
// PAPYRAD_ variable (the state directory must come from the config) and without systemd's
// notification variables unless given.
func daemonEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, config.EnvPrefix) || k == "NOTIFY_SOCKET" || strings.HasPrefix(k, "WATCHDOG_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// ctl runs a papyrad command (status, trigger) in the daemon's environment.
func ctl(t *testing.T, args ...string) result {
	t.Helper()
	return papyradWith(t, runOpts{env: daemonEnv(), timeout: 30 * time.Second}, args...)
}

// storeStatus is one store in `papyrad status --json`.
type storeStatus struct {
	Store         string    `json:"store"`
	State         string    `json:"state"`
	LastRun       time.Time `json:"last_run"`
	LastSuccess   time.Time `json:"last_success"`
	LastError     string    `json:"last_error"`
	NextRun       time.Time `json:"next_run"`
	DeferredSince time.Time `json:"deferred_since"`
	DeferReason   string    `json:"defer_reason"`
}

// logEntry is one line of the daemon's JSON log.
type logEntry map[string]any

func (e logEntry) msg() string { s, _ := e["msg"].(string); return s }

func (e logEntry) str(k string) string { s, _ := e[k].(string); return s }

// num returns a numeric field, or -1 when it is missing.
func (e logEntry) num(k string) float64 {
	if f, ok := e[k].(float64); ok {
		return f
	}
	return -1
}

func (e logEntry) String() string { b, _ := json.Marshal(e); return string(b) }

// runningDaemon is a `papyrad run` subprocess.
type runningDaemon struct {
	setup  daemonSetup
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	stdout *testutil.SyncBuffer
	exited chan struct{}
	code   int       // valid once exited is closed
	end    time.Time // when it exited
}

// startDaemon starts `papyrad run` on the setup's config and waits until it says it started.
func startDaemon(t *testing.T, s daemonSetup, env ...string) *runningDaemon {
	t.Helper()
	d := &runningDaemon{setup: s, stderr: &testutil.SyncBuffer{}, stdout: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	d.cmd = exec.Command(papyradBin, "run", "--config", s.cfg)
	d.cmd.Env = daemonEnv(env...)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := d.cmd.Wait()
		d.end = time.Now()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Exited():
			d.code = ee.ExitCode()
		default:
			d.code = -1 // killed by a signal
		}
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
		out := d.stderr.String() + d.stdout.String()
		for _, s := range []string{"panic:", "goroutine ", "fatal error:"} {
			if strings.Contains(out, s) {
				t.Errorf("papyrad run crashed (output contains %q)", s)
			}
		}
		if t.Failed() {
			t.Logf("papyrad run log:\n%s", testutil.Abbrev([]byte(out), 20000))
		}
	})
	d.waitLog(t, 0, 10*time.Second, "the start", func(e logEntry) bool { return e.msg() == "papyrad started" })
	return d
}

// logs returns the daemon's log lines so far, decoded; a line that is not JSON is kept as
// its text under "msg" with "level" "raw".
func (d *runningDaemon) logs() []logEntry {
	var out []logEntry
	sc := bufio.NewScanner(strings.NewReader(d.stderr.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			e = logEntry{"level": "raw", "msg": sc.Text()}
		}
		out = append(out, e)
	}
	return out
}

// waitLog waits for a log line from index from on that matches, and returns it with the index
// after it.
func (d *runningDaemon) waitLog(t *testing.T, from int, timeout time.Duration, what string, match func(logEntry) bool) (logEntry, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ls := d.logs()
		for i := from; i < len(ls); i++ {
			if match(ls[i]) {
				return ls[i], i + 1
			}
		}
		select {
		case <-d.exited:
			t.Fatalf("papyrad run exited (code %d) before logging %s", d.code, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("papyrad run logged no %s within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count returns how many log lines from index from on match.
func (d *runningDaemon) count(from int, match func(logEntry) bool) int {
	n := 0
	ls := d.logs()
	for i := from; i < len(ls); i++ {
		if match(ls[i]) {
			n++
		}
	}
	return n
}

func compacted(store string) func(logEntry) bool {
	return func(e logEntry) bool { return e.msg() == "compaction done" && e.str("store") == store }
}

func (d *runningDaemon) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the daemon to exit and returns its exit code.
func (d *runningDaemon) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-d.exited:
		return d.code
	case <-time.After(timeout):
		t.Fatalf("papyrad run did not exit within %v", timeout)
		return 0
	}
}

// stopNote explains a failed stop when the daemon took one SIGTERM for two.
func (d *runningDaemon) stopNote() string {
	if d.count(0, func(e logEntry) bool { return strings.HasPrefix(e.msg(), "second signal") }) > 0 {
		return " (the daemon took one SIGTERM for two: see TestDaemonOneSIGTERM)"
	}
	return ""
}

func (d *runningDaemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// status runs `papyrad status --config F --json`.
func (d *runningDaemon) status(t *testing.T) map[string]storeStatus {
	t.Helper()
	r := ctl(t, "status", "--config", d.setup.cfg, "--json")
	return decodeStatus(t, r)
}

func decodeStatus(t *testing.T, r result) map[string]storeStatus {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	var out struct {
		Stores []storeStatus `json:"stores"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r)
	}
	m := map[string]storeStatus{}
	for _, s := range out.Stores {
		m[s.Store] = s
	}
	return m
}

// waitStatus polls the status until the store's matches.
func (d *runningDaemon) waitStatus(t *testing.T, store string, timeout time.Duration, what string, match func(storeStatus) bool) storeStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last storeStatus
	for time.Now().Before(deadline) {
		last = d.status(t)[store]
		if match(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("store %s: status never showed %s within %v; last %+v", store, what, timeout, last)
	return last
}

// closedWindow is a one-hour window that opens two hours from now (UTC): whatever the time, it
// is closed for the whole test.
func closedWindow(now time.Time) string {
	start := now.UTC().Add(2 * time.Hour)
	end := start.Add(time.Hour)
	return fmt.Sprintf("%02d:%02d-%02d:%02d", start.Hour(), start.Minute(), end.Hour(), end.Minute())
}

// oldAndFresh writes a store of n expired records (writer "old") then m fresh ones ("orig").
func oldAndFresh(t *testing.T, path string, n, m int64) {
	t.Helper()
	writeFile(t, path, append(records("old", 0, n, oldStamp), records("orig", 0, m, fresh)...))
}

func (c daemonConfig) yamlWithState(state string) string {
	c.state = state
	return c.yaml()
}

// hiddenBeside returns the names of papyrad's hidden files beside store with the given suffix.
func hiddenBeside(store, suffix string) []string { return hiddenIn(filepath.Dir(store), suffix) }

// hiddenIn returns the names of papyrad's hidden files in dir with the given suffix.
func hiddenIn(dir, suffix string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".papyrad.") && strings.HasSuffix(e.Name(), suffix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// forwardJournaled reports whether papyrad left a journal in dir in the middle of forwarding
// late lines of a replaced file to the store: killed between appending them and recording
// that it did.
func forwardJournaled(dir string) bool {
	for _, n := range hiddenIn(dir, ".journal") {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil && strings.Contains(string(b), `"forward":{`) {
			return true
		}
	}
	return false
}

// metricsAddr waits for the daemon to say where its metrics listener is.
func (d *runningDaemon) metricsAddr(t *testing.T) string {
	t.Helper()
	e, _ := d.waitLog(t, 0, 10*time.Second, "the metrics listener", func(e logEntry) bool { return e.msg() == "metrics listening" })
	return e.str("addr")
}

// failed matches the summary line of a failed run of store (at error; the backend's own
// debug line says the same).
func failed(store string) func(logEntry) bool {
	return func(e logEntry) bool {
		return e.msg() == "compaction failed" && e.str("level") == "error" && e.str("store") == store
	}
}

// finished matches the summary line of a run of store that ended, well or not.
func finished(store string) func(logEntry) bool {
	return func(e logEntry) bool { return compacted(store)(e) || failed(store)(e) }
}

// redisLockKey is the lock of the redis store with the default prefix and system id.
const redisLockKey = "papyra:local:papyrad:lock"

// addEntries appends n entries to stream key with data from data(i), fast (a Lua loop per
// 10000), and returns their IDs.
func addEntries(t *testing.T, c *goredis.Client, key string, n int, data func(i int) string) []string {
	t.Helper()
	ctx := context.Background()
	const script = `local ids = {}
for i = 1, #ARGV do ids[i] = redis.call('XADD', KEYS[1], '*', 'data', ARGV[i]) end
return ids`
	var ids []string
	for from := 0; from < n; from += 10000 {
		args := make([]any, 0, 10000)
		for i := from; i < min(n, from+10000); i++ {
			args = append(args, data(i))
		}
		got, err := c.Eval(ctx, script, []string{key}, args...).StringSlice()
		if err != nil {
			t.Fatalf("XADD to %s: %v", key, err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// redisRecord is a Papyra record as an entry's data field.
func redisRecord(writer string, seq int, ts float64) string {
	return strings.TrimSuffix(string(records(writer, int64(seq), 1, func(int64) float64 { return ts })), "\n")
}

// scrape is one read of /metrics: each sample's series, as the text format shows it (labels
// in name order), and its value.
type scrape struct {
	text   string
	series map[string]float64
}

func scrapeMetrics(t *testing.T, addr string) scrape {
	t.Helper()
	text := metricsText(t, addr)
	s := scrape{text: text, series: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("scrape: a sample line that is not \"series value\": %q", line)
		}
		s.series[line[:i]] = v
	}
	return s
}

// value returns a series' value, failing the test when the series is missing.
func (s scrape) value(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := s.series[series]
	if !ok {
		t.Errorf("no series %s in the scrape", series)
		return math.NaN()
	}
	return v
}

// hiddenUnder lists the files with suffix under dir whose names are hidden (an unfinished run's).
func hiddenUnder(dir, suffix string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.HasSuffix(d.Name(), suffix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// redisFixture loads testdata/papyra/redis/basic into the server and returns the IDs Papyra's
// retention keeps, by stream.
func redisFixture(t *testing.T, c *goredis.Client) map[string][]string {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "papyra", "redis", "basic")
	var in struct {
		Streams map[string][]struct{ ID, Data string } `json:"streams"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "streams.json")), &in); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for key, entries := range in.Streams {
		for _, e := range entries {
			if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: key, ID: e.ID, Values: []any{"data", e.Data}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want map[string][]string
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "expected.json")), &want); err != nil {
		t.Fatal(err)
	}
	return want
}

func redisClient(t *testing.T, url string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func streamIDs(t *testing.T, c *goredis.Client, key string) []string {
	t.Helper()
	msgs, err := c.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

// rotSet is a rotating set in a fresh directory, with papyrad's state kept elsewhere (so that
// nothing but papyrad's hidden files can appear beside the set).
type rotSet struct {
	store    string // --path: the active file (suffix) or the name the sequence derives from
	state    string
	naming   string
	maxFiles int
}

func newRotSet(t *testing.T, naming string, maxFiles int) *rotSet {
	t.Helper()
	return &rotSet{store: filepath.Join(t.TempDir(), "events.ndjson"), state: t.TempDir(), naming: naming, maxFiles: maxFiles}
}

func (s *rotSet) dir() string { return filepath.Dir(s.store) }

// slot names slot k: suffix, 0 is the active file and k > 0 is path.k; sequence, the file
// numbered k.
func (s *rotSet) slot(k int) string {
	if s.naming == testutil.SequenceNaming {
		ext := filepath.Ext(s.store)
		stem := strings.TrimSuffix(filepath.Base(s.store), ext)
		return filepath.Join(s.dir(), fmt.Sprintf("%s-%04d%s", stem, k, ext))
	}
	if k == 0 {
		return s.store
	}
	return s.store + "." + strconv.Itoa(k)
}

// flags are the ad-hoc flags of `papyrad compact` for the set.
func (s *rotSet) flags(more ...string) []string {
	return append([]string{"--backend", "rotating", "--path", s.store, "--max-files", strconv.Itoa(s.maxFiles),
		"--naming", s.naming, "--state-dir", s.state}, more...)
}

// put writes slot k with b and the given mode, dated an hour ago (no write in progress).
func (s *rotSet) put(t *testing.T, k int, b []byte, mode os.FileMode) {
	t.Helper()
	name := s.slot(k)
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(name, hour, hour); err != nil {
		t.Fatal(err)
	}
}

func (s *rotSet) read(t *testing.T) *testutil.SetContents {
	t.Helper()
	c, err := testutil.ReadSet(s.store, s.naming, s.maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// files lists the set's files as Papyra would read them, oldest first.
func (s *rotSet) files(t *testing.T) []string {
	t.Helper()
	f, err := testutil.SetFiles(s.store, s.naming, s.maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// assertClean fails if anything but the set's files, papyrad's lock file and the names in
// also is in the set's directory: no hidden papyrad file of a run may remain.
func (s *rotSet) assertClean(t *testing.T, also ...string) {
	t.Helper()
	members := map[string]bool{}
	for _, f := range s.files(t) {
		members[filepath.Base(f)] = true
	}
	entries, err := os.ReadDir(s.dir())
	if err != nil {
		t.Fatal(err)
	}
	var stray []string
	for _, e := range entries {
		n := e.Name()
		if n == lockName(s.store) || members[n] || slices.Contains(also, n) {
			continue
		}
		stray = append(stray, n)
	}
	if len(stray) > 0 {
		t.Errorf("left beside the set: %v (only the set's files and %s may remain)", stray, lockName(s.store))
	}
}

// rotWriter is a running papyrawriter in a rotating mode.
type rotWriter struct {
	*writerProc
	mode string
	lock string // the writer holds an flock on it while it rotates
}

// pause stops the writer between two rotations: a test that changes the set while the writer
// is stopped halfway through a rotation would have its file renamed over by the writer's next
// step, which is the test's doing, not papyrad's.
func (w *rotWriter) pause(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(w.lock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 10000 {
		w.writerProc.pause(t)
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			return
		}
		w.resume(t)
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("writer %s never stopped between rotations", w.name)
}

// rotStats is what a rotating writer says it did; vanished counts the renames and removals
// that found a name gone just after the writer saw it (FileNotFoundError in Python).
type rotStats struct{ rotations, deleted, blocked, vanished int64 }

// stop ends the writer; it returns how many records it wrote (seqs 0..n-1) and its counts.
// A name that vanished under the writer fails the test: papyrad must never make one.
func (w *rotWriter) stop(t *testing.T) (int64, rotStats) {
	t.Helper()
	n, lines := w.Stop(t)
	var st rotStats
	if len(lines) < 1 {
		t.Fatalf("writer %s printed no counts before \"written N\"", w.name)
	}
	if _, err := fmt.Sscanf(lines[len(lines)-1], "rotations %d deleted %d blocked %d vanished %d", &st.rotations, &st.deleted, &st.blocked, &st.vanished); err != nil {
		t.Fatalf("writer %s: no counts in %q", w.name, lines[len(lines)-1])
	}
	if st.vanished > 0 {
		t.Errorf("writer %s: %d of its renames or removals found the name it had just seen gone: Papyra would have raised FileNotFoundError into the application", w.name, st.vanished)
	}
	return n, st
}

// compactProc is a `papyrad compact` run started in the background, to be killed.
type compactProc struct {
	args  []string
	cmd   *exec.Cmd
	out   *testutil.SyncBuffer
	done  chan error
	start time.Time
}

func startCompact(t *testing.T, args []string) *compactProc {
	t.Helper()
	p := &compactProc{args: append([]string{"compact"}, args...), out: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(papyradBin, p.args...)
	p.cmd.Env = papyradEnv(t)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// ended turns the run's end into its result; finished is false if it was killed.
func (p *compactProc) ended(t *testing.T, err error) (finished bool, r result) {
	t.Helper()
	r = result{args: p.args, stdout: p.out.String(), dur: time.Since(p.start)}
	checkNoPanic(t, r)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, r
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
		return true, r
	}
	return false, r
}

// kill sends SIGKILL (the run may have just finished) and waits for the end.
func (p *compactProc) kill(t *testing.T) (finished bool, r result) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	return p.ended(t, <-p.done)
}

// killAfter starts `papyrad compact ARGS`, sends it SIGKILL after delay and reports whether it
// finished first, and how.
func killAfter(t *testing.T, delay time.Duration, args []string) (finished bool, r result) {
	t.Helper()
	p := startCompact(t, args)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case err := <-p.done:
		return p.ended(t, err)
	case <-timer.C:
		return p.kill(t)
	}
}

// killedIn kills `papyrad compact FLAGS` on store after delay (killAfter) and says in which
// phase it died, judged from the files it left beside the store ("finished" if it ended
// first, which it must do with exit 0).
func killedIn(t *testing.T, delay time.Duration, store string, flags []string) string {
	t.Helper()
	earlier := beside(t, store)
	finished, r := killAfter(t, delay, flags)
	if !finished {
		return phaseOf(t, store, earlier)
	}
	if r.code != 0 {
		t.Fatalf("papyrad failed before it could be killed\n%s", r)
	}
	return "finished"
}

// killAimed starts `papyrad compact ARGS` and kills it a random instant within spread after
// ready first says yes (it is polled every 50µs), so that the kill lands in a short phase of
// the run. It reports whether the run finished first, and how.
func killAimed(t *testing.T, ready func() bool, spread time.Duration, rng *rand.Rand, args []string) (finished bool, r result) {
	t.Helper()
	p := startCompact(t, args)
	for !ready() && time.Since(p.start) < time.Minute {
		select {
		case err := <-p.done:
			return p.ended(t, err)
		case <-time.After(50 * time.Microsecond):
		}
	}
	time.Sleep(time.Duration(rng.Int64N(int64(spread))))
	return p.kill(t)
}

// metricsText reads /metrics on a connection of its own, closed afterwards.
func metricsText(t *testing.T, addr string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d, %v\n%s", resp.StatusCode, err, b)
	}
	return string(b)
}

// phaseOf reads the protocol phase off papyrad's hidden files beside the store, other than
// those that were there before the run (earlier).
func phaseOf(t *testing.T, store string, earlier []string) string {
	t.Helper()
	var tmp, old, journal bool
	forwarding := forwardJournaled(filepath.Dir(store))
	for _, n := range beside(t, store) {
		if slices.Contains(earlier, n) {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".tmp") && !strings.HasSuffix(n, ".journal.tmp"):
			tmp = true
		case strings.HasSuffix(n, ".old"):
			old = true
		case strings.HasSuffix(n, ".journal"):
			journal = true
		}
	}
	switch {
	case forwarding:
		return "forwarding"
	case journal && tmp:
		return "committing"
	case journal && old:
		return "draining"
	case tmp:
		return "rewriting"
	}
	return "scanning, recovering or done"
}

// succeeded reports whether rep is a run that did its work: pending exactly when it could not
// let go of a replaced file (a writer still holds it), ok otherwise.
func succeeded(rep report.Report) bool {
	if rep.PendingFiles > 0 {
		return rep.Result == report.ResultPending
	}
	return rep.Result == report.ResultOK
}
