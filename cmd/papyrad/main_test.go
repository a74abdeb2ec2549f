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
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

// The programs under test, built by TestMain.
var (
	papyradBin string
	writerBin  string
	peakRSSBin string
)

func TestMain(m *testing.M) {
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
	for _, b := range []struct {
		dst *string
		pkg string
	}{
		{&papyradBin, "github.com/papyrad/papyrad/cmd/papyrad"},
		{&writerBin, "github.com/papyrad/papyrad/internal/testutil/papyrawriter"},
		{&peakRSSBin, "github.com/papyrad/papyrad/internal/testutil/peakrss"},
	} {
		if *b.dst, err = testutil.Build(dir, b.pkg); err != nil {
			fmt.Fprintln(os.Stderr, "papyrad e2e:", err)
			return 1
		}
	}
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
	cmd := exec.CommandContext(ctx, papyradBin, args...)
	cmd.Env = papyradEnv(t)
	rssFile := filepath.Join(t.TempDir(), "peakrss")
	if o.measureRSS {
		cmd = exec.CommandContext(ctx, peakRSSBin, append([]string{papyradBin}, args...)...)
		cmd.Env = append(papyradEnv(t), "PEAKRSS_FILE="+rssFile)
	}
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

// testKnobs are the environment variables that set how long the torture tests and the soak run
// (`make torture`). They are the tests', not papyrad's, and papyrad refuses a config file
// alongside a PAPYRAD_ variable it does not know: they are kept from the commands it runs.
var testKnobs = []string{"PAPYRAD_TORTURE", "PAPYRAD_TORTURE_ITERATIONS", "PAPYRAD_SOAK"}

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

// TestKnobsKeptFromPapyrad: with the torture knobs set, as `make torture` sets them, papyrad run
// in the test's own environment refuses a config file (exit 78, naming the variable), and the
// commands the tests run through papyradEnv work.
func TestKnobsKeptFromPapyrad(t *testing.T) {
	for _, k := range testKnobs {
		t.Setenv(k, "1")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	writeFile(t, store, append(records("old", 0, 10, oldStamp), records("orig", 0, 10, fresh)...))
	cfg := filepath.Join(dir, "papyrad.yaml")
	writeFile(t, cfg, fmt.Appendf(nil, "daemon: {state_dir: %q}\nstores:\n  - {name: a, backend: json, path: %q, retention: {max_age: 1d}}\n",
		filepath.Join(dir, "state"), store))

	out, err := exec.Command(papyradBin, "compact", "--config", cfg).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 78 || !strings.Contains(string(out), "PAPYRAD_TORTURE") {
		t.Errorf("papyrad with PAPYRAD_TORTURE in its environment: want exit 78 naming it, got %v\n%s", err, out)
	}
	if rep, r := compactJSON(t, "--config", cfg); r.code != 0 || rep.RecordsDropped != 10 {
		t.Errorf("papyrad through papyradEnv: want exit 0 and 10 records dropped\n%s", r)
	}
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

// writerProc is a running papyrawriter.
type writerProc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string
	errs  *syncBuffer
	done  bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWriter starts a writer appending to path (mode "append" or "hold") and waits until it
// has written its first record.
func startWriter(t *testing.T, path, name, mode string, interval time.Duration) *writerProc {
	t.Helper()
	return startWriterProc(t, name, "-path", path, "-mode", mode, "-interval", interval.String())
}

// startWriterProc starts papyrawriter as writer name with args and waits for its "ready". Its
// standard input is a pipe the test keeps open, and the test binary's death kills it (a
// -timeout panic runs no cleanup): a test that fails or dies leaves no writer appending.
func startWriterProc(t *testing.T, name string, args ...string) *writerProc {
	t.Helper()
	cmd := exec.Command(writerBin, append([]string{"-writer", name, "-stdin"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &writerProc{name: name, cmd: cmd, lines: make(chan string, 4), errs: &syncBuffer{}}
	cmd.Stderr = w.errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		if !w.done {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	select {
	case l, ok := <-w.lines:
		if !ok || l != "ready" {
			t.Fatalf("writer %s did not start: %q %s", name, l, w.errs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("writer %s wrote nothing within 20s: %s", name, w.errs)
	}
	return w
}

func (w *writerProc) pid() int { return w.cmd.Process.Pid }

// pause stops the writer between two system calls (SIGSTOP), so that the store can be read
// without a write in flight, and waits until every thread has stopped.
func (w *writerProc) pause(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !allStopped(w.pid()) {
		if time.Now().After(deadline) {
			t.Fatalf("writer %s did not stop", w.name)
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *writerProc) resume(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// allStopped reports whether every thread of pid is in the stopped state.
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// The state follows the command name, which is in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// stop ends the writer and returns how many records it wrote (seqs 0..n-1).
func (w *writerProc) stop(t *testing.T) int64 {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGCONT)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var last string
	for l := range w.lines {
		last = l
	}
	err := w.cmd.Wait()
	w.done = true
	if err != nil {
		t.Fatalf("writer %s: %v: %s", w.name, err, w.errs)
	}
	n, ok := strings.CutPrefix(last, "written ")
	count, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil {
		t.Fatalf("writer %s ended with %q, want \"written N\"", w.name, last)
	}
	return count
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
