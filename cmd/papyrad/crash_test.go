package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

// TestCrash kills papyrad with SIGKILL at random instants of a run while the application keeps
// appending, and checks after every kill that the store is either the old content or the new
// one plus what was appended — never a mix, never a torn line, never a duplicate — and that
// the next run recovers. Each iteration first appends a batch of expired records, so that
// every run has a large rewrite to do and kills land in every phase.
//
// The second case adds a writer that keeps one descriptor for the whole test: after the first
// commit it writes into the replaced file for good, so every run starts by forwarding its new
// lines (journaled steps that a kill may interrupt) and ends with that file still pending.
//
// The first case runs 8 iterations in `make test` (6 with -short; PAPYRAD_TORTURE_ITERATIONS,
// 100 unless set, under PAPYRAD_TORTURE=1, as `make torture` runs it), the second half as many.
func TestCrash(t *testing.T) {
	t.Parallel()
	iterations, batch := tortureCount(t, 8, 6, 100), int64(100000)
	for _, tc := range []struct {
		name string
		hold bool
	}{
		{"per-record writer", false},
		{"per-record and long-lived writers", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := iterations
			if tc.hold {
				n /= 2 // every run waits for the long-lived writer
			}
			crashLoop(t, n, batch, tc.hold)
		})
	}
}

func crashLoop(t *testing.T, iterations int, batch int64, hold bool) {
	const orig = 10000
	dir, state := t.TempDir(), t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	writeFile(t, store, records("orig", 0, orig, fresh))
	arch := filepath.Join(state, "archive")
	flags := jsonStore(store, state, "--max-age", "1d", "--archive-dir", arch)
	archived := map[string]bool{} // archive files already checked

	typical := calibrate(t, batch, orig)
	t.Logf("a run over %d records takes about %v", batch+orig, typical.Round(time.Millisecond))

	writers := []*writerProc{startWriter(t, store, "A", "append", time.Millisecond)}
	if hold {
		flags = append(flags, "--drain-timeout", "300ms")
		writers = append(writers, startWriter(t, store, "B", "hold", time.Millisecond))
	}
	// How long complete runs take, to aim the kills: the calibration run, then every
	// recovering run (with a long-lived writer, each starts by forwarding and waiting for it).
	runs := []time.Duration{typical}
	pause := func() {
		for _, w := range writers {
			w.pause(t)
		}
	}
	resume := func() {
		for _, w := range writers {
			w.resume(t)
		}
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	phases := map[string]int{}
	var verified int64 // records checked in the reads of the store and of the archive
	for i := range iterations {
		name := fmt.Sprintf("batch%d", i)
		appendFile(t, store, records(name, 0, batch, oldStamp))

		// Kills anywhere in a typical run; without a long-lived writer, every other one in
		// the first half, where the rewrite and the commit are (the drain's wait fills the
		// end of every run).
		typical = median(runs)
		delay := time.Duration(rng.Int64N(int64(typical) * 11 / 10))
		if !hold && i%2 == 1 {
			delay /= 2
		}
		phase := killedIn(t, delay, store, flags)
		phases[phase]++

		pause()
		when := fmt.Sprintf("iteration %d, killed after %v (%s)", i, delay.Round(time.Microsecond), phase)
		c := readContents(t, store)
		assertWhole(t, c, when)
		assertComplete(t, c, "orig", orig)
		if s := spanOf(spans(c), name); s.n != 0 && (s.n != batch || s.max != batch-1) {
			t.Errorf("%s: %d of the %d expired records of this round are left: a mix of the old and new content", when, s.n, batch)
		}
		assertOnlyBatch(t, c, name, when)
		verified += int64(len(c.Count))
		resume()

		rep, r := compactJSON(t, flags...)
		if r.code != 0 || !succeeded(rep) {
			t.Fatalf("%s: the next run must recover: want exit 0, result ok (pending while a writer holds a replaced file)\n%s", when, r)
		}
		runs = append(runs, r.dur)
		if rep.RecordsQuarantined != 0 {
			t.Errorf("%s: the recovering run quarantined %d lines: the kill left damaged lines", when, rep.RecordsQuarantined)
		}
		assertArchivedOnce(t, arch, archived, name, batch, when)
		verified += batch
		pause()
		when = fmt.Sprintf("iteration %d, after the recovering run", i)
		c = readContents(t, store)
		assertWhole(t, c, when)
		assertComplete(t, c, "orig", orig)
		assertNoExpired(t, c, when)
		verified += int64(len(c.Count))
		if !pending(t, store) {
			// The run drained every replaced file: all the writers wrote is in the store.
			for _, w := range writers {
				if s := spanOf(spans(c), w.name); s.n != s.max+1 {
					t.Errorf("%s: writer %s's records up to seq %d should all be in the store, %d are", when, w.name, s.max, s.n)
				}
			}
		}
		resume()
		if t.Failed() {
			break
		}
	}
	t.Logf("%d iterations; where the kills landed: %v; %d records verified in the store after each kill and each recovery and in the archive; a complete run took %v (median)",
		iterations, phases, verified, median(runs).Round(time.Millisecond))

	written := map[string]int64{}
	for _, w := range writers {
		written[w.name] = w.stop(t)
	}
	rep, r := compactJSON(t, flags...)
	if r.code != 0 || rep.Result != report.ResultOK || len(rep.Warnings) > 0 {
		t.Fatalf("final run: want exit 0, result ok, no warning\n%s", r)
	}
	c := readContents(t, store)
	assertWhole(t, c, "at the end")
	assertNoExpired(t, c, "at the end")
	assertComplete(t, c, "orig", orig)
	total := int64(orig)
	for name, n := range written {
		assertComplete(t, c, name, n)
		total += n
	}
	if got := int64(len(c.Count)); got != total {
		t.Errorf("the store holds %d records, want %d", got, total)
	}
	assertOnlyLock(t, store)
}

// assertArchivedOnce checks the archive files that appeared since the last call (seen): the
// expired batch of this round, current, must be in exactly one of them, whole and once, and
// nothing else may be archived (the other batches were checked in their rounds).
func assertArchivedOnce(t *testing.T, dir string, seen map[string]bool, current string, batch int64, when string) {
	t.Helper()
	files := archiveFiles(t, dir)
	var fresh []string
	for _, f := range files {
		if !seen[f] {
			seen[f] = true
			fresh = append(fresh, f)
		}
	}
	var content []byte
	for _, f := range fresh {
		content = append(content, decompress(t, f)...)
	}
	c := testutil.ParseContents(content)
	assertCount(t, c, current, batch, when+", archive")
	if len(c.Bad) > 0 || len(c.Count) != int(batch) {
		t.Errorf("%s: the archive files of this round hold %d records and %d bad lines, want the %d of %s", when, len(c.Count), len(c.Bad), batch, current)
	}
}

// calibrate times one full run over a store like the test's, without a writer.
func calibrate(t *testing.T, batch, orig int64) time.Duration {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	writeFile(t, store, append(records("old", 0, batch, oldStamp), records("orig", 0, orig, fresh)...))
	r := papyrad(t, append([]string{"compact"}, jsonStore(store, t.TempDir(), "--max-age", "1d")...)...)
	if r.code != 0 {
		t.Fatalf("calibration run failed\n%s", r)
	}
	return r.dur
}

// assertOnlyBatch fails if an expired batch other than the current one is left.
func assertOnlyBatch(t *testing.T, c *testutil.Contents, current, when string) {
	t.Helper()
	var left []string
	for writer := range spans(c) {
		if strings.HasPrefix(writer, "batch") && writer != current {
			left = append(left, writer)
		}
	}
	if len(left) > 0 {
		sort.Strings(left)
		t.Errorf("%s: expired records of earlier rounds are back: %v", when, left)
	}
}
