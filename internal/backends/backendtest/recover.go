package backendtest

import (
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/testutil"
)

// recoverAfterCommit kills a run after its commit, while it waits for a long-lived writer
// that still writes into the replaced file, and checks that the next Recover forwards what
// that writer wrote meanwhile and removes everything the run left, and that a run after it
// finds nothing to do.
func (s *suite) recoverAfterCommit(t *testing.T) {
	const orig, expired = 500, 2000
	f := s.newFixture(t, t.TempDir(),
		[][]byte{slices.Concat(records("x", 0, expired, testutil.Old), records("orig", 0, orig, fresh))},
		map[string]int64{"orig": orig}, map[string]int64{"x": expired})
	active := f.active(t)
	before := inode(t, active)
	s.writer(t, f, LongLived, "W")
	// The child's run waits for the writer until it is killed; f.store, built already, keeps
	// the default for the recovery.
	f.params.DrainTimeout = 2 * time.Minute
	c := s.startChild(t, f, childOpts{})
	deadline := time.Now().Add(time.Minute)
	for inode(t, active) == before {
		if time.Now().After(deadline) {
			c.kill(t)
			t.Fatalf("the run did not replace %s within a minute\n%s", active, c.out.String())
		}
		time.Sleep(time.Millisecond)
	}
	// Committed: the run now forwards the writer's lines into the store until it is killed.
	time.Sleep(50 * time.Millisecond)
	if _, finished, _ := c.kill(t); finished {
		t.Fatalf("the run ended while a writer held the replaced file: it should have waited for it\n%s", c.out.String())
	}
	f.pause(t)
	got := f.check(t, "killed after the commit")
	checkNoExpired(t, got, "killed after the commit")
	if !f.pending(t) {
		t.Errorf("killed after the commit, no journal is left beside the store: %v", f.leftovers(t))
	}
	f.resume(t)
	time.Sleep(20 * time.Millisecond) // more lines into the replaced file, for the recovery
	written := f.stop(t)

	if err := f.store.Recover(context.Background()); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	got = f.check(t, "recovered")
	f.checkExactly(t, got, written, "recovered")
	f.checkClean(t, "recovered")
	rep := f.compact(t, "the run after the recovery")
	if rep.FilesRewritten+rep.FilesDeleted != 0 || rep.LinesAppended != 0 || len(rep.Warnings) > 0 {
		t.Errorf("the run after the recovery: rewrote %d, deleted %d, forwarded %d lines, warned %q; want nothing to do",
			rep.FilesRewritten, rep.FilesDeleted, rep.LinesAppended, rep.Warnings)
	}
	f.checkClean(t, "after the next run")
}

func inode(t *testing.T, name string) uint64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
