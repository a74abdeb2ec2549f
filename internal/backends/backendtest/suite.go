package backendtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil"
)

// maxAge is the retention every case uses: records stamped now are kept, records stamped in
// 2001 (testutil.Old) are dropped.
const maxAge = 24 * time.Hour

// Run runs every case of the suite on the harness's kind of store, each as a parallel
// subtest: the cases mostly wait (for writers, drains, kills, child processes), and each
// works on stores of its own.
func Run(t *testing.T, h *Harness) {
	s := &suite{h: h}
	t.Cleanup(s.cleanup)
	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"LiveWriters", s.liveWriters},
		{"DiskFull", s.diskFull},
		{"Ownership", s.ownership},
		{"Xattrs", s.xattrs},
		{"XattrRefused", s.xattrRefused},
		{"HardLinks", s.hardLinks},
		{"RecoverAfterCommit", s.recoverAfterCommit},
		{"CrashPoints", s.crashPoints},
		{"KillLoop", s.killLoop},
		{"Deployments", s.deployments},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// suite is one Run: the harness and the writer program the cases start, built once.
type suite struct {
	h *Harness

	buildOnce sync.Once
	binDir    string
	writerBin string
	buildErr  error
}

// writer starts a writer of the given style on f's store and adds it to f's live writers.
// Under a writer that holds its file, f's runs wait less for it (see drainFor).
func (s *suite) writer(t *testing.T, f *fixture, style WriterStyle, name string) *testutil.Writer {
	t.Helper()
	s.buildWriter(t)
	w := testutil.StartWriter(t, s.writerBin, name, style.Args(f.path, f.active(t))...)
	f.live = append(f.live, w)
	if style.Holds {
		f.drainFor(300 * time.Millisecond)
	}
	return w
}

// buildWriter builds papyrawriter once for the suite.
func (s *suite) buildWriter(t *testing.T) {
	t.Helper()
	s.buildOnce.Do(func() {
		if s.binDir, s.buildErr = os.MkdirTemp("", "papyrawriter-"); s.buildErr == nil {
			s.writerBin, s.buildErr = testutil.Build(s.binDir, "github.com/papyrad/papyrad/internal/testutil/papyrawriter")
		}
	})
	if s.buildErr != nil {
		t.Fatal(s.buildErr)
	}
}

// cleanup removes what the suite built.
func (s *suite) cleanup() {
	if s.binDir != "" {
		_ = os.RemoveAll(s.binDir)
	}
}

// stop stops the store's writers and returns how many records each wrote; the store's runs
// wait for replaced files as long as they do without writers again. A rotating writer that
// found a name gone between looking at it and renaming it (where Papyra raises
// FileNotFoundError into the application) fails the test.
func (f *fixture) stop(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, w := range f.live {
		var figures []string
		out[w.Name], figures = w.Stop(t)
		if v := vanished(t, w.Name, figures); v > 0 {
			t.Errorf("writer %s: %d of its renames found the name it had just seen gone: Papyra would have raised FileNotFoundError into the application %d times", w.Name, v, v)
		}
	}
	f.live = nil
	f.drainFor(2 * time.Second)
	return out
}

// vanished reads a rotating writer's figures ("rotations R deleted D blocked B vanished V"):
// how many of its renames and removals found a name gone. A writer that does not rotate prints
// none, and 0 is returned.
func vanished(t *testing.T, name string, figures []string) int64 {
	t.Helper()
	for _, l := range figures {
		if !strings.HasPrefix(l, "rotations ") {
			continue
		}
		var r, d, b, v int64
		if _, err := fmt.Sscanf(l, "rotations %d deleted %d blocked %d vanished %d", &r, &d, &b, &v); err != nil {
			t.Fatalf("writer %s: figures %q: %v", name, l, err)
		}
		return v
	}
	return 0
}

// fixture is one store of a case and what the case knows it must hold.
type fixture struct {
	h      *Harness
	dir    string
	path   string
	params Params
	store  Store
	// kept are batches of fresh records, writer → count: seqs 0..n-1 must all be there.
	kept map[string]int64
	// expired are batches of expired records not yet seen gone, writer → count: each is in
	// the store whole or not at all (a file is replaced at once or not at all).
	expired map[string]int64
	// gone are expired batches already removed: they never come back.
	gone map[string]bool
	// live are the writers appending now.
	live []*testutil.Writer
}

// newFixture lays out a store from segments in a fresh directory. kept and expired describe
// the batches the segments hold.
func (s *suite) newFixture(t *testing.T, dir string, segs [][]byte, kept, expired map[string]int64) *fixture {
	t.Helper()
	path, err := s.h.Create(dir, segs)
	if err != nil {
		t.Fatalf("lay out a %s store: %v", s.h.Name, err)
	}
	f := &fixture{h: s.h, dir: dir, path: path, kept: kept, expired: expired, gone: map[string]bool{}}
	if f.kept == nil {
		f.kept = map[string]int64{}
	}
	if f.expired == nil {
		f.expired = map[string]int64{}
	}
	f.params = Params{
		Path: path, Quarantine: filepath.Join(t.TempDir(), "quarantine"), StateDir: filepath.Join(t.TempDir(), "state"),
		Policy: retention.Policy{MaxAge: maxAge}, DrainTimeout: 2 * time.Second,
	}
	f.store = s.h.New(f.params)
	return f
}

// drainFor sets how long the store's runs wait for writers that hold a replaced file. The
// default, 2s, leaves room for a loaded machine's slow walks of /proc; runs under a
// long-lived writer wait it out every time, so those cases shorten it until the writer stops.
func (f *fixture) drainFor(d time.Duration) {
	f.params.DrainTimeout = d
	f.store = f.h.New(f.params)
}

func (f *fixture) active(t *testing.T) string {
	t.Helper()
	a, err := f.h.Active(f.path)
	if err != nil {
		t.Fatalf("active file of %s: %v", f.path, err)
	}
	return a
}

func (f *fixture) files(t *testing.T) []string {
	t.Helper()
	fs, err := f.h.Files(f.path)
	if err != nil {
		t.Fatalf("files of %s: %v", f.path, err)
	}
	return fs
}

// read reads the store back, oldest file first. Its writers must be paused.
func (f *fixture) read(t *testing.T) *testutil.SetContents {
	t.Helper()
	c, err := testutil.ReadFiles(f.files(t)...)
	if err != nil {
		t.Fatalf("read %s: %v", f.path, err)
	}
	return c
}

// compact runs the store in this process and fails the test on an error.
func (f *fixture) compact(t *testing.T, when string) report.Report {
	t.Helper()
	rep, err := f.store.Compact(context.Background(), backends.Options{})
	if err != nil {
		t.Fatalf("%s: Compact: %v (report %+v)", when, err, rep)
	}
	if want := wantResult(rep); rep.Result != want {
		t.Fatalf("%s: Compact: result %q, want %s (report %+v)", when, rep.Result, want, rep)
	}
	return rep
}

func (f *fixture) pause(t *testing.T) {
	t.Helper()
	for _, w := range f.live {
		w.Pause(t)
	}
}

func (f *fixture) resume(t *testing.T) {
	t.Helper()
	for _, w := range f.live {
		w.Resume(t)
	}
}

// appendExpired adds an expired batch named name: a file older than all others when the
// store can have one, and n records at the end of the active file. Writers must be paused.
func (f *fixture) appendExpired(t *testing.T, name string, n int64) {
	t.Helper()
	if f.h.AddOldest != nil {
		older := name + "-oldest"
		if err := f.h.AddOldest(f.path, records(older, 0, n, testutil.Old)); err != nil {
			t.Fatalf("add an older file to %s: %v", f.path, err)
		}
		f.expired[older] = n
	}
	active := f.active(t)
	fh, err := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(records(name, 0, n, testutil.Old)); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	f.expired[name] = n
}

// check holds the store, read with its writers paused, to what never changes: whole lines,
// no record twice, every kept batch complete, every expired batch whole or gone and gone for
// good, each writer's records in the order it wrote them. It returns what it read.
func (f *fixture) check(t *testing.T, when string) *testutil.SetContents {
	t.Helper()
	c := f.read(t)
	f.checkContents(t, c, when)
	return c
}

// checkContents is check on contents already read.
func (f *fixture) checkContents(t *testing.T, c *testutil.SetContents, when string) {
	t.Helper()
	if p := c.Problems(10); len(p) > 0 {
		t.Errorf("%s: the store is damaged:\n  %s", when, strings.Join(p, "\n  "))
	}
	sp := spans(c.Contents)
	for _, name := range sortedKeys(f.kept) {
		n := f.kept[name]
		if s := sp.get(name); s.n != n || s.max != n-1 {
			t.Errorf("%s: kept batch %s: %d distinct records (highest seq %d), want seqs 0..%d; first missing: %v",
				when, name, s.n, s.max, n-1, missing(c.Contents, name, n))
		}
	}
	for _, name := range sortedKeys(f.expired) {
		n := f.expired[name]
		if s := sp.get(name); s.n != 0 && (s.n != n || s.max != n-1) {
			t.Errorf("%s: %d of the %d records of expired batch %s are left: a file was half changed", when, s.n, n, name)
		}
	}
	for name := range f.gone {
		if sp.get(name).n > 0 {
			t.Errorf("%s: expired batch %s, removed by an earlier run, is back", when, name)
		}
	}
	// Every writer is sequential: a run keeps each one's order (a lease guards the commit
	// against an open-append-close writer; a long-lived one's lines are forwarded in order).
	last := map[string]int64{}
	var back []string
	for _, k := range c.Order {
		if prev, seen := last[k.Writer]; seen && k.Seq <= prev {
			back = append(back, fmt.Sprintf("%s after %s#%d", k, k.Writer, prev))
			continue
		}
		last[k.Writer] = k.Seq
	}
	if len(back) > 0 {
		t.Errorf("%s: %d records out of their writer's order, e.g. %v", when, len(back), back[:min(len(back), 5)])
	}
}

// settle records the expired batches that are gone now; the next checks require them gone.
func (f *fixture) settle(c *testutil.SetContents) {
	sp := spans(c.Contents)
	for name := range f.expired {
		if sp.get(name).n == 0 {
			f.gone[name] = true
			delete(f.expired, name)
		}
	}
}

// checkNoExpired fails if an expired record is left.
func checkNoExpired(t *testing.T, c *testutil.SetContents, when string) {
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

// checkWriters fails unless each writer's records 0..max are all in the store: nothing it
// wrote waits in a replaced file.
func checkWriters(t *testing.T, c *testutil.SetContents, ws []*testutil.Writer, when string) {
	t.Helper()
	sp := spans(c.Contents)
	for _, w := range ws {
		if s := sp.get(w.Name); s.n != s.max+1 {
			t.Errorf("%s: writer %s's records up to seq %d should all be in the store, %d are; first missing: %v",
				when, w.Name, s.max, s.n, missing(c.Contents, w.Name, s.max+1))
		}
	}
}

// checkExactly fails unless the store holds the kept batches and writer → n records, and
// nothing else.
func (f *fixture) checkExactly(t *testing.T, c *testutil.SetContents, written map[string]int64, when string) {
	t.Helper()
	var total int64
	sp := spans(c.Contents)
	for _, m := range []map[string]int64{f.kept, written} {
		for _, name := range sortedKeys(m) {
			n := m[name]
			total += n
			if s := sp.get(name); s.n != n || s.max != n-1 {
				t.Errorf("%s: %s: %d distinct records (highest seq %d), want seqs 0..%d; first missing: %v",
					when, name, s.n, s.max, n-1, missing(c.Contents, name, n))
			}
		}
	}
	if got := int64(len(c.Count)); got != total {
		t.Errorf("%s: the store holds %d records, want %d", when, got, total)
	}
	checkNoExpired(t, c, when)
}

// leftovers lists the names in the store's directory other than its files and papyrad's
// lock: what a run left behind.
func (f *fixture) leftovers(t *testing.T) []string {
	t.Helper()
	members := map[string]bool{lockName(f.path): true}
	for _, n := range f.files(t) {
		members[filepath.Base(n)] = true
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !members[e.Name()] {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkClean fails if anything but the store's files and papyrad's lock is left beside it.
func (f *fixture) checkClean(t *testing.T, when string) {
	t.Helper()
	if l := f.leftovers(t); len(l) > 0 {
		t.Errorf("%s: left beside the store: %v (only its files and %s may remain)", when, l, lockName(f.path))
	}
}

// pending reports whether a journal of a replaced file still waiting to be drained is left.
func (f *fixture) pending(t *testing.T) bool {
	t.Helper()
	for _, n := range f.leftovers(t) {
		if strings.HasSuffix(n, ".journal") {
			return true
		}
	}
	return false
}

// checkNoQuarantine fails if a run quarantined anything: the suite writes no broken line.
func (f *fixture) checkNoQuarantine(t *testing.T, when string) {
	t.Helper()
	entries, err := os.ReadDir(f.params.Quarantine)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("%s: nothing was corrupt, yet quarantine files exist: %v", when, entries)
	}
}

func lockName(path string) string { return ".papyrad." + filepath.Base(path) + ".lock" }

// records returns Papyra-style records writer#from … writer#from+n-1 stamped ts(seq).
func records(writer string, from, n int64, ts func(seq int64) float64) []byte {
	b := make([]byte, 0, n*200)
	for s := from; s < from+n; s++ {
		b = testutil.AppendRecord(b, testutil.Key{Writer: writer, Seq: s}, ts(s))
	}
	return b
}

func fresh(int64) float64 { return testutil.Now() }

// span summarises one writer's records in a store.
type span struct {
	n   int64 // distinct seqs present
	max int64 // highest seq, -1 if none
}

type spanMap map[string]span

func (m spanMap) get(w string) span {
	if s, ok := m[w]; ok {
		return s
	}
	return span{max: -1}
}

func spans(c *testutil.Contents) spanMap {
	out := spanMap{}
	for k := range c.Count {
		s, ok := out[k.Writer]
		if !ok {
			s = span{max: -1}
		}
		s.n++
		s.max = max(s.max, k.Seq)
		out[k.Writer] = s
	}
	return out
}

// missing lists up to 10 of writer's seqs below n that the store lacks.
func missing(c *testutil.Contents, writer string, n int64) []int64 {
	var out []int64
	for seq := int64(0); seq < n && len(out) < 10; seq++ {
		if c.Count[testutil.Key{Writer: writer, Seq: seq}] == 0 {
			out = append(out, seq)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// iterations is how many runs a kill loop starts and kills: n by default, and under
// PAPYRAD_TORTURE=1 PAPYRAD_TORTURE_ITERATIONS (100 unless set).
func iterations(t *testing.T, n int) int {
	t.Helper()
	if os.Getenv("PAPYRAD_TORTURE") == "" {
		return n
	}
	v := os.Getenv("PAPYRAD_TORTURE_ITERATIONS")
	if v == "" {
		return 100
	}
	i, err := strconv.Atoi(v)
	if err != nil || i <= 0 {
		t.Fatalf("PAPYRAD_TORTURE_ITERATIONS=%q: want a positive number", v)
	}
	return i
}

// wantResult is the result a run that did not fail must have: pending exactly when it could
// not let go of a replaced file.
func wantResult(rep report.Report) string {
	if rep.PendingFiles > 0 {
		return report.ResultPending
	}
	return report.ResultOK
}
