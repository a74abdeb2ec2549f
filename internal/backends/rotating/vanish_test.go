package rotating_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/backends/rotating"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil"
)

// TestPapyraRenamesNeverFail runs compactions that take every rotated segment out, all of them
// expired, while Papyra's rotating writer shifts the set one slot older before every record
// and pauses between each `exists(path.i)` and its `rename(path.i, path.i+1)` (as an
// interpreter descheduled there would). A segment whose name papyrad takes out in that window
// makes the rename fail: FileNotFoundError out of Papyra's record_event. The writer counts
// those; there must be none. Every record the writer wrote must be in the set once, and no
// expired record may be left.
func TestPapyraRenamesNeverFail(t *testing.T) {
	t.Parallel()
	const (
		rounds   = 5
		segments = 40 // expired rotated segments of each round
		maxFiles = 400
	)
	bin, err := testutil.Build(t.TempDir(), "github.com/papyrad/papyrad/internal/testutil/papyrawriter")
	if err != nil {
		t.Fatal(err)
	}
	var vanished, rewritten, deleted int64
	for round := range rounds {
		dir := t.TempDir()
		path := filepath.Join(dir, "events.ndjson")
		for k := 1; k <= segments; k++ {
			x := fmt.Sprintf("x%d", k)
			if err := put(fmt.Sprintf("%s.%d", path, k), recs(x, 3, testutil.Old)); err != nil {
				t.Fatal(err)
			}
		}
		// max-bytes 1: every record rotates the set first.
		w := testutil.StartWriter(t, bin, "W", "-path", path, "-mode", "papyra", "-max-bytes", "1",
			"-max-files", fmt.Sprint(maxFiles), "-rate", "500", "-rename-pause", "1ms")
		s := rotating.New(rotating.Config{
			Name: "vanish", Path: path, Naming: rotating.Suffix, MaxFiles: maxFiles,
			Policy:     retention.Policy{MaxAge: 24 * time.Hour},
			Quarantine: filepath.Join(t.TempDir(), "quarantine"),
			Drain:      livefile.DrainOptions{Timeout: 2 * time.Second},
		}, zap.NewNop(), time.Now)
		rep, err := s.Compact(context.Background(), backends.Options{})
		if err != nil || rep.Result != report.ResultOK {
			t.Fatalf("round %d: Compact: %v (report %+v)", round, err, rep)
		}
		// No segment can have reached the oldest slot: every one is emptied, none deleted.
		if rep.FilesDeleted != 0 || rep.FilesRewritten < segments {
			t.Errorf("round %d: files_deleted %d, files_rewritten %d; want 0 and at least %d (every expired segment emptied, its name kept)",
				round, rep.FilesDeleted, rep.FilesRewritten, segments)
		}
		rewritten += int64(rep.FilesRewritten)
		deleted += int64(rep.FilesDeleted)
		n, figures := w.Stop(t)
		var r, d, b, v int64
		if len(figures) != 1 {
			t.Fatalf("round %d: the writer printed %q before its count, want its figures", round, figures)
		}
		if _, err := fmt.Sscanf(figures[0], "rotations %d deleted %d blocked %d vanished %d", &r, &d, &b, &v); err != nil {
			t.Fatalf("round %d: the writer's figures %q: %v", round, figures[0], err)
		}
		vanished += v
		if r < 2 {
			t.Errorf("round %d: the writer rotated %d times: the run did not race its rotations", round, r)
		}
		// The writer has stopped: a last run takes out what the first left for later.
		if rep, err := s.Compact(context.Background(), backends.Options{}); err != nil || rep.Result != report.ResultOK {
			t.Fatalf("round %d: last Compact: %v (report %+v)", round, err, rep)
		}
		c, err := testutil.ReadSet(path, string(rotating.Suffix), maxFiles)
		if err != nil {
			t.Fatal(err)
		}
		if p := c.Problems(10); len(p) > 0 {
			t.Errorf("round %d: the set is damaged: %v", round, p)
		}
		for i := int64(0); i < n; i++ {
			if k := (testutil.Key{Writer: "W", Seq: i}); c.Count[k] != 1 {
				t.Errorf("round %d: %s is in the set %d times, want once", round, k, c.Count[k])
			}
		}
		if got := int64(len(c.Count)); got != n {
			t.Errorf("round %d: the set holds %d records, want the writer's %d", round, got, n)
		}
	}
	t.Logf("%d rounds: the runs emptied or rewrote %d files and deleted %d; %d of the writer's renames found their name gone",
		rounds, rewritten, deleted, vanished)
	if vanished > 0 {
		t.Errorf("%d of Papyra's renames found the name it had just seen gone: FileNotFoundError in the application", vanished)
	}
}

// recs is n records of writer w, seqs 0..n-1, stamped ts(seq).
func recs(w string, n int64, ts func(int64) float64) []byte {
	var b []byte
	for i := range n {
		b = testutil.AppendRecord(b, testutil.Key{Writer: w, Seq: i}, ts(i))
	}
	return b
}
