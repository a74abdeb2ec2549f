package backendtest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

// deployments runs the store beside a live application in each of the ways papyrad is
// deployed (testutil.Modes): as root; as its own user, which cannot read the application's
// /proc/<pid>/fd; in a PID namespace of its own, where the application's processes are not
// there at all. The application runs as its own user. In every mode and with every writer
// style no record is lost or duplicated, a run whose replaced file a writer still holds says
// so (pending, never a plain ok), and once the writer stops a run leaves exactly its records.
func (s *suite) deployments(t *testing.T) {
	testutil.Root(t, "running papyrad and the application as other users")
	// Copies other users can run, made before any test starts a process: a program being
	// written cannot be run (ETXTBSY), and a fork may briefly hold its descriptor.
	s.buildWriter(t)
	exe, writer := testutil.Shared(t, os.Args[0]), testutil.Shared(t, s.writerBin)
	for _, mode := range testutil.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			d := testutil.Deploy(t, mode)
			for _, style := range append(slices.Clone(s.h.Writers), SlowLongLived, OpensThenWaits) {
				t.Run(style.Name, func(t *testing.T) {
					t.Parallel() // mostly waits: for writers and drains
					s.deployment(t, d, exe, writer, style)
				})
			}
		})
	}
}

// SlowLongLived keeps one descriptor and pauses between records longer than a run waits for
// a replaced file to stay quiet: only a proof that nobody holds the file keeps its records.
var SlowLongLived = WriterStyle{Name: "long-lived-slow", Holds: true, Args: func(_, active string) []string {
	return []string{"-path", active, "-mode", "hold", "-interval", "2500ms"}
}}

// OpensThenWaits opens the file for each record, waits 8 s, then writes and closes it: it
// holds a file most of the time, and a run replaces the file under its open descriptor.
//
// Its record written into the replaced file stays there until something forwards it: the
// daemon within a second, here the next round's run. Its next record goes to the new file
// one wait later, so the wait is longer than a round takes on a loaded machine: a record that
// a writer puts in the new file before the one it left in the replaced file is forwarded
// comes after it (papyrad cannot keep that order when no lease guarded the commit, see
// docs/design/livefile.md). For the same reason it stops without writing the record it is
// waiting with: the test's last run, which forwards what is left in replaced files, comes
// only after the writer has stopped.
var OpensThenWaits = WriterStyle{Name: "opens-then-waits", Holds: true, Args: func(_, active string) []string {
	return []string{"-path", active, "-mode", "append", "-open-wait", "8s", "-interval", "0"}
}}

// deployStore sets f's store up as the README's deployment d does: its files the
// application's, group-writable, its directory and papyrad's quarantine as d gives them.
func deployStore(t *testing.T, d testutil.Deployment, f *fixture) {
	t.Helper()
	for _, n := range f.files(t) {
		if err := os.Chown(n, testutil.AppUID, testutil.AppUID); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(n, 0o660); err != nil {
			t.Fatal(err)
		}
	}
	d.StoreDir(t, f.dir)
	for _, dir := range []string{f.params.Quarantine, f.params.StateDir} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		d.StateDir(t, dir)
	}
}

// deployWriter starts the application's writer W of the given style on f's store, as d runs
// the application.
func deployWriter(t *testing.T, d testutil.Deployment, f *fixture, writer string, style WriterStyle) *testutil.Writer {
	t.Helper()
	args := append([]string{"-writer", "W", "-stdin"}, style.Args(f.path, f.active(t))...)
	w := testutil.StartWriterCmd(t, "W", d.Application(writer, args...))
	f.live = append(f.live, w)
	return w
}

func (s *suite) deployment(t *testing.T, d testutil.Deployment, exe, writer string, style WriterStyle) {
	const rounds, orig, batch = 3, 200, 300
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := s.newFixture(t, dir, [][]byte{records("orig", 0, orig, fresh)}, map[string]int64{"orig": orig}, nil)
	deployStore(t, d, f)
	deployWriter(t, d, f, writer, style)
	switch {
	case style.Name == SlowLongLived.Name:
		// Long enough for the writer to pause past any "quiet for a second" heuristic.
		f.drainFor(3 * time.Second)
	case style.Holds:
		f.drainFor(300 * time.Millisecond)
	}
	run := func(when string) outcome {
		t.Helper()
		o := startChild(t, s.h.Name, f.params, childOpts{exe: exe, deploy: &d}).wait(t)
		if o.Err != "" {
			t.Fatalf("%s: the run failed: %s", when, o.Err)
		}
		return o
	}
	sawPending := false
	for i := range rounds {
		f.pause(t)
		f.appendExpired(t, fmt.Sprintf("x%d", i), batch)
		f.resume(t)
		when := fmt.Sprintf("round %d", i)
		o := run(when)
		if o.Pending > 0 {
			sawPending = true
			if o.Result != report.ResultPending || len(o.Warnings) == 0 {
				t.Errorf("%s: %d replaced files pending, and the run says %q with warnings %q", when, o.Pending, o.Result, o.Warnings)
			}
		} else if o.Result != report.ResultOK {
			t.Errorf("%s: result %q with nothing pending", when, o.Result)
		}
		for _, warn := range o.Warnings {
			if !strings.Contains(warn, "held open") && !strings.Contains(warn, "rotated during the run") {
				t.Errorf("%s: unexpected warning %q", when, warn)
			}
		}
		f.pause(t)
		c := f.check(t, "after "+when)
		if !f.pending(t) {
			checkWriters(t, c, f.live, "after "+when)
		}
		f.settle(c)
		f.resume(t)
		if t.Failed() {
			return
		}
	}
	if style.Holds && !sawPending {
		t.Errorf("no run said that the long-lived writer still holds the replaced file")
	}
	written := f.stop(t)
	o := run("final run")
	if o.Pending > 0 || len(o.Warnings) > 0 || o.Result != report.ResultOK {
		t.Errorf("final run, with the writer stopped: result %q, %d pending, warnings %q", o.Result, o.Pending, o.Warnings)
	}
	c := f.check(t, "at the end")
	f.checkExactly(t, c, written, "at the end")
	f.checkClean(t, "at the end")
	if s.h.KeepsState && !holdsFile(f.params.StateDir) {
		t.Errorf("the runs kept nothing in papyrad's state directory: what they learn went unused")
	}
}

// holdsFile reports whether a regular file is anywhere under dir.
func holdsFile(dir string) bool {
	found := false
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		found = found || err == nil && e.Type().IsRegular()
		return nil
	})
	return found
}
