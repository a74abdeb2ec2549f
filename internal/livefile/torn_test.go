package livefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/testutil"
)

// rec is a record line as Papyra writes it.
func rec(id string) string { return fmt.Sprintf(`{"id": %q, "timestamp": 1700000000.5}`+"\n", id) }

// lateCommit commits a rewrite of the store at path (open as old, holding rec("x")) to
// rec("x") while a writer that opened it before the commit writes late into the replaced file.
func lateCommit(t *testing.T, path string, old *os.File, late string) *Rewrite {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte(rec("x")))
	if _, err := rw.commit(context.Background(), int64(len(rec("x"))), false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(late); err != nil {
		t.Fatal(err)
	}
	return rw
}

// tornRun commits a rewrite of a store holding rec("x"), lets a writer that held the old file
// append late, then drains with fault injected into every file operation. It returns the
// store's path and what the late writer wrote.
func tornRun(t *testing.T, late []string, fault func(op atomicfile.Op, name string) error) (string, string) {
	t.Helper()
	path, old := setup(t, rec("x"))
	block := strings.Join(late, "")
	rw := lateCommit(t, path, old, block)
	var mu sync.Mutex
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		return fault(op, name)
	})
	if _, err := rw.drain(context.Background(), fastDrain); err == nil {
		t.Fatal("the torn forward did not fail the drain")
	}
	return path, block
}

// TestTornForwardGluedToTheNextRecord: a forward torn mid-line by a kill, then the
// application's next record appended to the fragment. Recovery finds the cut, inserts the
// rest of the block there, and every record comes out whole, once, in the order written.
func TestTornForwardGluedToTheNextRecord(t *testing.T) {
	late := []string{rec("l1"), rec("l2"), rec("l3")}
	for _, n := range []int{1, 7, len(late[0]) - 1, len(late[0]), len(late[0]) + 20, len(late[0]+late[1]) + 3} {
		t.Run(fmt.Sprintf("cut after %d bytes", n), func(t *testing.T) {
			// From the torn write on, nothing papyrad does reaches the disk, as after a
			// SIGKILL between two pages of the write(2): the journal says the forward was
			// under way, not where it stopped.
			var dead, revived atomic.Bool
			path, _ := tornRun(t, late, func(op atomicfile.Op, name string) error {
				switch {
				case revived.Load():
					return nil
				case dead.Load():
					return errCrash
				case op == atomicfile.OpWrite && strings.HasSuffix(name, "events.ndjson"):
					dead.Store(true)
					return &atomicfile.Torn{N: n, Err: errCrash}
				}
				return nil
			})
			revived.Store(true)
			if got, want := read(t, path), rec("x")+strings.Join(late, "")[:n]; got != want {
				t.Fatalf("store after the torn forward = %q, want %q", got, want)
			}
			// What the kill loops let through right after a kill is what the journal says.
			fws, err := UnfinishedForwards(path, os.Geteuid())
			if err != nil {
				t.Fatal(err)
			}
			if len(fws) != 1 || fws[0].DestIno != inodeOfT(t, path) || fws[0].DestSize != int64(len(rec("x"))) ||
				string(fws[0].Block) != strings.Join(late, "") {
				t.Fatalf("unfinished forwards = %+v, want the block of %d bytes at %d", fws, len(strings.Join(late, "")), len(rec("x")))
			}
			appendLine(t, path, rec("a"))
			if _, err := Recover(context.Background(), path, fastDrain); err != nil {
				t.Fatal(err)
			}
			want := rec("x") + strings.Join(late, "") + rec("a")
			if got := read(t, path); got != want {
				t.Errorf("store = %q\nwant    %q", got, want)
			}
			assertClean(t, path)
			if fws, err := UnfinishedForwards(path, os.Geteuid()); err != nil || len(fws) != 0 {
				t.Errorf("after recovery, unfinished forwards = %+v, %v; want none", fws, err)
			}
		})
	}
}

// TestUnfinishedForwardsOfAnotherUser: a test that runs papyrad as its own user reads that
// user's journals, and only that user's, as recovery does.
func TestUnfinishedForwardsOfAnotherUser(t *testing.T) {
	testutil.Root(t, "giving a journal to papyrad's user")
	late := []string{rec("l1"), rec("l2")}
	var dead atomic.Bool
	path, _ := tornRun(t, late, func(op atomicfile.Op, name string) error {
		switch {
		case dead.Load():
			return errCrash
		case op == atomicfile.OpWrite && strings.HasSuffix(name, "events.ndjson"):
			dead.Store(true)
			return &atomicfile.Torn{N: 5, Err: errCrash}
		}
		return nil
	})
	journals, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".papyrad.*.journal"))
	if err != nil || len(journals) != 1 {
		t.Fatalf("journals beside the store: %v, %v", journals, err)
	}
	if err := os.Chown(journals[0], testutil.PapyradUID, testutil.PapyradUID); err != nil {
		t.Fatal(err)
	}
	fws, err := UnfinishedForwards(path, testutil.PapyradUID)
	if err != nil || len(fws) != 1 || string(fws[0].Block) != strings.Join(late, "") {
		t.Fatalf("papyrad's user's journal: unfinished forwards = %+v, %v; want the torn block", fws, err)
	}
	if _, err := UnfinishedForwards(path, os.Geteuid()); !errors.Is(err, errs.ErrNotOwn) {
		t.Fatalf("another user's journal read as one's own: %v, want errs.ErrNotOwn", err)
	}
}

func inodeOfT(t *testing.T, name string) uint64 {
	t.Helper()
	ino, err := inodeOf(name)
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

// TestTornForwardKnownCut: a full disk tears the forward while a long-lived writer holds the
// store, so the fragment cannot be taken back: the journal records the cut, the writer's next
// record is glued to the fragment, and recovery separates them exactly.
func TestTornForwardKnownCut(t *testing.T) {
	late := []string{rec("l1"), rec("l2")}
	path, old := setup(t, rec("x"))
	rw := lateCommit(t, path, old, strings.Join(late, ""))
	holder := startShellWriter(t, path) // holds the new store open; writes "\n"
	torn := false
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpWrite && name == path && !torn {
			torn = true
			return &atomicfile.Torn{N: 9, Err: syscall.ENOSPC}
		}
		return nil
	})
	if _, err := rw.drain(context.Background(), fastDrain); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("drain: %v, want ENOSPC", err)
	}
	j, err := loadJournal(journalPath(path, "r1"))
	if err != nil || j.Forward == nil || j.Forward.Torn == nil || j.Forward.Torn.Written != 9 {
		t.Fatalf("journal after the torn forward = %+v, %v; want the cut recorded", j, err)
	}
	holder.write(t, strings.TrimSuffix(rec("a"), "\n"))
	holder.close()
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	want := rec("x") + "\n" + strings.Join(late, "") + rec("a")
	if got := read(t, path); got != want {
		t.Errorf("store = %q\nwant    %q", got, want)
	}
	assertClean(t, path)
}

// TestTornForwardTakenBack: a full disk tears the forward and nobody else has the store open:
// the fragment is cut off at once, so nothing can be glued to it, and the next drain forwards
// the block whole, once.
func TestTornForwardTakenBack(t *testing.T) {
	late := []string{rec("l1"), rec("l2")}
	torn := false
	path, _ := tornRun(t, late, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpWrite && strings.HasSuffix(name, "events.ndjson") && !torn {
			torn = true
			return &atomicfile.Torn{N: 5, Err: syscall.ENOSPC}
		}
		return nil
	})
	if got := read(t, path); got != rec("x") {
		t.Fatalf("store after the torn forward = %q, want the fragment taken back", got)
	}
	appendLine(t, path, rec("a"))
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), rec("x")+rec("a")+strings.Join(late, ""); got != want {
		t.Errorf("store = %q\nwant    %q", got, want)
	}
	assertClean(t, path)
}

// TestForwardNeverWritten: a kill between the journal and the write leaves a forward step
// whose block never reached the store; records the application appended after it that start
// like the block must not be mistaken for a fragment of it.
func TestForwardNeverWritten(t *testing.T) {
	late := []string{rec("l1")}
	var dead, revived atomic.Bool
	path, _ := tornRun(t, late, func(op atomicfile.Op, name string) error {
		if revived.Load() {
			return nil
		}
		if op == atomicfile.OpWrite && strings.HasSuffix(name, "events.ndjson") {
			dead.Store(true)
		}
		if dead.Load() {
			return errCrash
		}
		return nil
	})
	revived.Store(true)
	// Papyra records start alike: `{"id": "l` is common to the block and these.
	appendLine(t, path, rec("l9")+rec("l1x"))
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), rec("x")+rec("l9")+rec("l1x")+rec("l1"); got != want {
		t.Errorf("store = %q\nwant    %q", got, want)
	}
	assertClean(t, path)
}

// TestReserveRefusesAFullDisk: where the space cannot be reserved the forward writes nothing.
func TestReserveRefusesAFullDisk(t *testing.T) {
	late := []string{rec("l1")}
	path, old := setup(t, rec("x"))
	rw := lateCommit(t, path, old, late[0])
	full := true
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpReserve && full {
			return syscall.ENOSPC
		}
		if op == atomicfile.OpWrite && name == path && full {
			t.Errorf("the forward wrote though its space could not be reserved")
		}
		return nil
	})
	if _, err := rw.drain(context.Background(), DrainOptions{MinDrain: time.Millisecond, Timeout: 20 * time.Millisecond, Poll: time.Millisecond}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("drain: %v, want ENOSPC", err)
	}
	full = false
	if got := read(t, path); got != rec("x") {
		t.Fatalf("store = %q", got)
	}
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != rec("x")+late[0] {
		t.Errorf("store = %q", got)
	}
}

// TestForwardOnAFullDisk: on a real filesystem that fills up, a forward that does not fit
// writes nothing (no fragment for the application's next record to be glued to), the
// application's own small append still goes through, and once there is room the lines are
// forwarded whole, once.
func TestForwardOnAFullDisk(t *testing.T) {
	dir := testutil.Tmpfs(t, "1m")
	path := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(path, []byte(rec("x")), 0o640); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	var late strings.Builder
	for i := range 3000 {
		late.WriteString(rec(fmt.Sprintf("late%d", i)))
	}
	rw := lateCommit(t, path, old, late.String())
	// Fill the filesystem, then give back a few pages: room for a record, not for the block.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	var size int64
	for {
		n, err := filler.Write(chunk)
		size += int64(n)
		if err != nil {
			break
		}
	}
	if err := filler.Truncate(size - 3*4096); err != nil {
		t.Fatal(err)
	}
	filler.Close()

	_, err = rw.drain(context.Background(), DrainOptions{MinDrain: time.Millisecond, Timeout: 20 * time.Millisecond, Poll: time.Millisecond})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("drain on a full disk: %v, want ENOSPC", err)
	}
	if got := read(t, path); got != rec("x") {
		t.Fatalf("store after the forward failed for want of space = %d bytes ending %q, want nothing added", len(got), got[max(0, len(got)-60):])
	}
	appendLine(t, path, rec("a"))
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), rec("x")+rec("a")+late.String(); got != want {
		t.Errorf("store after recovery: %d bytes, want %d: not every line once, whole", len(got), len(want))
	}
	assertClean(t, path)
}
