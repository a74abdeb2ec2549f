package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/report"
)

// TestConcurrentWriters compacts a store again and again while two applications append to
// it: one opening the file for every record (Papyra's way), one through a descriptor it keeps
// for the whole test, so that it writes into the replaced file after the first run. Between
// runs a third party appends a batch of expired records, so that every run rewrites the file.
// No record may be lost, duplicated or torn, and the expired ones must all go.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	rounds, batch := 15, int64(2000)
	if testing.Short() {
		rounds = 5
	}
	dir, state := t.TempDir(), t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	const old, orig = 20000, 500
	writeFile(t, store, append(records("old", 0, old, oldStamp), records("orig", 0, orig, fresh)...))
	args := jsonStore(store, state, "--max-age", "1d", "--drain-timeout", "300ms")

	perRecord := startWriter(t, store, "A", "append", time.Millisecond)
	longLived := startWriter(t, store, "B", "hold", time.Millisecond)
	holderNamed := false
	for i := range rounds {
		name := fmt.Sprintf("batch%d", i)
		if i > 0 {
			appendFile(t, store, records(name, 0, batch, oldStamp))
		}
		rep, r := compactJSON(t, args...)
		if r.code != 0 || !succeeded(rep) {
			t.Fatalf("round %d: want exit 0 and result ok (pending while a writer holds a replaced file)\n%s", i, r)
		}
		wantDropped := batch
		if i == 0 {
			wantDropped = old
		}
		if rep.RecordsDropped < wantDropped || rep.FilesRewritten != 1 || rep.RecordsQuarantined != 0 {
			t.Errorf("round %d: dropped %d (want at least %d), rewrote %d files, quarantined %d",
				i, rep.RecordsDropped, wantDropped, rep.FilesRewritten, rep.RecordsQuarantined)
		}
		// Between runs, with both writers paused: whole lines, no duplicate, the fresh
		// originals all there, every expired batch gone.
		perRecord.pause(t)
		longLived.pause(t)
		c := readContents(t, store)
		assertWhole(t, c, fmt.Sprintf("after round %d", i))
		assertNoExpired(t, c, fmt.Sprintf("after round %d", i))
		assertComplete(t, c, "orig", orig)
		if !strings.Contains(strings.Join(rep.Warnings, " "), fmt.Sprintf("pid %d ", perRecord.pid())) {
			// Nothing of A's is pending in a replaced file: all it wrote is in the store.
			if s := spanOf(spans(c), "A"); s.n != s.max+1 {
				t.Errorf("after round %d: writer A's records up to seq %d are in the store, but only %d of them", i, s.max, s.n)
			}
		}
		perRecord.resume(t)
		longLived.resume(t)
		for _, w := range rep.Warnings {
			if !strings.Contains(w, "held open") {
				t.Errorf("round %d: unexpected warning %q", i, w)
			}
			if strings.Contains(w, fmt.Sprintf("pid %d ", longLived.pid())) {
				holderNamed = true
			}
		}
	}
	if !holderNamed {
		t.Errorf("no run warned that pid %d still holds the replaced file open", longLived.pid())
	}

	nA, nB := perRecord.stop(t), longLived.stop(t)
	rep, r := compactJSON(t, args...)
	if r.code != 0 || rep.Result != report.ResultOK || len(rep.Warnings) > 0 {
		t.Fatalf("final run: want exit 0, result ok, no warning\n%s", r)
	}
	t.Logf("%d rounds; writer A appended %d records, writer B %d; the final run forwarded %d", rounds, nA, nB, rep.LinesAppended)

	c := readContents(t, store)
	assertWhole(t, c, "after the writers stopped")
	assertNoExpired(t, c, "after the writers stopped")
	assertComplete(t, c, "A", nA)
	assertComplete(t, c, "B", nB)
	assertComplete(t, c, "orig", orig)
	if got, want := int64(len(c.Count)), nA+nB+orig; got != want {
		t.Errorf("the store holds %d records, want %d (A, B and the fresh originals)", got, want)
	}
	assertOnlyLock(t, store)
	if f := filesUnder(t, filepath.Join(state, "quarantine")); len(f) > 0 {
		t.Errorf("nothing was corrupt, yet quarantine files exist: %v", f)
	}
}
