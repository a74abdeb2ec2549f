package livefile

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

// TestFinish: the lines appended during the run are caught up, BeforeCommit sees the store
// untouched, AfterCommit runs after the commit, and a stop that comes then does not cut the
// drain short: the line a writer adds to the replaced file is forwarded.
func TestFinish(t *testing.T) {
	path, old := setup(t, "a\nb\n")
	rw, err := Begin(path, old, "r1")
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Abort()
	rw.Write([]byte("b\n"))
	appendLine(t, path, "c\n")
	late, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls []string
	res, err := rw.Finish(ctx, 4, FinishOptions{
		Drain: fastDrain,
		BeforeCommit: func() error {
			calls = append(calls, "before")
			if got := read(t, path); got != "a\nb\nc\n" {
				t.Errorf("store = %q before the commit, want it untouched", got)
			}
			return nil
		},
		AfterCommit: func(err error) {
			calls = append(calls, "after")
			if err != nil {
				t.Errorf("AfterCommit got %v", err)
			}
			late.WriteString("d\n")
			late.Close()
			cancel()
		},
	})
	if err != nil || !res.Committed || res.DrainErr != nil || res.Drain.Pending {
		t.Fatalf("Finish = %+v, %v", res, err)
	}
	if len(calls) != 2 || calls[0] != "before" || calls[1] != "after" {
		t.Errorf("hooks ran as %v", calls)
	}
	if got := read(t, path); got != "b\nc\nd\n" {
		t.Errorf("store = %q, want b c d", got)
	}
	if res.CarriedLines != 1 || res.Drain.ForwardedLines != 1 {
		t.Errorf("carried %d, forwarded %d; want 1 and 1", res.CarriedLines, res.Drain.ForwardedLines)
	}
	assertClean(t, path)
}

// TestFinishWithoutCommit: a BeforeCommit that fails, and a commit that finds the store
// replaced, leave it untouched; AfterCommit hears of the commit's outcome, and only of it.
func TestFinishWithoutCommit(t *testing.T) {
	refused := errors.New("archive not durable")
	for _, tc := range []struct {
		name      string
		before    error
		replace   bool
		want      error
		wantAfter bool
	}{
		{"before commit fails", refused, false, refused, false},
		{"store replaced", nil, true, errs.ErrReplaced, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, old := setup(t, "a\nb\n")
			if tc.replace {
				// Another program puts its own file at the store's name just before the
				// exchange, once.
				replaced := false
				atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
					if op != atomicfile.OpExchange || replaced {
						return nil
					}
					replaced = true
					foreign := path + ".new"
					os.WriteFile(foreign, []byte("other\n"), 0o644)
					return os.Rename(foreign, path)
				})
			}
			rw, err := Begin(path, old, "r1")
			if err != nil {
				t.Fatal(err)
			}
			rw.Write([]byte("b\n"))
			var after []error
			res, err := rw.Finish(context.Background(), 4, FinishOptions{
				Drain:        fastDrain,
				BeforeCommit: func() error { return tc.before },
				AfterCommit:  func(err error) { after = append(after, err) },
			})
			rw.Abort()
			if !errors.Is(err, tc.want) || res.Committed {
				t.Fatalf("Finish = %+v, %v; want %v", res, err, tc.want)
			}
			if tc.wantAfter != (len(after) == 1) || (tc.wantAfter && !errors.Is(after[0], tc.want)) {
				t.Errorf("AfterCommit calls %v", after)
			}
			want := "a\nb\n"
			if tc.replace {
				want = "other\n"
			}
			if got := read(t, path); got != want {
				t.Errorf("store = %q, want %q", got, want)
			}
			assertClean(t, path)
		})
	}
}
