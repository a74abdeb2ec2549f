package filerun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/report"
)

// fake is a backend that records what the skeleton asks of it.
type fake struct {
	path       string
	recoverErr error
	runErr     error
	calls      []string
	runs       []*Run
}

func (f *fake) Recover(ctx context.Context, rec *Recovery) error {
	f.calls = append(f.calls, "recover")
	if f.recoverErr != nil {
		return f.recoverErr
	}
	return rec.LiveFile(ctx, f.path)
}

func (f *fake) Lost() func(archive.Part) (archive.Keep, error) {
	f.calls = append(f.calls, "lost")
	return func(archive.Part) (archive.Keep, error) { return archive.Keep{Whole: true}, nil }
}

func (f *fake) Run(ctx context.Context, run *Run) error {
	f.calls = append(f.calls, "run")
	f.runs = append(f.runs, run)
	if f.runErr != nil {
		return f.runErr
	}
	// What a backend that touched the store would do: it is checked to be untouched when the
	// run must not get here.
	return os.WriteFile(f.path, []byte("rewritten\n"), 0o644)
}

const content = "{\"a\": 1}\n"

// newRunner returns a one-file store with an archive, its fake backend, and the archive's
// directory for the store.
func newRunner(t *testing.T, oneFile bool) (*Runner, *fake, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fake{path: path}
	cfg := Config{
		Name: "events", Kind: "test", Path: path, OneFile: oneFile,
		PapyraTemps: []string{path + ".compact.tmp"}, PapyraActivity: time.Minute,
		Drain:      livefile.DrainOptions{MinDrain: time.Millisecond, Timeout: time.Second},
		Quarantine: filepath.Join(dir, "quarantine"),
		Archive:    &archive.Config{Dir: filepath.Join(dir, "archive"), Compress: archive.None, MaxAge: time.Hour},
	}
	return New(cfg, f), f, filepath.Join(cfg.Archive.Dir, "events")
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLockedIsSkipped(t *testing.T) {
	r, f, _ := newRunner(t, true)
	lock, err := livefile.Acquire(f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	rep, err := r.Compact(context.Background(), backends.Options{})
	if !errors.Is(err, errs.ErrLocked) || rep.Result != report.ResultSkipped || rep.Reason != "locked" {
		t.Fatalf("err %v, result %q, reason %q; want errs.ErrLocked, skipped, locked", err, rep.Result, rep.Reason)
	}
	if len(f.calls) != 0 {
		t.Errorf("the backend was asked %v while another run held the store", f.calls)
	}
	if err := r.Recover(context.Background()); !errors.Is(err, errs.ErrLocked) {
		t.Errorf("Recover: %v, want errs.ErrLocked", err)
	}
}

func TestRecoveryErrorFailsBeforeTheStore(t *testing.T) {
	r, f, _ := newRunner(t, true)
	f.recoverErr = errors.New("journal unreadable")
	rep, err := r.Compact(context.Background(), backends.Options{})
	if !errors.Is(err, f.recoverErr) || !strings.Contains(err.Error(), "recover earlier runs") || rep.Result != report.ResultError {
		t.Fatalf("err %v, result %q; want the recovery error, result error", err, rep.Result)
	}
	if strings.Join(f.calls, ",") != "recover" {
		t.Errorf("calls %v: nothing may follow a failed recovery", f.calls)
	}
	if got := read(t, f.path); got != content {
		t.Errorf("store = %q after a failed recovery", got)
	}
}

func TestOrder(t *testing.T) {
	r, f, _ := newRunner(t, true)
	rep, err := r.Compact(context.Background(), backends.Options{})
	if err != nil || rep.Result != report.ResultOK {
		t.Fatalf("Compact: %v, %+v", err, rep)
	}
	if got := strings.Join(f.calls, ","); got != "recover,lost,run" {
		t.Errorf("calls %s; want recover, then the archive's recovery (lost), then run", got)
	}
	run := f.runs[0]
	if run.ID == "" || run.Report.Store != "events" || run.DryRun() {
		t.Errorf("run handed to the backend: %+v", run)
	}
	if rep.Store != "events" || rep.Backend != "test" || rep.Duration <= 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestPruneOnlyOnSuccess(t *testing.T) {
	for _, fail := range []bool{true, false} {
		r, f, archDir := newRunner(t, true)
		old := filepath.Join(archDir, "2025-12-31", "0123456789abcdef.ndjson")
		if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(old, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(old, past, past); err != nil {
			t.Fatal(err)
		}
		if fail {
			f.runErr = errors.New("disk on fire")
		}
		rep, err := r.Compact(context.Background(), backends.Options{})
		_, statErr := os.Stat(old)
		switch {
		case fail && (!errors.Is(err, f.runErr) || rep.Result != report.ResultError):
			t.Errorf("failed run: err %v, result %q", err, rep.Result)
		case fail && (statErr != nil || rep.ArchivesPruned != 0):
			t.Errorf("a failed run pruned the archive (%v, %d pruned)", statErr, rep.ArchivesPruned)
		case !fail && (err != nil || !os.IsNotExist(statErr) || rep.ArchivesPruned != 1):
			t.Errorf("a successful run did not prune: err %v, stat %v, %d pruned", err, statErr, rep.ArchivesPruned)
		}
	}
}

func TestDryRunTakesNoLock(t *testing.T) {
	r, f, _ := newRunner(t, true)
	dir := filepath.Dir(f.path)
	f.runErr = errors.New("stop before writing") // the fake writes the store otherwise
	_, err := r.Compact(context.Background(), backends.Options{DryRun: true})
	if !errors.Is(err, f.runErr) || strings.Join(f.calls, ",") != "run" || !f.runs[0].DryRun() {
		t.Fatalf("dry run: err %v, calls %v; want only the run, as a dry run", err, f.calls)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if atomicfile.IsOwn(e.Name()) {
			t.Errorf("a dry run created %s", e.Name())
		}
	}
	// Another run holds the store: a dry run still reads it.
	lock, err := livefile.Acquire(f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if rep, err := r.Compact(context.Background(), backends.Options{DryRun: true}); !errors.Is(err, f.runErr) || len(f.runs) != 2 {
		t.Errorf("dry run beside a held lock: %v, %+v; want it run", err, rep)
	}
}

func TestRefusals(t *testing.T) {
	t.Run("symbolic link", func(t *testing.T) {
		for _, oneFile := range []bool{true, false} {
			r, f, _ := newRunner(t, oneFile)
			target := f.path + ".real"
			os.Rename(f.path, target)
			if err := os.Symlink(target, f.path); err != nil {
				t.Fatal(err)
			}
			_, err := r.Compact(context.Background(), backends.Options{})
			if !errors.Is(err, errs.ErrNotRegular) || !strings.Contains(err.Error(), "symbolic link") || len(f.calls) != 0 {
				t.Errorf("one file %v: err %v, calls %v", oneFile, err, f.calls)
			}
		}
	})
	t.Run("directory", func(t *testing.T) {
		r, f, _ := newRunner(t, true)
		os.Remove(f.path)
		os.Mkdir(f.path, 0o755)
		if _, err := r.Compact(context.Background(), backends.Options{}); !errors.Is(err, errs.ErrNotRegular) || !strings.Contains(err.Error(), "directory") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		r, f, _ := newRunner(t, true)
		os.Remove(f.path)
		for _, dry := range []bool{true, false} {
			rep, err := r.Compact(context.Background(), backends.Options{DryRun: dry})
			if !errors.Is(err, errs.ErrMissing) || rep.Result != report.ResultError || len(f.calls) != 0 ||
				!strings.Contains(rep.Error, "store events: "+f.path+" does not exist") {
				t.Errorf("dry %v: err %v, calls %v, report %+v", dry, err, f.calls, rep)
			}
		}
		if names, _ := filepath.Glob(filepath.Join(filepath.Dir(f.path), ".papyrad*")); len(names) != 0 {
			t.Errorf("a run of a missing store left %v", names)
		}
	})
	t.Run("missing file, missing_ok", func(t *testing.T) {
		r, f, _ := newRunner(t, true)
		r.cfg.MissingOK = true
		os.Remove(f.path)
		rep, err := r.Compact(context.Background(), backends.Options{})
		if err != nil || rep.Result != report.ResultOK || len(f.calls) != 0 || !strings.Contains(strings.Join(rep.Warnings, ""), "does not exist (missing_ok)") {
			t.Errorf("err %v, calls %v, report %+v", err, f.calls, rep)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		r, f, _ := newRunner(t, true)
		r.cfg.Path = filepath.Join(filepath.Dir(f.path), "gone", "events.ndjson")
		if _, err := r.Compact(context.Background(), backends.Options{}); !errors.Is(err, errs.ErrMissing) || !strings.Contains(err.Error(), r.cfg.Path) {
			t.Errorf("err %v", err)
		}
		if err := r.Recover(context.Background()); err != nil {
			t.Errorf("recovering a store whose directory is missing: %v", err)
		}
	})
	t.Run("missing name of a set", func(t *testing.T) {
		r, f, _ := newRunner(t, false)
		os.Remove(f.path)
		if _, err := r.Compact(context.Background(), backends.Options{}); err != nil || len(f.runs) != 1 {
			t.Errorf("err %v, calls %v: a set whose name is free still runs", err, f.calls)
		}
	})
	t.Run("set with no file", func(t *testing.T) {
		for _, ok := range []bool{false, true} {
			r, f, _ := newRunner(t, false)
			r.cfg.Present = func() (bool, error) { return false, nil }
			r.cfg.MissingOK = ok
			_, err := r.Compact(context.Background(), backends.Options{})
			if errors.Is(err, errs.ErrMissing) == ok || len(f.calls) != 0 {
				t.Errorf("missing_ok %v: err %v, calls %v", ok, err, f.calls)
			}
		}
	})
	t.Run("papyra active", func(t *testing.T) {
		r, f, _ := newRunner(t, true)
		os.WriteFile(f.path+".compact.tmp", nil, 0o644)
		for _, dry := range []bool{true, false} {
			rep, err := r.Compact(context.Background(), backends.Options{DryRun: dry})
			if !errors.Is(err, errs.ErrBusy) || rep.Result != report.ResultSkipped || rep.Reason != "papyra_active" || len(f.calls) != 0 {
				t.Errorf("dry %v: err %v, report %+v, calls %v", dry, err, rep, f.calls)
			}
		}
		// Left behind long ago: not a compaction in progress.
		past := time.Now().Add(-time.Hour)
		os.Chtimes(f.path+".compact.tmp", past, past)
		if _, err := r.Compact(context.Background(), backends.Options{}); err != nil || len(f.runs) != 1 {
			t.Errorf("a stale Papyra temp file: err %v, calls %v", err, f.calls)
		}
	})
}

func TestPapyraActive(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	fresh, stale := filepath.Join(dir, "a.compact.tmp"), filepath.Join(dir, "a.recovered.tmp")
	os.WriteFile(fresh, nil, 0o644)
	os.WriteFile(stale, nil, 0o644)
	os.Chtimes(stale, now.Add(-time.Hour), now.Add(-time.Hour))
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{filepath.Join(dir, "missing")}, ""},
		{[]string{stale}, ""},
		{[]string{stale, fresh}, fresh},
	} {
		if got := PapyraActive(tc.names, now, 10*time.Minute); got != tc.want {
			t.Errorf("PapyraActive(%v) = %q, want %q", tc.names, got, tc.want)
		}
	}
}

// TestPendingWarnings pins the texts operators and the end-to-end tests read.
func TestPendingWarnings(t *testing.T) {
	hs := []livefile.Holder{{PID: 42, Comm: "python3", Write: true}}
	for _, tc := range []struct {
		name      string
		hs        []livefile.Holder
		unproven  string
		recovered bool
		want      string
	}{
		{"", hs, "", false, "the replaced file is still held open for writing by [pid 42 (python3)]; its new lines are forwarded (every second by the daemon, else by the next run) until it is let go"},
		{"", hs, "", true, "the replaced file is still held open for writing by [pid 42 (python3)]; its new lines are forwarded (every second by the daemon, else by the next run) until it is let go"},
		{"/s/events.ndjson", hs, "", false, "the replaced /s/events.ndjson is still held open for writing by [pid 42 (python3)]; its new lines are forwarded (every second by the daemon, else by the next run) until it is let go"},
		{"/s/events.ndjson", hs, "", true, "a replaced /s/events.ndjson is still held open for writing by [pid 42 (python3)]"},
		{"", nil, "", false, "the replaced file is still held open for writing by a process papyrad cannot see (another user's, or in another PID namespace); its new lines are forwarded (every second by the daemon, else by the next run) until it is let go"},
		{"/s/events.ndjson", nil, "read lease on /s/.old: no file lease can be taken: permission denied", true,
			"a replaced /s/events.ndjson is still kept: papyrad cannot ask the kernel whether it is (read lease on /s/.old: no file lease can be taken: permission denied); grant CAP_LEASE or run papyrad as the store's owner"},
	} {
		if got := pendingWarning(tc.name, tc.hs, tc.unproven, tc.recovered); got != tc.want {
			t.Errorf("pendingWarning(%q, recovered %v) =\n%s\nwant\n%s", tc.name, tc.recovered, got, tc.want)
		}
	}
}

// TestReplace: lines appended during the run count as appended; an error before the commit
// names the file and leaves it untouched.
func TestReplace(t *testing.T) {
	r, f, _ := newRunner(t, false)
	run := &Run{ID: "r1", Start: time.Now(), Report: &report.Report{}, r: r}
	begin := func() *livefile.Rewrite {
		old, err := os.Open(f.path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { old.Close() })
		rw, err := livefile.Begin(f.path, old, atomicfile.NewRunID())
		if err != nil {
			t.Fatal(err)
		}
		return rw
	}

	rw := begin()
	refused := errors.New("archive full")
	_, err := run.Replace(context.Background(), rw, int64(len(content)), f.path, func() error { return refused }, nil)
	rw.Abort()
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "compact "+f.path) {
		t.Fatalf("Replace = %v, want the hook's error naming the file", err)
	}
	if got := read(t, f.path); got != content {
		t.Fatalf("store = %q after a refused commit", got)
	}

	rw = begin()
	appended := "{\"b\": 2}\n"
	af, _ := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0)
	af.WriteString(appended)
	af.Close()
	var afterErr error = errors.New("not called")
	if _, err := run.Replace(context.Background(), rw, int64(len(content)), f.path, nil, func(err error) { afterErr = err }); err != nil || afterErr != nil {
		t.Fatalf("Replace = %v, after-commit hook saw %v", err, afterErr)
	}
	if got := read(t, f.path); got != appended {
		t.Errorf("store = %q, want only the line appended during the run", got)
	}
	if run.Report.LinesAppended != 1 || len(run.Report.Warnings) != 0 {
		t.Errorf("report %+v: want one line appended, no warning", run.Report)
	}
}
