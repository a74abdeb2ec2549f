package livefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

var fastDrain = DrainOptions{MinDrain: 5 * time.Millisecond, Timeout: 2 * time.Second, Poll: 2 * time.Millisecond}

// setup writes a store file and opens it the way a backend does.
func setup(t *testing.T, content string) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return path, f
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertClean checks that nothing of papyrad's is left beside the store but its lock file.
func assertClean(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if atomicfile.IsOwn(e.Name()) && !strings.HasSuffix(e.Name(), "."+suffixLock) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// crasher stops the process, as a SIGKILL would, at an operation of atomicfile: from
// the first operation at accepts on, every operation fails with errCrash until revive.
type crasher struct {
	mu      sync.Mutex
	at      func(op atomicfile.Op, name string) bool
	crashed bool
	dead    bool
}

func crashAt(t *testing.T, at func(op atomicfile.Op, name string) bool) *crasher {
	c := &crasher{at: at}
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.dead && c.at != nil && c.at(op, name) {
			c.crashed, c.dead = true, true
		}
		if c.dead {
			return errCrash
		}
		return nil
	})
	return c
}

// revive lets operations through again: a new process starts.
func (c *crasher) revive() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead, c.at = false, nil
}

func (c *crasher) hasCrashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

// is matches operation op on name.
func is(op atomicfile.Op, name string) func(atomicfile.Op, string) bool {
	return func(o atomicfile.Op, n string) bool { return o == op && n == name }
}

// nth matches the nth (from 0) operation op on name.
func nth(op atomicfile.Op, name string, n int) func(atomicfile.Op, string) bool {
	seen := 0
	return func(o atomicfile.Op, m string) bool {
		if o != op || m != name {
			return false
		}
		seen++
		return seen == n+1
	}
}

func TestCommitKeepsModeAndCarriesAppends(t *testing.T) {
	path, old := setup(t, "a\nb\nc\n")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Abort()
	if _, err := rw.Write([]byte("c\n")); err != nil {
		t.Fatal(err)
	}
	// Appended after the scan, caught up before the commit.
	appendLine(t, path, "d\n")
	copied, err := rw.catchUp(context.Background(), 6)
	if err != nil || copied != 8 {
		t.Fatalf("CatchUp = %d, %v; want 8", copied, err)
	}
	// A writer that opened the store before the rename and writes after it.
	late, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.commit(context.Background(), copied, false); err != nil {
		t.Fatal(err)
	}
	if _, err := late.WriteString("e\n"); err != nil {
		t.Fatal(err)
	}
	appendLine(t, path, "f\n") // a writer that opens after the rename
	late.Close()
	res, err := rw.drain(context.Background(), fastDrain)
	if err != nil || res.Pending {
		t.Fatalf("Drain = %+v, %v", res, err)
	}
	if got := read(t, path); got != "c\nd\nf\ne\n" {
		t.Errorf("store = %q, want c d f e", got)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
	}
	assertClean(t, path)
}

func TestENOSPCLeavesStoreUntouched(t *testing.T) {
	path, old := setup(t, strings.Repeat("record\n", 1000))
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpWrite && name == hiddenName(path, "r1", suffixTemp) {
			return syscall.ENOSPC
		}
		return nil
	})
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = rw.Write([]byte(strings.Repeat("x", 2<<20)))
	if err == nil {
		_, err = rw.commit(context.Background(), 7000, false)
	}
	if !errs.IsNoSpace(err) {
		t.Fatalf("error = %v, want ENOSPC", err)
	}
	rw.Abort()
	if got := read(t, path); got != strings.Repeat("record\n", 1000) {
		t.Error("store changed after ENOSPC")
	}
	assertClean(t, path)
}

var errCrash = errors.New("simulated crash")

// TestCrashAtEveryStep stops the protocol at each step, as a SIGKILL there would, then runs
// recovery and checks the store holds either the old or the new content, plus every line the
// application appended, each exactly once. A step is the operation of atomicfile that
// begins it.
func TestCrashAtEveryStep(t *testing.T) {
	for _, tc := range []struct {
		at    string
		crash func(path string) func(atomicfile.Op, string) bool
	}{
		{"sync-temp", func(path string) func(atomicfile.Op, string) bool {
			return is(atomicfile.OpSync, hiddenName(path, "r1", suffixTemp))
		}},
		{"link-old", func(path string) func(atomicfile.Op, string) bool {
			return is(atomicfile.OpLink, hiddenName(path, "r1", suffixOld))
		}},
		{"journal", func(path string) func(atomicfile.Op, string) bool {
			return func(op atomicfile.Op, name string) bool {
				return op == atomicfile.OpCreate && strings.Contains(filepath.Base(name), suffixJournal+".")
			}
		}},
		// The journal is renamed, its directory not yet fsynced: the run dies before its check.
		{"verify", func(path string) func(atomicfile.Op, string) bool {
			return nth(atomicfile.OpSyncDir, filepath.Dir(path), 0)
		}},
		{"rename", func(path string) func(atomicfile.Op, string) bool {
			return is(atomicfile.OpExchange, path)
		}},
		{"remove-temp", func(path string) func(atomicfile.Op, string) bool {
			return is(atomicfile.OpRemove, hiddenName(path, "r1", suffixTemp))
		}},
		{"sync-dir", func(path string) func(atomicfile.Op, string) bool {
			return nth(atomicfile.OpSyncDir, filepath.Dir(path), 1)
		}},
		{"forward-write", func(path string) func(atomicfile.Op, string) bool {
			return is(atomicfile.OpWrite, path)
		}},
		// The forwarded block is written, not yet fsynced nor journaled.
		{"forward-journal", func(path string) func(atomicfile.Op, string) bool {
			return is(atomicfile.OpSync, path)
		}},
	} {
		at := tc.at
		t.Run(at, func(t *testing.T) {
			path, old := setup(t, "old1\nold2\nkeep\n")
			late, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer late.Close()
			c := crashAt(t, tc.crash(path))
			rw, err := Begin(path, old, "r1")
			if err != nil {
				t.Fatal(err)
			}
			rw.Write([]byte("keep\n"))
			_, err = rw.commit(context.Background(), 15, false)
			if err == nil {
				// The crash point is in the drain: a late line makes the drain forward.
				late.WriteString("late\n")
				_, err = rw.drain(context.Background(), fastDrain)
			}
			if !c.hasCrashed() || !errors.Is(err, errCrash) {
				t.Fatalf("did not reach step %s: %v", at, err)
			}
			// No Abort: the process is gone. A new one recovers.
			c.revive()
			late.WriteString("late2\n")
			late.Close()
			if _, err := Recover(context.Background(), path, fastDrain); err != nil {
				t.Fatal(err)
			}
			got := read(t, path)
			committed := !strings.Contains(got, "old1")
			want := "old1\nold2\nkeep\nlate2\n"
			if committed {
				want = "keep\nlate\nlate2\n"
				if at == "sync-dir" || at == "remove-temp" {
					want = "keep\nlate2\n"
				}
			}
			if got != want {
				t.Errorf("after crash at %s: store = %q, want %q", at, got, want)
			}
			assertClean(t, path)
		})
	}
}

// TestCrashAtEveryOperation stops a run, with a sidecar and a late line to forward, at each
// operation of atomicfile in turn (a clean run counts them), then recovers: the store
// holds the old content or the new, every appended line exactly once, the sidecar is final if
// and only if the store was replaced, and nothing of papyrad's is left.
func TestCrashAtEveryOperation(t *testing.T) {
	run := func(t *testing.T, path string, old *os.File) error {
		pending := filepath.Join(filepath.Dir(path), "q", ".r1.pending")
		if err := os.MkdirAll(filepath.Dir(pending), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pending, []byte("bad\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		rw, err := Begin(path, old, "r1")
		if err != nil {
			return err
		}
		rw.AddSidecar(Sidecar{Pending: pending, Final: filepath.Join(filepath.Dir(pending), "r1")})
		if _, err := rw.Write([]byte("keep\n")); err != nil {
			return err
		}
		if _, err := rw.commit(context.Background(), 15, false); err != nil {
			return err
		}
		appendLine(t, hiddenName(path, "r1", suffixOld), "late\n") // a writer of the old inode
		_, err = rw.drain(context.Background(), fastDrain)
		return err
	}
	var total int
	t.Run("clean", func(t *testing.T) {
		path, old := setup(t, "old1\nold2\nkeep\n")
		atomicfile.InjectFaults(t, func(atomicfile.Op, string) error { total++; return nil })
		if err := run(t, path, old); err != nil {
			t.Fatal(err)
		}
	})
	if total < 20 {
		t.Fatalf("a clean run went through %d operations; the count is wrong", total)
	}
	for i := range total {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			path, old := setup(t, "old1\nold2\nkeep\n")
			n := 0
			var op atomicfile.Op
			var name string
			c := crashAt(t, func(o atomicfile.Op, m string) bool {
				n++
				op, name = o, m
				return n == i+1
			})
			if err := run(t, path, old); !errors.Is(err, errCrash) {
				t.Fatalf("run = %v, want the crash at operation %d", err, i)
			}
			c.revive()
			appendLine(t, path, "late2\n")
			if _, err := Recover(context.Background(), path, fastDrain); err != nil {
				t.Fatalf("crash at %s %s: Recover: %v", op, name, err)
			}
			got := strings.Split(strings.TrimSuffix(read(t, path), "\n"), "\n")
			committed := !slices.Contains(got, "old1")
			want := []string{"old1", "old2", "keep", "late2"}
			if committed {
				want = []string{"keep", "late2"}
				if slices.Contains(got, "late") {
					want = append(want, "late")
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("crash at %s %s: store lines %q, want %q", op, name, got, want)
			}
			_, ferr := os.Stat(filepath.Join(filepath.Dir(path), "q", "r1"))
			if final := ferr == nil; final != committed {
				t.Errorf("crash at %s %s: sidecar final %v, store replaced %v", op, name, final, committed)
			}
			assertClean(t, path)
		})
	}
}

// TestAbortAfterTheExchangeKeepsTheJournal: once the store holds the new content, a failure
// that follows (removing what the exchange took out) must not make Abort discard the old
// inode or the journal; recovery then forwards the old inode's late lines.
func TestAbortAfterTheExchangeKeepsTheJournal(t *testing.T) {
	path, old := setup(t, "old\nkeep\n")
	failed := false
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpRemove && name == hiddenName(path, "r1", suffixTemp) && !failed {
			failed = true
			return syscall.EIO
		}
		return nil
	})
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte("keep\n"))
	if _, err := rw.commit(context.Background(), 9, false); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Commit = %v, want the failed removal", err)
	}
	if !rw.Committed() {
		t.Error("the store holds the new content, and Committed says no")
	}
	rw.Abort()
	appendLine(t, hiddenName(path, "r1", suffixOld), "late\n")
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "keep\nlate\n" {
		t.Errorf("store = %q, want the new content and the late line", got)
	}
}

// shellWriter is another process holding the store open for appending through one long-lived
// descriptor: each line sent to it is written through that descriptor.
type shellWriter struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	ack chan struct{}
}

func startShellWriter(t *testing.T, path string) *shellWriter {
	t.Helper()
	cmd := exec.Command("sh", "-c", `exec 3>>"$1"; while IFS= read -r l; do printf '%s\n' "$l" >&3; echo ok; done`, "sh", path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &shellWriter{cmd: cmd, in: in}
	acks := make(chan struct{})
	go func() {
		buf := make([]byte, 3)
		for {
			if _, err := io.ReadFull(out, buf); err != nil {
				close(acks)
				return
			}
			acks <- struct{}{}
		}
	}()
	w.ack = acks
	t.Cleanup(func() { w.close() })
	// Wait until the descriptor is open.
	w.write(t, "")
	return w
}

func (w *shellWriter) write(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(w.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
	<-w.ack
}

func (w *shellWriter) close() {
	w.in.Close()
	w.cmd.Wait()
}

func TestLongLivedWriterStaysPendingThenCompletes(t *testing.T) {
	path, old := setup(t, "a\nb\n")
	holder := startShellWriter(t, path) // writes an empty line first
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte("b\n"))
	if _, err := rw.commit(context.Background(), 5, false); err != nil {
		t.Fatal(err)
	}
	holder.write(t, "h1")
	res, err := rw.drain(context.Background(), DrainOptions{MinDrain: time.Millisecond, Timeout: 50 * time.Millisecond, Poll: time.Millisecond})
	if err != nil || !res.Pending || len(res.Holders) != 1 || res.Holders[0].PID != holder.cmd.Process.Pid {
		t.Fatalf("Drain = %+v, %v; want pending on pid %d", res, err, holder.cmd.Process.Pid)
	}
	holder.write(t, "h2")
	rec, err := Recover(context.Background(), path, DrainOptions{MinDrain: time.Millisecond, Timeout: 20 * time.Millisecond, Poll: time.Millisecond})
	if err != nil || rec.Pending != 1 {
		t.Fatalf("Recover = %+v, %v; want still pending", rec, err)
	}
	holder.write(t, "h3")
	holder.close()
	rec, err = Recover(context.Background(), path, fastDrain)
	if err != nil || rec.Pending != 0 || rec.Resumed != 1 {
		t.Fatalf("Recover = %+v, %v; want resumed", rec, err)
	}
	if got := read(t, path); got != "b\nh1\nh2\nh3\n" {
		t.Errorf("store = %q", got)
	}
	assertClean(t, path)
}

func TestTornForwardIsCompleted(t *testing.T) {
	path, old := setup(t, "x\n")
	late, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	rw, _ := Begin(path, old, "r1")
	rw.Write([]byte("x\n"))
	if _, err := rw.commit(context.Background(), 2, false); err != nil {
		t.Fatal(err)
	}
	late.WriteString("first-late-line\nsecond\n")
	late.Close()
	// Tear the forward: only part of the block reaches the store before the "crash".
	c := crashAt(t, func(op atomicfile.Op, name string) bool {
		if op == atomicfile.OpWrite && name == path {
			appendLine(t, path, "first-la")
			return true
		}
		return false
	})
	if _, err := rw.drain(context.Background(), fastDrain); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	c.revive()
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != "x\nfirst-late-line\nsecond\n" {
		t.Errorf("store = %q", got)
	}
	assertClean(t, path)
}

func TestLockIsExclusive(t *testing.T) {
	path, _ := setup(t, "")
	l1, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(path); !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("second Acquire = %v, want errs.ErrLocked", err)
	}
	l1.Release()
	l2, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	l2.Release()
}

func TestRecoverRemovesOrphanTemps(t *testing.T) {
	path, _ := setup(t, "a\n")
	for _, n := range []string{"abc.tmp", "abc.old", "def.journal.tmp"} {
		os.WriteFile(filepath.Join(filepath.Dir(path), atomicfile.HiddenPrefix(path)+n), []byte("junk"), 0o600)
	}
	res, err := Recover(context.Background(), path, fastDrain)
	if err != nil || res.RemovedTemps != 2 {
		t.Fatalf("Recover = %+v, %v", res, err)
	}
	if read(t, path) != "a\n" {
		t.Error("store changed")
	}
	assertClean(t, path)
}

func TestLastLineEnd(t *testing.T) {
	tests := []struct {
		in      string
		from    int64
		finalCR bool
		want    int64
	}{
		{"", 0, false, 0},
		{"abc", 0, false, 0},
		{"a\nbc", 0, false, 2},
		{"a\nb\r", 0, false, 2},
		{"a\nb\r", 0, true, 4},
		{"a\r\n", 0, false, 3},
		{"a\rb", 0, false, 2},
		{"a\nb\n", 2, false, 4},
		{"a\nbc", 2, false, 2},
	}
	for _, tc := range tests {
		got, err := lastLineEnd(strings.NewReader(tc.in), tc.from, int64(len(tc.in)), tc.finalCR)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("lastLineEnd(%q, %d, %v) = %d, want %d", tc.in, tc.from, tc.finalCR, got, tc.want)
		}
	}
}

// TestReplacedAtTheLastInstant: another program renames its own file over the store between
// papyrad's check and its exchange. The exchange is undone: that program's file stays, whole.
func TestReplacedAtTheLastInstant(t *testing.T) {
	path, old := setup(t, "a\nb\n")
	replaced := false
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpExchange && !replaced {
			replaced = true
			foreign := path + ".compact.tmp"
			os.WriteFile(foreign, []byte("papyra's own compaction\n"), 0o644)
			return os.Rename(foreign, path)
		}
		return nil
	})
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte("b\n"))
	if _, err := rw.commit(context.Background(), 4, false); !errors.Is(err, errs.ErrReplaced) {
		t.Fatalf("Commit = %v, want errs.ErrReplaced", err)
	}
	rw.Abort()
	if got := read(t, path); got != "papyra's own compaction\n" {
		t.Errorf("store = %q: the other program's file was not left alone", got)
	}
	assertClean(t, path)
}

// TestRecoverUndoesAnExchangeThatTookAnotherFile: a rotating writer moves the store away and
// starts a new file between the run's last check and its exchange, and the run dies right
// after the exchange. Recovery puts the writer's new file back under the store's name and
// drops the run's content; the moved file keeps its records.
func TestRecoverUndoesAnExchangeThatTookAnotherFile(t *testing.T) {
	path, old := setup(t, "old1\nkeep\n")
	// The first exchange takes the writer's new file; the run dies before it can undo that.
	exchanges := 0
	c := crashAt(t, func(op atomicfile.Op, name string) bool {
		if op != atomicfile.OpExchange {
			return false
		}
		exchanges++
		if exchanges == 1 {
			os.Rename(path, path+".1")
			os.WriteFile(path, []byte("new active\n"), 0o644)
		}
		return exchanges == 2
	})
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte("keep\n"))
	if _, err := rw.commit(context.Background(), int64(len("old1\nkeep\n")), false); !errors.Is(err, errCrash) {
		t.Fatalf("Commit = %v, want the crash", err)
	}
	c.revive()
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if got := read(t, path); got != "new active\n" {
		t.Errorf("store = %q, want the writer's new file", got)
	}
	if got := read(t, path+".1"); got != "old1\nkeep\n" {
		t.Errorf("moved file = %q, want it untouched", got)
	}
	assertClean(t, path)
}

// TestStoreMovedAwayIsNeverCreated: when the application moved the store away, lines written
// to the replaced file wait in it (pending) instead of a store papyrad would create and own;
// once the application makes the store again they are forwarded there.
func TestStoreMovedAwayIsNeverCreated(t *testing.T) {
	path, old := setup(t, "a\nb\n")
	holder := startShellWriter(t, path)
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte("b\n"))
	if _, err := rw.commit(context.Background(), 5, false); err != nil {
		t.Fatal(err)
	}
	holder.write(t, "h1")
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	res, err := rw.drain(context.Background(), fastDrain)
	if err != nil || !res.Pending || !res.NoStore {
		t.Fatalf("drain = %+v, %v; want pending with the store gone", res, err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("the store name exists again (%v): papyrad created it", err)
	}
	holder.close()
	rec, err := Recover(context.Background(), path, fastDrain)
	if err != nil || rec.Pending != 1 || !rec.NoStore {
		t.Fatalf("Recover without a store = %+v, %v; want still pending", rec, err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("recovery created the store (%v)", err)
	}
	// The application makes its store again; the waiting lines follow.
	if err := os.WriteFile(path, []byte("new\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	rec, err = Recover(context.Background(), path, fastDrain)
	if err != nil || rec.Pending != 0 || rec.Resumed != 1 {
		t.Fatalf("Recover = %+v, %v; want resumed", rec, err)
	}
	if got := read(t, path); got != "new\nh1\n" {
		t.Errorf("store = %q, want the application's line then the waiting one", got)
	}
	if got := read(t, path+".moved"); got != "b\n" {
		t.Errorf("moved store = %q", got)
	}
	assertClean(t, path)
}

// TestPendingOldFileGivesItsSpaceBack: a replaced file a writer keeps open stays pending, and
// the blocks of its forwarded prefix go back to the filesystem (du shrinks), unless the file
// has another name, whose content must stay.
func TestPendingOldFileGivesItsSpaceBack(t *testing.T) {
	for _, linked := range []bool{false, true} {
		t.Run(fmt.Sprintf("hard-linked %v", linked), func(t *testing.T) {
			big := strings.Repeat(`{"timestamp": 1, "pad": "`+strings.Repeat("x", 200)+`"}`+"\n", 5000)
			path, old := setup(t, big)
			if linked {
				if err := os.Link(path, path+".other"); err != nil {
					t.Fatal(err)
				}
			}
			holder := startShellWriter(t, path)
			rw, err := Begin(path, old, "r1")
			if err != nil {
				t.Fatal(err)
			}
			rw.Write([]byte("kept\n"))
			fi, err := old.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rw.commit(context.Background(), fi.Size(), false); err != nil {
				t.Fatal(err)
			}
			blocks := func() int64 { return statOf(mustStat(old)).Blocks }
			before := blocks()
			holder.write(t, "late")
			res, err := rw.drain(context.Background(), DrainOptions{MinDrain: time.Millisecond, Timeout: 50 * time.Millisecond, Poll: time.Millisecond})
			if err != nil || !res.Pending {
				t.Fatalf("drain = %+v, %v; want pending", res, err)
			}
			after := blocks()
			if linked && after != before {
				t.Errorf("a hard-linked replaced file lost blocks: %d -> %d", before, after)
			}
			if !linked && after*4 > before {
				t.Errorf("the replaced file kept its forwarded prefix: %d blocks before, %d after", before, after)
			}
			if got := read(t, path); got != "kept\nlate\n" {
				t.Errorf("store = %q", got)
			}
			if linked {
				if got := read(t, path+".other"); !strings.HasPrefix(got, big) {
					t.Errorf("the other name's content changed")
				}
			}
		})
	}
}

// TestCatchUpInPlace: a catch-up copies every line appended since the last one, in blocks
// larger than its buffer too, and takes no new memory for it: the last catch-up runs while the
// commit's lease is held, where a writer's open undoes the commit, and allocating 96 KiB there
// (with a page fault per 4 KiB of it) made that window several times longer.
func TestCatchUpInPlace(t *testing.T) {
	path, old := setup(t, "a\n")
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Abort()
	want := "a\n"
	if _, err := rw.Write([]byte(want)); err != nil {
		t.Fatal(err)
	}
	from := int64(2)
	var most uint64
	for i := range 12 {
		line := fmt.Sprintf("%d %s\n", i, strings.Repeat("x", 100))
		if i == 5 {
			line = strings.Repeat(fmt.Sprintf("%d %s\n", i, strings.Repeat("y", 999)), 150) // 150 KB
		}
		appendLine(t, path, line)
		want += line
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		to, err := rw.catchUp(context.Background(), from)
		runtime.ReadMemStats(&after)
		if err != nil || to != int64(len(want)) {
			t.Fatalf("catch-up %d: to %d, %v; want %d", i, to, err, len(want))
		}
		from = to
		most = max(most, after.TotalAlloc-before.TotalAlloc)
	}
	if most > 4<<10 {
		t.Errorf("a catch-up allocated %d bytes", most)
	}
	if _, err := rw.commit(context.Background(), from, false); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != want {
		t.Errorf("store holds %d bytes, want the %d written", len(got), len(want))
	}
}
