package livefile

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
)

// TestWriterOpeningAtTheCommitKeepsItsOrder: a writer that resolves the store's name just
// before the exchange and opens it for writing while the commit holds its lease would write
// into the replaced file after its later records reach the new one. The lease breaks; the
// exchange is undone, the writer's record lands in the store as it is, and the commit is made
// again with it: the record is in place, before anything written after it.
func TestWriterOpeningAtTheCommitKeepsItsOrder(t *testing.T) {
	path, old := setup(t, rec("x")+rec("keep"))
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte(rec("keep")))
	var once sync.Once
	opened := make(chan struct{})
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op != atomicfile.OpExchange || name != path {
			return nil
		}
		once.Do(func() {
			// The writer opens the old file now; the lease holds it back until released.
			go func() {
				defer close(opened)
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Error(err)
					return
				}
				f.WriteString(rec("w1"))
				f.Close()
			}()
			time.Sleep(50 * time.Millisecond) // long enough for its open to reach the lease
		})
		return nil
	})
	res, err := rw.Finish(context.Background(), int64(len(rec("x")+rec("keep"))), FinishOptions{Drain: fastDrain})
	if err != nil {
		t.Fatal(err)
	}
	<-opened
	appendLine(t, path, rec("w2"))
	if res.Reopened != 1 {
		t.Errorf("Reopened = %d, want 1: the exchange should have been undone once", res.Reopened)
	}
	if got, want := read(t, path), rec("keep")+rec("w1")+rec("w2"); got != want {
		t.Errorf("store = %q\nwant    %q", got, want)
	}
	if res.Drain.ForwardedLines != 0 || res.Drain.Overtaken != 0 {
		t.Errorf("drain = %+v; the record should have been carried, not forwarded", res.Drain)
	}
	assertClean(t, path)
}

// TestOvertakenLinesAreCounted: without a lease on the commit, a late line forwarded after a
// line the application added to the new file is counted as possibly out of order.
func TestOvertakenLinesAreCounted(t *testing.T) {
	path, old := setup(t, rec("x"))
	w, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	defer w.Close()
	rw, _ := Begin(path, old, "r1")
	rw.Write([]byte(rec("x")))
	if _, err := rw.commit(context.Background(), int64(len(rec("x"))), false); err != nil {
		t.Fatal(err)
	}
	appendLine(t, path, rec("new"))
	w.WriteString(rec("late"))
	w.Close()
	res, err := rw.drain(context.Background(), fastDrain)
	if err != nil {
		t.Fatal(err)
	}
	if res.Overtaken != 1 {
		t.Errorf("Overtaken = %d, want 1", res.Overtaken)
	}
	if got := read(t, path); !strings.HasSuffix(got, rec("new")+rec("late")) {
		t.Errorf("store = %q", got)
	}
}

// TestCrashAfterAnOrderedExchange: a run killed after the exchange, before its journal says
// that the last catch-up's lines are durable in the new file, leaves recovery to find them
// there: none is lost or doubled, whatever the application appended since.
func TestCrashAfterAnOrderedExchange(t *testing.T) {
	path, old := setup(t, rec("x")+rec("keep"))
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	rw.Write([]byte(rec("keep")))
	from := int64(len(rec("x") + rec("keep")))
	tmpName := hiddenName(path, "r1", suffixTemp)
	appended := false
	c := crashAt(t, func(op atomicfile.Op, name string) bool {
		if op == atomicfile.OpSync && name == tmpName && !appended {
			// Appended once the catch-up rounds are over: only the last one, under the
			// lease, can take it.
			appended = true
			appendLine(t, path, rec("during"))
		}
		// The fsync of the last catch-up's lines, after the exchange.
		return op == atomicfile.OpSync && name == tmpName && rw.Committed()
	})
	if _, err := rw.Finish(context.Background(), from, FinishOptions{Drain: fastDrain}); err == nil {
		t.Fatal("the run did not stop at the crash")
	}
	if !c.hasCrashed() {
		t.Fatal("the crash point was never reached")
	}
	c.revive()
	appendLine(t, path, rec("after"))
	if _, err := Recover(context.Background(), path, fastDrain); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), rec("keep")+rec("during")+rec("after"); got != want {
		t.Errorf("store = %q\nwant    %q", got, want)
	}
	assertClean(t, path)
}
