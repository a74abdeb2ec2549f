package backendtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/testutil"
)

// seam is the fault the crash-point case injects into atomicfile's operations on the files
// of one store (its directory and its quarantine): the failAt-th operation of a run fails
// with errno (and with from set, every one after it too, as if the process had stopped doing
// I/O there). Operations on other files pass: other cases run at the same time.
type seam struct {
	dirs []string

	mu     sync.Mutex
	ops    []string // the operations of the current run, "op base-name"
	failAt int      // -1: none
	from   bool
	errno  syscall.Errno
	fail   func(op atomicfile.Op, name string) error // consulted first when set
}

func (s *seam) owns(name string) bool {
	for _, d := range s.dirs {
		if name == d || strings.HasPrefix(name, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (s *seam) hook(op atomicfile.Op, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := len(s.ops)
	s.ops = append(s.ops, string(op)+" "+filepath.Base(name))
	if s.fail != nil {
		if err := s.fail(op, name); err != nil {
			return err
		}
	}
	if s.failAt >= 0 && (i == s.failAt || (s.from && i > s.failAt)) {
		return s.errno
	}
	return nil
}

// arm starts a run's count; failAt -1 injects nothing.
func (s *seam) arm(failAt int, errno syscall.Errno, from bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops, s.failAt, s.errno, s.from = nil, failAt, errno, from
}

func (s *seam) done() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.ops
	s.ops, s.failAt = nil, -1
	return ops
}

// seams are the seams of the stores whose runs fail now. One hook, installed for the life of
// the test binary, sends each operation to the seam of its store: atomicfile has one fault
// seam, and cases of several harnesses run in parallel.
var seams struct {
	once sync.Once
	mu   sync.Mutex
	set  map[*seam]bool
}

// forever installs the hook for the life of the process: its Cleanup never runs.
type forever struct{}

func (forever) Helper()        {}
func (forever) Cleanup(func()) {}

// injectFaults makes atomicfile's operations on the files of dirs call fail first until the
// test ends, as atomicfile.InjectFaults does, without taking the package's one seam from
// the cases of other harnesses that run at the same time.
func injectFaults(t *testing.T, fail func(op atomicfile.Op, name string) error, dirs ...string) {
	t.Helper()
	sm := register(t, dirs...)
	sm.mu.Lock()
	sm.fail = fail
	sm.mu.Unlock()
}

// register routes the operations on the files of dirs to a new seam until the test ends.
// Every case of the suite injects through it: atomicfile.InjectFaults would replace the
// router, and with it the faults of cases running in parallel.
func register(t *testing.T, dirs ...string) *seam {
	t.Helper()
	seams.once.Do(func() {
		seams.set = map[*seam]bool{}
		atomicfile.InjectFaults(forever{}, func(op atomicfile.Op, name string) error {
			seams.mu.Lock()
			var owner *seam
			for s := range seams.set {
				if s.owns(name) {
					owner = s
				}
			}
			seams.mu.Unlock()
			if owner == nil {
				return nil
			}
			return owner.hook(op, name)
		})
	})
	sm := &seam{dirs: dirs, failAt: -1}
	seams.mu.Lock()
	seams.set[sm] = true
	seams.mu.Unlock()
	t.Cleanup(func() {
		seams.mu.Lock()
		delete(seams.set, sm)
		seams.mu.Unlock()
	})
	return sm
}

// crashPoints counts the file operations of a clean run, then, on a fresh store each time,
// fails each of them in turn (EIO; ENOSPC; EIO from there on, as a crash would stop every
// later one): the store must be whole after the failed run (every kept record once; expired
// files and batches whole or gone), and a normal run after it, which recovers, must leave
// exactly the kept records and nothing of papyrad's but the lock.
func (s *suite) crashPoints(t *testing.T) {
	segs := [][]byte{
		records("x", 0, 20, testutil.Old),
		slices.Concat(records("y", 0, 20, testutil.Old), records("a", 0, 30, fresh)),
		slices.Concat(records("z", 0, 20, testutil.Old), records("b", 0, 30, fresh)),
	}
	kept := map[string]int64{"a": 30, "b": 30}
	expired := map[string]int64{"x": 20, "y": 20, "z": 20}
	// Hundreds of runs, each with a dozen fsyncs: on a tmpfs where one can be mounted, since
	// the faults are injected, not met.
	base := memDir(t)
	fresh := func(t *testing.T) (*fixture, *seam) {
		t.Helper()
		dir, err := os.MkdirTemp(base, "store-")
		if err != nil {
			t.Fatal(err)
		}
		f := s.newFixture(t, dir, segs, clone(kept), clone(expired))
		// No writer: a drain ends at its first clean checks.
		f.params.MinDrain = time.Millisecond
		f.drainFor(2 * time.Second)
		return f, register(t, f.dir, f.params.Quarantine)
	}

	f, sm := fresh(t)
	sm.arm(-1, 0, false)
	f.compact(t, "clean run")
	ops := sm.done()
	if len(ops) == 0 {
		t.Fatalf("a clean run went through no atomicfile operation: faults cannot reach the backend")
	}
	t.Logf("a clean run does %d operations: %v", len(ops), ops)

	// Stopping all I/O at an operation is tried at every fourth one (all of them under
	// PAPYRAD_TORTURE=1), from an offset that changes between runs.
	stride, offset := 4, rand.IntN(4)
	if os.Getenv("PAPYRAD_TORTURE") != "" {
		stride, offset = 1, 0
	}
	// ENOSPC is injected where a filesystem can return it: not into a remove or a directory
	// fsync.
	spaceOps := func(op string) bool { return !strings.HasPrefix(op, "remove ") && !strings.HasPrefix(op, "syncdir ") }
	for _, mode := range []struct {
		name   string
		errno  syscall.Errno
		from   bool
		stride int
		only   func(op string) bool
	}{
		{"EIO", syscall.EIO, false, 1, nil},
		{"ENOSPC", syscall.ENOSPC, false, 1, spaceOps},
		{"EIO from there on", syscall.EIO, true, stride, nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			failed, tried := 0, 0
			for i := range ops {
				if (mode.stride > 1 && i%mode.stride != offset) || (mode.only != nil && !mode.only(ops[i])) {
					continue
				}
				tried++
				f, sm := fresh(t)
				sm.arm(i, mode.errno, mode.from)
				_, err := f.store.Compact(context.Background(), backends.Options{})
				got := sm.done()
				when := fmt.Sprintf("%s at operation %d (%s)", mode.name, i, ops[i])
				if i < len(got) && got[i] != ops[i] {
					when = fmt.Sprintf("%s at operation %d (%s; %s in the clean run)", mode.name, i, got[i], ops[i])
				}
				if err != nil {
					failed++
					if !errors.Is(err, mode.errno) {
						t.Errorf("%s: the run's error does not wrap %v: %v", when, mode.errno, err)
					}
				}
				f.check(t, when)
				rep := f.compact(t, when+", then a normal run")
				if len(rep.Warnings) > 0 {
					t.Errorf("%s, then a normal run: warnings %q", when, rep.Warnings)
				}
				c := f.check(t, when+", then a normal run")
				f.checkExactly(t, c, nil, when+", then a normal run")
				f.checkClean(t, when+", then a normal run")
				f.checkNoQuarantine(t, when+", then a normal run")
				if t.Failed() {
					return
				}
			}
			if failed == 0 {
				t.Errorf("no run failed although %d of its operations failed in turn", tried)
			}
			t.Logf("%d of the %d operations failed in turn; %d runs reported an error", tried, len(ops), failed)
		})
	}
}
