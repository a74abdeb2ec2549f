package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// rotatingSet generates, once, an 8-file suffix-named set of about 38 MB per file (7 rotated
// segments and the active file). Timestamps run over 8 days so that, with a one-day max_age,
// the 4 oldest segments hold only expired records, the 5th straddles the cutoff and the
// newest 3 are fresh.
func rotatingSet(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(workDir, "rotating-src")
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	const perSeg = 150_000
	now := float64(time.Now().Unix())
	// Segment k (0 = oldest) covers [start+k*span, start+(k+1)*span); the cutoff, now-1d,
	// falls in the middle of segment 4.
	span := 86400.0 / 0.5 / 2.5 // each segment covers 0.8 day
	start := now - 86400 - 4.5*span
	for k := 0; k < 8; k++ {
		name := filepath.Join(dir, "events.ndjson")
		if slot := 7 - k; slot > 0 {
			name = fmt.Sprintf("%s.%d", name, slot)
		}
		if err := WriteStore(name, perSeg, start+float64(k)*span, span/perSeg, uint64(k+1)); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// copySet copies the set into a fresh directory, flushed, for one measured run.
func copySet(b *testing.B, src, name string) string {
	b.Helper()
	dst := filepath.Join(workDir, name)
	os.RemoveAll(dst)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), true); err != nil {
			b.Fatal(err)
		}
	}
	return dst
}

// concat writes the set's records, oldest first, into one file: the same records as a json
// store.
func concat(b *testing.B, src, dst string) {
	b.Helper()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	for slot := 7; slot >= 0; slot-- {
		name := filepath.Join(src, "events.ndjson")
		if slot > 0 {
			name = fmt.Sprintf("%s.%d", name, slot)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		out.Write(data)
	}
	out.Sync()
	out.Close()
}

// BenchmarkRotatingCompact compacts the set with segment-level changes (4 deletions, 1
// rewrite), cold (no segment summaries yet: the whole set is read) and warm (a run has seen the
// segments before, as the daemon's previous run would have), against rewriting the whole set
// (read and write every byte, fsync) and against the json backend compacting the same records
// as one file, all measured in the same run. Steady is the run after the warm one, as the
// daemon's next run: the cutoff has moved a little into the segment the warm run rewrote.
// Targets: cold run at most 0.6x the rewrite, warm run at most 0.1x. The rewrite deletes
// nothing; freeing what the warm run frees (the 4 expired segments and the old content of the
// one it rewrites) is measured beside it (remove-s), and so is starting the binary (start-s).
func BenchmarkRotatingCompact(b *testing.B) {
	src := rotatingSet(b)
	var setBytes int64
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		fi, _ := e.Info()
		setBytes += fi.Size()
	}
	var rewrite, cold, warm, steady, asJSON, rm, start time.Duration
	var rss float64
	for i := 0; i < b.N; i++ {
		// Baseline: rewrite every segment, the faster of the two copies (see baseline).
		for _, e := range entries {
			rewrite += baseline(b, filepath.Join(src, e.Name()))
		}
		var freed []string
		for slot := 3; slot <= 7; slot++ {
			freed = append(freed, filepath.Join(src, fmt.Sprintf("events.ndjson.%d", slot)))
		}
		rm += removal(b, freed...)
		start += run(b, "version").wall

		for _, warmUp := range []bool{false, true} {
			dir := copySet(b, src, "rotating-run")
			state := filepath.Join(workDir, "rotating-state")
			os.RemoveAll(state)
			args := []string{"compact", "--backend", "rotating", "--path", filepath.Join(dir, "events.ndjson"),
				"--max-files", "8", "--max-age", "1d", "--state-dir", state}
			if warmUp {
				run(b, append(args, "--dry-run")...)
			}
			settle()
			r := run(b, args...)
			rss = max(rss, r.rssMiB)
			if warmUp {
				warm += r.wall
				time.Sleep(time.Second) // the cutoff moves past a few more records
				settle()
				r = run(b, args...)
				rss = max(rss, r.rssMiB)
				steady += r.wall
			} else {
				cold += r.wall
			}
		}

		one := filepath.Join(workDir, "one.ndjson")
		concat(b, src, one)
		settle()
		r := run(b, "compact", "--backend", "json", "--path", one, "--max-age", "1d", "--state-dir", filepath.Join(workDir, "json-state"))
		asJSON += r.wall
		os.Remove(one)
	}
	n := float64(b.N)
	b.ReportMetric(float64(setBytes)/(1<<20), "set-MiB")
	b.ReportMetric(rewrite.Seconds()/n, "rewrite-all-s")
	b.ReportMetric(cold.Seconds()/n, "cold-s")
	b.ReportMetric(warm.Seconds()/n, "warm-s")
	b.ReportMetric(steady.Seconds()/n, "steady-s")
	b.ReportMetric(asJSON.Seconds()/n, "json-one-file-s")
	b.ReportMetric(float64(cold)/float64(rewrite), "cold-x-rewrite")
	b.ReportMetric(float64(warm)/float64(rewrite), "warm-x-rewrite")
	b.ReportMetric(float64(steady)/float64(rewrite), "steady-x-rewrite")
	b.ReportMetric(float64(warm)/float64(asJSON), "warm-x-json")
	b.ReportMetric(rm.Seconds()/n, "remove-s")
	b.ReportMetric(start.Seconds()/n, "start-s")
	b.ReportMetric(float64(rm+start)/float64(rewrite), "remove-and-start-x-rewrite")
	b.ReportMetric(rss, "peak-RSS-MiB")
}
