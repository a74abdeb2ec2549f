package backendtest

import (
	"fmt"
	"strings"
	"testing"
)

// liveWriters compacts the store again and again while a writer of each style appends, an
// expired batch added before every run so that every run rewrites: no record lost,
// duplicated or torn, the expired ones gone, the writer's order kept. Once the writer stops,
// one more run leaves exactly the kept records and the writer's, and nothing beside them.
func (s *suite) liveWriters(t *testing.T) {
	for _, style := range s.h.Writers {
		t.Run(style.Name, func(t *testing.T) {
			t.Parallel() // mostly waits: for drains, for writers to stop
			const rounds, orig, batch = 3, 500, 1000
			f := s.newFixture(t, t.TempDir(), [][]byte{records("orig", 0, orig, fresh)}, map[string]int64{"orig": orig}, nil)
			w := s.writer(t, f, style, "W")
			warned := false
			for i := range rounds {
				f.pause(t)
				f.appendExpired(t, fmt.Sprintf("x%d", i), batch)
				f.resume(t)
				rep := f.compact(t, fmt.Sprintf("round %d", i))
				if rep.RecordsDropped < batch {
					t.Errorf("round %d: dropped %d records, want at least the %d appended", i, rep.RecordsDropped, batch)
				}
				for _, warn := range rep.Warnings {
					if !strings.Contains(warn, "held open") && !strings.Contains(warn, "rotated during the run") {
						t.Errorf("round %d: unexpected warning %q", i, warn)
					}
					warned = warned || strings.Contains(warn, "held open")
				}
				f.pause(t)
				when := fmt.Sprintf("after round %d", i)
				c := f.check(t, when)
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
			if style.Holds && !warned {
				t.Errorf("no run warned that the long-lived writer still holds the replaced file")
			}
			written := f.stop(t)
			rep := f.compact(t, "final run")
			if len(rep.Warnings) > 0 {
				t.Errorf("final run, with the writer stopped: warnings %q", rep.Warnings)
			}
			c := f.check(t, "at the end")
			f.checkExactly(t, c, written, "at the end")
			f.checkClean(t, "at the end")
			f.checkNoQuarantine(t, "at the end")
			t.Logf("%d rounds; the writer wrote %d records", rounds, written[w.Name])
		})
	}
}
