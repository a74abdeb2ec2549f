package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSmallStores compacts many small stores (200 records, 100 of them expired), against
// the floor of a safe rewrite of each (copy and fsync every store file) in the same run: in
// one `papyrad compact --config` run, and in the daemon (`papyrad run`), timed from the
// SIGUSR1 that asks it to compact every store to the last store's "compaction done". Targets:
// at most 15 ms a store when no writer holds it, and 1000 stores in the daemon in at most 20 s.
func BenchmarkSmallStores(b *testing.B) {
	const stores = 1000
	for _, how := range []string{"compact", "daemon"} {
		b.Run("via="+how, func(b *testing.B) {
			var wall, base time.Duration
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(workDir, "small")
				os.RemoveAll(dir)
				cfg := writeSmallStores(b, dir, stores)
				settle()
				start := time.Now()
				for s := range stores {
					p := smallStore(dir, s)
					if err := copyFile(p, p+".copy", true); err != nil {
						b.Fatal(err)
					}
					os.Remove(p + ".copy")
				}
				base += time.Since(start)
				settle()
				var out []byte
				if how == "compact" {
					r := run(b, "compact", "--config", cfg)
					wall, out = wall+r.wall, r.out
				} else {
					d, log := runDaemon(b, cfg, stores)
					wall, out = wall+d, log
				}
				for s := range stores {
					data, err := os.ReadFile(smallStore(dir, s))
					if err != nil {
						b.Fatal(err)
					}
					if n := strings.Count(string(data), "\n"); n != 100 {
						b.Fatalf("store %d holds %d records after the run, want the 100 fresh ones:\n%s", s, n, out)
					}
				}
			}
			b.ReportMetric(wall.Seconds()/float64(b.N), "papyrad-s")
			b.ReportMetric(wall.Seconds()*1000/float64(b.N*stores), "ms-per-store")
			b.ReportMetric(base.Seconds()/float64(b.N), "baseline-s")
			b.ReportMetric(float64(wall)/float64(base), "x-baseline")
		})
	}
}

// runDaemon starts `papyrad run` on cfg, waits until it has started, sends SIGUSR1 and
// returns how long it took until n runs said "compaction done", and the daemon's log.
func runDaemon(b *testing.B, cfg string, n int) (time.Duration, []byte) {
	b.Helper()
	cmd := exec.Command(papyrad, "run", "--config", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(syscall.SIGTERM)
	var log strings.Builder
	lines := bufio.NewScanner(io.TeeReader(stderr, &log))
	lines.Buffer(nil, 1<<20)
	var start time.Time
	done := 0
	for lines.Scan() {
		switch line := lines.Text(); {
		case strings.Contains(line, "papyrad started"):
			start = time.Now()
			if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
				b.Fatal(err)
			}
		case strings.Contains(line, "compaction done"):
			if done++; done == n {
				d := time.Since(start)
				go io.Copy(io.Discard, stderr)
				return d, []byte(log.String())
			}
		}
	}
	b.Fatalf("the daemon ended after %d of %d runs:\n%s", done, n, log.String())
	return 0, nil
}

func smallStore(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("s%04d", i), "events.ndjson")
}

// writeSmallStores lays out n small stores under dir and returns a config naming them all.
func writeSmallStores(b *testing.B, dir string, n int) string {
	b.Helper()
	now := float64(time.Now().Unix())
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "daemon: {state_dir: %s, metrics_listen: \"\"}\nstores:\n", filepath.Join(dir, "state"))
	for i := range n {
		p := smallStore(dir, i)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		var s strings.Builder
		for k := range 200 {
			ts := now
			if k < 100 {
				ts = now - 3*86400
			}
			fmt.Fprintf(&s, `{"kind": "event", "id": %d, "payload": "some event data", "timestamp": %.3f}`+"\n", k, ts)
		}
		if err := os.WriteFile(p, []byte(s.String()), 0o640); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&cfg, "  - {name: s%04d, backend: json, path: %s, retention: {max_age: 1d}}\n", i, p)
	}
	path := filepath.Join(dir, "papyrad.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}
