package rotating

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil"
)

// The tests below land a Papyra-style rotation at the worst instants of a segment step (after
// the name's last check, inside the exchange that puts a file back) and read the set the way
// Papyra does (testutil.ReadSet, which does not share papyrad's code) after the run, and, when
// the run is stopped inside the step, before and after the run that recovers.

const opsMaxFiles = 12

// opsSet is a suffix set in a fresh directory: .3 the segment the run changes, .2 its newer
// neighbour F, .1 G, the active file A. Rotations done by rotate append one record of a new
// writer batch to each new active file, as a Papyra writer would.
type opsSet struct {
	t       *testing.T
	dir     string
	store   *Store
	written int // records w#0.. appended to new active files
}

func opsKey(w string, i int) testutil.Key { return testutil.Key{Writer: w, Seq: int64(i)} }

func recs(w string, from, n int, ts float64) []byte {
	var b []byte
	for i := from; i < from+n; i++ {
		b = append(b, testutil.Record(opsKey(w, i), ts)...)
	}
	return b
}

func keys(w string, from, n int) []testutil.Key {
	var out []testutil.Key
	for i := from; i < from+n; i++ {
		out = append(out, opsKey(w, i))
	}
	return out
}

const (
	expiredTS = 1.0        // 1970: older than any max_age
	keptTS    = 4102444800 // 2100
)

func newOpsSet(t *testing.T, rewrite bool) *opsSet {
	t.Helper()
	dir := t.TempDir()
	s := &opsSet{t: t, dir: dir}
	seg := recs("x", 0, 3, expiredTS)
	if rewrite {
		seg = append(recs("x", 0, 2, expiredTS), recs("k", 0, 2, keptTS)...)
	}
	s.put(3, seg)
	s.put(2, recs("f", 0, 3, keptTS))
	s.put(1, recs("g", 0, 2, keptTS))
	s.put(0, recs("a", 0, 1, keptTS))
	s.store = New(Config{
		Name: "ops", Path: filepath.Join(dir, "events.ndjson"), Naming: Suffix, MaxFiles: opsMaxFiles,
		Policy:     retention.Policy{MaxAge: time.Hour},
		Quarantine: filepath.Join(t.TempDir(), "quarantine"),
		Drain:      livefile.DrainOptions{MinDrain: time.Millisecond, Timeout: time.Second},
	}, nil, func() time.Time { return now })
	// The segment is in a middle slot, which a run empties rather than deletes: the delete
	// step's tests have it deleted there anyway, to land rotations on the deletion.
	s.store.l.anySlotMayGo = !rewrite
	return s
}

func (s *opsSet) name(k int) string { return s.store.l.slotName(k) }

func (s *opsSet) put(k int, b []byte) {
	s.t.Helper()
	name := filepath.Join(s.dir, "events.ndjson")
	if k > 0 {
		name += fmt.Sprintf(".%d", k)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// rotate does one Papyra rotation (path.i → path.i+1 from the oldest down, path → path.1),
// then writes the next w record to a new active file.
func (s *opsSet) rotate() {
	s.t.Helper()
	for i := opsMaxFiles - 2; i >= 1; i-- {
		if _, err := os.Lstat(s.name(i)); err == nil {
			if err := os.Rename(s.name(i), s.name(i+1)); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	if err := os.Rename(s.name(0), s.name(1)); err != nil {
		s.t.Fatal(err)
	}
	s.put(0, recs("w", s.written, 1, keptTS))
	s.written++
}

// order is the records of the set in the order Papyra reads them.
func (s *opsSet) order() []testutil.Key {
	s.t.Helper()
	c, err := testutil.ReadSet(s.store.cfg.Path, testutil.SuffixNaming, opsMaxFiles)
	if err != nil {
		s.t.Fatal(err)
	}
	return c.Order
}

// hidden returns the records of papyrad's hidden files of kind suffix (".del", ".tmp").
func (s *opsSet) hidden(suffix string) []testutil.Key {
	s.t.Helper()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []testutil.Key
	for _, e := range entries {
		if !atomicfile.IsOwn(e.Name()) || !strings.HasSuffix(e.Name(), suffix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			s.t.Fatal(err)
		}
		for _, l := range testutil.SplitLines(b) {
			if k, _, ok := testutil.ParseRecord(l.Data); ok {
				out = append(out, k)
			}
		}
	}
	return out
}

// want is the set's records after the run: the kept part of the segment, F, G, A, then the
// records of every new active file.
func (s *opsSet) want(rewrite bool) []testutil.Key {
	var out []testutil.Key
	if rewrite {
		out = keys("k", 0, 2)
	}
	out = slices.Concat(out, keys("f", 0, 3), keys("g", 0, 2), keys("a", 0, 1), keys("w", 0, s.written))
	return out
}

var errKilled = errors.New("killed here")

// stepOf names the step of the segment protocol that operation op of atomicfile on
// name begins, or "": the rename that makes a step journal durable ("segment-journaled"), the
// rename that takes a segment out ("segment-take-out"), the first exchange after a rewrite is
// journaled ("segment-exchange") and the exchanges that put a file back ("segment-put-back").
// exchanged says whether the step journaled last has had its exchange.
func stepOf(op atomicfile.Op, name string, rewrite bool, exchanged *bool) string {
	switch {
	case op == atomicfile.OpRename && strings.HasSuffix(name, opSuffix):
		*exchanged = false
		return "segment-journaled"
	case op == atomicfile.OpRename && strings.HasSuffix(name, ".del"):
		return "segment-take-out"
	case op == atomicfile.OpExchange && rewrite && !*exchanged:
		*exchanged = true
		return "segment-exchange"
	case op == atomicfile.OpExchange:
		return "segment-put-back"
	}
	return ""
}

// hook lands rotations at named steps (see stepOf): at[step] lists, call by call, how many
// rotations land when the step is reached; kill stops the run the first time step kill is
// reached. The hook acts until stop is called.
func (s *opsSet) hook(rewrite bool, at map[string][]int, kill string) (stop func()) {
	var mu sync.Mutex
	active, exchanged := true, false
	calls := map[string]int{}
	atomicfile.InjectFaults(s.t, func(op atomicfile.Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		if !active {
			return nil
		}
		step := stepOf(op, name, rewrite, &exchanged)
		if step == "" {
			return nil
		}
		n := calls[step]
		calls[step]++
		if plan := at[step]; n < len(plan) {
			for range plan[n] {
				s.rotate()
			}
		}
		if step == kill && n == 0 {
			return errKilled
		}
		return nil
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		active = false
	}
}

// TestStepUnderRotation: rotations land while a step is journaled, every time one is (the step
// must follow the segment rather than give up); or a rotation slides the segment's newer
// neighbour under its name right after the last check, and more rotations land while the
// neighbour is put back, one of them inside the very exchange that puts it back (it takes a
// third file). Whatever lands, the run ends with every kept record once, in order, the segment
// deleted or rewritten, and nothing left beside the set.
func TestStepUnderRotation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite bool
		at      map[string][]int
	}{
		{"delete, rotations while every attempt is journaled", false, map[string][]int{"segment-journaled": slices.Repeat([]int{1}, 10)}},
		{"delete, rotation before the rename", false, map[string][]int{"segment-take-out": {1}}},
		{"delete, then a rotation before the exchange back", false, map[string][]int{"segment-take-out": {1}, "segment-put-back": {1}}},
		{"delete, then two rotations inside the exchange back", false, map[string][]int{"segment-take-out": {1}, "segment-put-back": {2}}},
		{"rewrite, rotations while every attempt is journaled", true, map[string][]int{"segment-journaled": slices.Repeat([]int{1}, 10)}},
		{"rewrite, rotation before the exchange", true, map[string][]int{"segment-exchange": {1}}},
		{"rewrite, then a rotation before the exchange back", true, map[string][]int{"segment-exchange": {1}, "segment-put-back": {1}}},
		{"rewrite, then two rotations inside the exchange back", true, map[string][]int{"segment-exchange": {1}, "segment-put-back": {2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOpsSet(t, tc.rewrite)
			restore := s.hook(tc.rewrite, tc.at, "")
			rep, err := s.store.Compact(context.Background(), backends.Options{})
			restore()
			if err != nil {
				t.Fatalf("Compact: %v", err)
			}
			if got, want := s.order(), s.want(tc.rewrite); !slices.Equal(got, want) {
				t.Errorf("the set reads\n  %v\nwant\n  %v", got, want)
			}
			landed := 0
			for _, plan := range tc.at {
				for _, n := range plan {
					landed += n
				}
			}
			if s.written == 0 || len(tc.at) > 1 && s.written != landed {
				t.Errorf("%d rotations landed, want %d: a step was not reached", s.written, landed)
			}
			if tc.rewrite && rep.FilesRewritten != 1 || !tc.rewrite && rep.FilesDeleted != 1 {
				t.Errorf("the segment was not changed: %d deleted, %d rewritten", rep.FilesDeleted, rep.FilesRewritten)
			}
			assertClean(t, s.dir)
		})
	}
}

// TestStepKilledInWindow stops the run inside the one window the protocol leaves (see
// docs/design/rotating.md): a rotation slid the neighbour under the name and the step took it, and the run
// dies before putting it back. The set then lacks exactly the neighbour, which waits under the
// journaled hidden name, and for a rewrite holds the segment's kept records twice; nothing is
// misordered. The next run puts the neighbour back first, and ends with the set whole. The
// error path of the stopped run must not remove the hidden file either.
func TestStepKilledInWindow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite bool
		at      map[string][]int
		// In the window: what the set reads, and what the hidden file holds.
		window, aside []testutil.Key
		suffix        string
	}{
		{
			name: "delete", at: map[string][]int{"segment-take-out": {1}},
			window: slices.Concat(keys("x", 0, 3), keys("g", 0, 2), keys("a", 0, 1), keys("w", 0, 1)),
			aside:  keys("f", 0, 3), suffix: ".del",
		},
		{
			name: "rewrite", rewrite: true, at: map[string][]int{"segment-exchange": {1}},
			window: slices.Concat(keys("x", 0, 2), keys("k", 0, 2), keys("k", 0, 2), keys("g", 0, 2), keys("a", 0, 1), keys("w", 0, 1)),
			aside:  keys("f", 0, 3), suffix: ".tmp",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOpsSet(t, tc.rewrite)
			restore := s.hook(tc.rewrite, tc.at, "segment-put-back")
			_, err := s.store.Compact(context.Background(), backends.Options{})
			restore()
			if !errors.Is(err, errKilled) {
				t.Fatalf("the run was not stopped in the window: %v", err)
			}
			if got := s.order(); !slices.Equal(got, tc.window) {
				t.Errorf("in the window the set reads\n  %v\nwant\n  %v", got, tc.window)
			}
			if got := s.hidden(tc.suffix); !slices.Equal(got, tc.aside) {
				t.Errorf("the file moved aside by mistake holds %v, want %v", got, tc.aside)
			}

			if _, err := s.store.Compact(context.Background(), backends.Options{}); err != nil {
				t.Fatalf("the recovering run: %v", err)
			}
			if got, want := s.order(), s.want(tc.rewrite); !slices.Equal(got, want) {
				t.Errorf("after recovery the set reads\n  %v\nwant\n  %v", got, want)
			}
			assertClean(t, s.dir)
		})
	}
}

// TestCrashAtEveryOperation kills a run that deletes a segment, and one that rewrites it, at
// each operation of atomicfile in turn (a clean run counts them): every operation from
// there on fails, as nothing happens after a SIGKILL. The next run recovers, and the set then
// reads every kept record once, in order, with nothing left beside it.
func TestCrashAtEveryOperation(t *testing.T) {
	for _, rewrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("rewrite=%v", rewrite), func(t *testing.T) {
			var total int
			t.Run("clean", func(t *testing.T) {
				s := newOpsSet(t, rewrite)
				atomicfile.InjectFaults(t, func(atomicfile.Op, string) error { total++; return nil })
				if _, err := s.store.Compact(context.Background(), backends.Options{}); err != nil {
					t.Fatal(err)
				}
			})
			if total < 5 {
				t.Fatalf("a clean run went through %d operations; the count is wrong", total)
			}
			for i := range total {
				t.Run(strconv.Itoa(i), func(t *testing.T) {
					s := newOpsSet(t, rewrite)
					var mu sync.Mutex
					n, dead := 0, true
					var at string
					atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
						mu.Lock()
						defer mu.Unlock()
						if n++; n == i+1 {
							at = fmt.Sprintf("%s %s", op, filepath.Base(name))
						}
						if dead && n > i {
							return errKilled
						}
						return nil
					})
					// A kill that lands on the run's best-effort cleanup leaves it successful.
					if _, err := s.store.Compact(context.Background(), backends.Options{}); err != nil && !errors.Is(err, errKilled) {
						t.Fatalf("the run killed at operation %d failed otherwise: %v", i, err)
					}
					mu.Lock()
					dead = false
					reached := at != ""
					mu.Unlock()
					if !reached {
						t.Fatalf("the run ended before operation %d", i)
					}
					if _, err := s.store.Compact(context.Background(), backends.Options{}); err != nil {
						t.Fatalf("killed at %s: the recovering run: %v", at, err)
					}
					if got, want := s.order(), s.want(rewrite); !slices.Equal(got, want) {
						t.Errorf("killed at %s: the set reads\n  %v\nwant\n  %v", at, got, want)
					}
					assertClean(t, s.dir)
				})
			}
		})
	}
}
