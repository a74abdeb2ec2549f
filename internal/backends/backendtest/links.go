package backendtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
)

// hardLinks: a store file (any file of a set) with a second name is refused, dry run or not,
// with an error naming the file and its link count, and the store is left as it was; with
// AllowHardLinks the run compacts as usual, and the other name keeps the old file.
func (s *suite) hardLinks(t *testing.T) {
	segs, kept, expired := attrSegments()
	n := len(s.newFixture(t, t.TempDir(), segs, nil, nil).files(t))
	for i := range n {
		t.Run(fmt.Sprintf("file %d of %d", i+1, n), func(t *testing.T) {
			f := s.newFixture(t, t.TempDir(), segs, clone(kept), clone(expired))
			name := f.files(t)[i]
			other := filepath.Join(t.TempDir(), "second-name")
			if err := os.Link(name, other); err != nil {
				t.Fatal(err)
			}
			before := f.snapshot(t)
			for _, dry := range []bool{true, false} {
				_, err := f.store.Compact(context.Background(), backends.Options{DryRun: dry})
				if !errors.Is(err, errs.ErrHardLinked) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "2 hard links") {
					t.Fatalf("dry run %v: error %v, want errs.ErrHardLinked naming %s and its 2 hard links", dry, err, name)
				}
			}
			f.checkSnapshot(t, before, "after the refused run")
			f.checkClean(t, "after the refused run")

			f.params.AllowHardLinks = true
			f.store = f.h.New(f.params)
			if _, err := f.store.Compact(context.Background(), backends.Options{}); err != nil {
				t.Fatalf("with allow_hard_links the run failed: %v", err)
			}
			c := f.check(t, "after the allowed run")
			f.checkExactly(t, c, nil, "after the allowed run")
			if got := stateOf(t, other); got.sha != before[name].sha {
				t.Errorf("the other name of %s changed", filepath.Base(name))
			}
		})
	}
}
