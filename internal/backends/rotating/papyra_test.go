package rotating

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// TestPapyraActivitySkipsTheSet: a temp file of Papyra's own compaction or recovery of any file
// of the set, changed within the activity window, makes the run leave the set alone (skipped,
// errs.ErrBusy: exit 75 from the CLI); one older than the window is a leftover, and the run
// goes ahead. papyrad never touches Papyra's temp file either way.
func TestPapyraActivitySkipsTheSet(t *testing.T) {
	const window = 10 * time.Minute // the default
	for _, tc := range []struct {
		naming Naming
		temp   string
	}{
		{Suffix, "events.ndjson.compact.tmp"},
		{Suffix, "events.ndjson.recovered.tmp"},
		{Suffix, "events.ndjson.1.compact.tmp"},
		{Suffix, "events.ndjson.3.recovered.tmp"},
		{Suffix, "events.ndjson.9.compact.tmp"}, // past max_files: Papyra's own limit may be larger
		{Sequence, "events-0001.ndjson.compact.tmp"},
		{Sequence, "events-0002.ndjson.recovered.tmp"},
	} {
		for _, fresh := range []bool{true, false} {
			name := tc.temp + "/stale"
			if fresh {
				name = tc.temp + "/fresh"
			}
			t.Run(string(tc.naming)+"/"+name, func(t *testing.T) {
				dir := t.TempDir()
				files := map[string]string{"events.ndjson.1": "{\"timestamp\": 1.0}\n", "events.ndjson": "{\"timestamp\": 4102444800.0}\n"}
				if tc.naming == Sequence {
					files = map[string]string{"events-0001.ndjson": "{\"timestamp\": 1.0}\n", "events-0002.ndjson": "{\"timestamp\": 4102444800.0}\n"}
				}
				files[tc.temp] = "{\"timestamp\": 4102444800.0}\n"
				for n, b := range files {
					p := filepath.Join(dir, n)
					if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
						t.Fatal(err)
					}
					os.Chtimes(p, now.Add(-time.Hour), now.Add(-time.Hour))
				}
				age := window + time.Minute
				if fresh {
					age = time.Minute
				}
				temp := filepath.Join(dir, tc.temp)
				if err := os.Chtimes(temp, now.Add(-age), now.Add(-age)); err != nil {
					t.Fatal(err)
				}
				s := newStore(dir, tc.naming, retention.Policy{MaxAge: time.Hour})
				before := snapshot(t, dir)
				rep, err := s.Compact(context.Background(), backends.Options{})
				if fresh {
					if !errors.Is(err, errs.ErrBusy) || rep.Result != report.ResultSkipped || rep.Reason != "papyra_active" {
						t.Fatalf("Compact: %v, result %q (%s); want errs.ErrBusy, skipped (papyra_active)", err, rep.Result, rep.Reason)
					}
					if after := snapshot(t, dir); !equalSnapshots(before, after) {
						t.Errorf("the set changed:\nbefore %v\nafter  %v", before, after)
					}
					return
				}
				if err != nil || rep.Result != report.ResultOK || rep.RecordsDropped != 1 {
					t.Fatalf("Compact: %v, result %q, dropped %d; want the stale temp ignored and the expired record dropped", err, rep.Result, rep.RecordsDropped)
				}
				if b, err := os.ReadFile(temp); err != nil || string(b) != files[tc.temp] {
					t.Errorf("Papyra's temp file %s changed: %q, %v", tc.temp, b, err)
				}
			})
		}
	}
}
