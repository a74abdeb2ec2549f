package backendtest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/testutil"
)

// killLoop runs, for each deployment mode and writer style, a loop in which a run in a child
// process, deployed as that mode runs papyrad, is SIGKILLed at a random instant while the
// writer (as that mode runs the application) appends, then checks the store as the kill left
// it, lets a run recover it, and checks it again.
func (s *suite) killLoop(t *testing.T) {
	testutil.Root(t, "running papyrad and the application as other users")
	s.buildWriter(t)
	exe, writer := testutil.Shared(t, os.Args[0]), testutil.Shared(t, s.writerBin)
	for _, mode := range testutil.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			d := testutil.Deploy(t, mode)
			for _, style := range s.h.Writers {
				t.Run(style.Name, func(t *testing.T) {
					t.Parallel() // mostly waits: for drains, for the kills
					s.killLoopWith(t, style, d, exe, writer)
				})
			}
		})
	}
}

func (s *suite) killLoopWith(t *testing.T, style WriterStyle, d testutil.Deployment, exe, writer string) {
	n := iterations(t, 2)
	const orig, batch = 500, 1000
	// How long a complete run takes, to aim the kills: one over a store like the loop's.
	cal := s.newFixture(t, t.TempDir(),
		[][]byte{slices.Concat(records("x", 0, batch, testutil.Old), records("o", 0, orig, fresh))}, nil, nil)
	calRun := s.startChild(t, cal, childOpts{})
	if o := calRun.wait(t); o.Err != "" {
		t.Fatalf("calibration run: %s", o.Err)
	}
	durations := []time.Duration{time.Since(calRun.start)}

	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := s.newFixture(t, dir, [][]byte{records("orig", 0, orig, fresh)}, map[string]int64{"orig": orig}, nil)
	deployStore(t, d, f)
	w := deployWriter(t, d, f, writer, style)
	if style.Holds {
		f.drainFor(300 * time.Millisecond)
	}
	opts := childOpts{exe: exe, deploy: &d}
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	phases := map[string]int{}
	var verified int
	for i := range n {
		f.pause(t)
		f.appendExpired(t, fmt.Sprintf("x%d", i), batch)
		f.resume(t)

		// Anywhere in a typical run; one kill in three in its second half, where the commit
		// and the drain are; one in three within 2ms of the run's first new hidden file
		// other than a temp being filled (a journal, a link to a replaced file), to land in
		// the short steps that change the store's names.
		typical := median(durations)
		delay := time.Duration(rng.Int64N(int64(typical) * 11 / 10))
		if i%3 == 1 {
			delay = typical/2 + time.Duration(rng.Int64N(int64(typical)*6/10))
		}
		var o outcome
		var finished bool
		var dur time.Duration
		if c := s.startChild(t, f, opts); i%3 == 2 {
			o, finished, dur = c.killAimed(t, f.newHidden(t), 2*time.Millisecond, rng)
			delay = dur
		} else {
			o, finished, dur = c.killAfter(t, delay)
		}
		when := fmt.Sprintf("iteration %d, killed after %v", i, delay.Round(time.Microsecond))
		if finished {
			durations = append(durations, dur)
			when = fmt.Sprintf("iteration %d, the run finished before the kill at %v", i, delay.Round(time.Microsecond))
			if o.Err != "" {
				t.Errorf("%s: a run under a live writer failed: %s", when, o.Err)
			}
			phases["finished"]++
		} else {
			phases[f.phase(t)]++
		}

		f.pause(t)
		verified += len(f.checkAfterKill(t, when, d.PapyradUser()).Count)
		f.resume(t)

		start := time.Now()
		rep := s.startChild(t, f, opts).wait(t)
		durations = append(durations, time.Since(start))
		if rep.Err != "" {
			t.Fatalf("%s: the recovering run failed: %s", when, rep.Err)
		}
		if rep.Quarantined != 0 {
			t.Errorf("%s: the recovering run quarantined %d lines: the kill left damaged lines", when, rep.Quarantined)
		}
		f.pause(t)
		when = fmt.Sprintf("iteration %d, after the recovering run", i)
		c := f.check(t, when)
		verified += len(c.Count)
		if len(rep.Warnings) == 0 {
			checkNoExpired(t, c, when)
		}
		if !f.pending(t) {
			checkWriters(t, c, f.live, when)
		}
		f.settle(c)
		f.resume(t)
		if t.Failed() {
			return
		}
	}
	written := f.stop(t)
	rep := s.startChild(t, f, opts).wait(t)
	if rep.Err != "" || len(rep.Warnings) > 0 || rep.Pending > 0 {
		t.Errorf("final run, with the writer stopped: error %q, %d pending, warnings %q", rep.Err, rep.Pending, rep.Warnings)
	}
	c := f.check(t, "at the end")
	f.checkExactly(t, c, written, "at the end")
	f.checkClean(t, "at the end")
	f.checkNoQuarantine(t, "at the end")
	t.Logf("%d runs killed or finished (%v); %d records checked after the kills and the recoveries; the writer wrote %d; a complete run took %v (median)",
		n, phases, verified, written[w.Name], median(durations).Round(time.Millisecond))
}

// newHidden returns a function that says whether a hidden file of papyrad's other than a
// temp file (".tmp") that was not there when newHidden was called has appeared beside the
// store.
func (f *fixture) newHidden(t *testing.T) func() bool {
	t.Helper()
	before := map[string]bool{}
	for _, n := range f.leftovers(t) {
		before[n] = true
	}
	return func() bool {
		entries, _ := os.ReadDir(f.dir)
		for _, e := range entries {
			n := e.Name()
			if strings.HasPrefix(n, ".papyrad.") && !strings.HasSuffix(n, ".tmp") && n != lockName(f.path) && !before[n] {
				return true
			}
		}
		return false
	}
}

// phase says what a killed run left beside the store, by the kinds of papyrad's hidden files.
func (f *fixture) phase(t *testing.T) string {
	t.Helper()
	kinds := map[string]bool{}
	for _, n := range f.leftovers(t) {
		if !strings.HasPrefix(n, ".papyrad.") {
			continue
		}
		i := strings.LastIndexByte(n, '.')
		kinds[n[i+1:]] = true
	}
	if len(kinds) == 0 {
		return "nothing left"
	}
	var out []string
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// checkAfterKill is check for a store as a kill left it. A SIGKILL between two pages of a
// forward's write(2) leaves the block's first part at the end of the file it went to, cut
// mid-line, and a writer's next record may be glued to it: nothing can make an append to a
// file others append to whole against that, so recovery completes it (livefile's torn.go).
// One such line per forward the journals record as unfinished, exactly a fragment of its
// block where the block went, is let through; any other damage fails as in check. The
// journals are papyrad's, which runs as uid.
func (f *fixture) checkAfterKill(t *testing.T, when string, uid int) *testutil.SetContents {
	t.Helper()
	c := f.read(t)
	if len(c.Bad) > 0 {
		c.Bad = f.unexplained(t, c, when, uid)
	}
	f.checkContents(t, c, when)
	return c
}

// unexplained returns the damaged lines of c that no unfinished forward explains (by the
// journals of a papyrad that runs as uid), and logs those it does.
func (f *fixture) unexplained(t *testing.T, c *testutil.SetContents, when string, uid int) []testutil.Line {
	t.Helper()
	fws, err := livefile.UnfinishedForwards(f.active(t), uid)
	if err != nil {
		t.Fatalf("%s: unfinished forwards of %s: %v", when, f.path, err)
	}
	explained := map[int64]bool{} // by offset in the set, as c.Bad counts them
	var base int64
	for _, name := range c.Files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		ino := inode(t, name)
		for _, l := range testutil.SplitLines(b) {
			for i, fw := range fws {
				if fw.DestIno == ino && tornFragment(b, l, fw) {
					explained[base+l.Off] = true
					t.Logf("%s: %s ends, at offset %d, with a forward cut short: %q", when, name, l.Off, testutil.Abbrev(l.Raw, 80))
					fws = slices.Delete(fws, i, i+1)
					break
				}
			}
		}
		base += int64(len(b))
	}
	var out []testutil.Line
	for _, l := range c.Bad {
		if !explained[l.Off] {
			out = append(out, l)
		}
	}
	return out
}

// tornFragment says whether line l of file b is what a forward of fw cut short leaves: the
// block starts at a line of b at or after fw.DestSize, its whole lines up to l are there, and
// l is the start of the block's next line, cut mid-line, either ending b or followed by one
// whole record of a writer.
func tornFragment(b []byte, l testutil.Line, fw livefile.Unfinished) bool {
	for j := 0; j < len(fw.Block); {
		next := len(fw.Block)
		if i := bytes.IndexByte(fw.Block[j:], '\n'); i >= 0 {
			next = j + i + 1
		}
		start := l.Off - int64(j)
		if start >= fw.DestSize && bytes.Equal(b[start:l.Off], fw.Block[:j]) {
			first := fw.Block[j:next] // the line l would be, whole
			for m := min(len(first)-1, len(l.Raw)); m > 0; m-- {
				if !bytes.Equal(l.Raw[:m], first[:m]) {
					continue
				}
				rest := l.Raw[m:]
				if len(rest) == 0 && l.Off+int64(m) == int64(len(b)) {
					return true
				}
				if len(rest) > 1 && rest[len(rest)-1] == '\n' {
					if _, _, ok := testutil.ParseRecord(rest[:len(rest)-1]); ok {
						return true
					}
				}
			}
		}
		j = next
	}
	return false
}
