package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/testutil"
)

// papyrad is the binary under test, built once by TestMain; peakRSS runs it and reports its
// own peak resident memory (a child started directly by this process, which holds large
// stores in memory at times, would report this process's peak as its own).
var papyrad, peakRSS string

// workDir holds generated stores; they are large, so they live under BENCH_DIR when set (a
// disk, not a tmpfs) and are generated once per run.
var workDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp(os.Getenv("BENCH_DIR"), "papyrad-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		workDir = dir
		// papyrad as make build makes it, the binary that ships: static (no cgo), which
		// starts without the dynamic loader.
		os.Setenv("CGO_ENABLED", "0")
		bins, err := testutil.BuildAll(dir, []string{"github.com/papyrad/papyrad/cmd/papyrad", "github.com/papyrad/papyrad/internal/testutil/peakrss"},
			"-trimpath", "-ldflags=-s -w")
		if err != nil {
			fmt.Fprintln(os.Stderr, "build papyrad:", err)
			return 1
		}
		papyrad, peakRSS = bins[0], bins[1]
		return m.Run()
	}())
}

// store returns the path of a generated store of n records spanning two days up to now, so
// that a one-day max_age drops about half. It is generated once and copied per run.
func store(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(workDir, fmt.Sprintf("events-%d.ndjson", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	now := float64(time.Now().Unix())
	span := 2 * 86400.0
	if err := WriteStore(path, n, now-span, span/float64(n), uint64(n)); err != nil {
		b.Fatal(err)
	}
	return path
}

// fresh copies src to a new file and flushes it, so a run starts with the store clean on disk
// and in the page cache, as a store that has not just been written would be.
func fresh(b *testing.B, src, name string) string {
	b.Helper()
	dst := filepath.Join(workDir, name)
	if err := copyFile(src, dst, true); err != nil {
		b.Fatal(err)
	}
	return dst
}

func copyFile(src, dst string, sync bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, buf); err != nil {
		out.Close()
		return err
	}
	if sync {
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}

// copyDirect copies src to the new file dst the way papyrad writes a rewritten store
// (atomicfile.StreamWriter: whole chunks with direct I/O where the filesystem has it), then
// fsyncs it.
func copyDirect(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := atomicfile.Create(dst, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	w := atomicfile.NewStreamWriter(out)
	defer w.Release()
	if _, err := w.ReadFrom(in); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return out.Sync()
}

// baseline is the floor any safe rewrite has to pay: read every byte of the store and write
// it to a new file, then fsync. It is the faster of two copies: with a 1 MiB buffer through
// the page cache, and as papyrad writes (see copyDirect). Which one wins depends on the
// machine: on a virtual machine that hands freed memory back to its host, a write through the
// page cache first faults that memory in again, and how much of it there is to fault in
// depends on what ran just before.
func baseline(b *testing.B, src string) time.Duration {
	b.Helper()
	floor := time.Duration(math.MaxInt64)
	for _, cp := range []func(src, dst string) error{
		func(src, dst string) error { return copyFile(src, dst, true) },
		copyDirect,
	} {
		dst := filepath.Join(workDir, "baseline.ndjson")
		settle()
		start := time.Now()
		if err := cp(src, dst); err != nil {
			b.Fatal(err)
		}
		floor = min(floor, time.Since(start))
		os.Remove(dst)
	}
	return floor
}

// removal is what freeing the space of files the size of srcs costs on this filesystem, the
// part of a run that no copy pays: each is copied to a new file and flushed, then all are
// removed side by side, as a run's last references to the content it replaced are closed.
// Where the filesystem is mounted with discard, the blocks are discarded right there.
func removal(b *testing.B, srcs ...string) time.Duration {
	b.Helper()
	var names []string
	for i, src := range srcs {
		dst := filepath.Join(workDir, fmt.Sprintf("removal-%d", i))
		if err := copyFile(src, dst, true); err != nil {
			b.Fatal(err)
		}
		names = append(names, dst)
	}
	settle()
	var wg sync.WaitGroup
	errc := make(chan error, len(names))
	start := time.Now()
	for _, name := range names {
		wg.Go(func() { errc <- os.Remove(name) })
	}
	wg.Wait()
	took := time.Since(start)
	close(errc)
	for err := range errc {
		if err != nil {
			b.Fatal(err)
		}
	}
	return took
}

// result is one run of the binary.
type result struct {
	wall   time.Duration
	cpu    time.Duration // user and system time
	rssMiB float64
	out    []byte
}

func run(b *testing.B, args ...string) result {
	b.Helper()
	return runEnv(b, nil, args...)
}

// runEnv is run with env added to papyrad's environment.
func runEnv(b *testing.B, env []string, args ...string) result {
	b.Helper()
	rssFile := filepath.Join(workDir, "peak-rss.txt")
	cmd := exec.Command(peakRSS, append([]string{papyrad}, args...)...)
	cmd.Env = append(append(os.Environ(), env...), "PEAKRSS_FILE="+rssFile)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("papyrad %v: %v\n%s", args, err, out)
	}
	// peakrss's own time is small beside papyrad's; its children's is papyrad's.
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rss, err := os.ReadFile(rssFile)
	if err != nil {
		b.Fatal(err)
	}
	peak, err := strconv.ParseInt(strings.TrimSpace(string(rss)), 10, 64)
	if err != nil {
		b.Fatalf("peakrss wrote %q: %v", rss, err)
	}
	return result{wall: wall, cpu: cpu, rssMiB: float64(peak) / (1 << 20), out: out}
}

// settle flushes dirty pages so that one measurement does not pay for the previous one's writes.
func settle() {
	_ = exec.Command("sync").Run()
}

// BenchmarkJSONCompact compacts a Papyra-format store where half the records are older than
// max_age, against the read+write baseline of the same bytes measured in the same run.
// Targets: wall time at most 1.3x the baseline, peak RSS at most 64 MiB at both sizes. The
// baseline deletes nothing; removing a file the store's size is measured beside it (remove-s),
// since a run frees the replaced store before it ends.
func BenchmarkJSONCompact(b *testing.B) {
	for _, n := range []int{1_000_000, 4_000_000} {
		b.Run(fmt.Sprintf("records=%dM", n/1_000_000), func(b *testing.B) {
			src := store(b, n)
			fi, _ := os.Stat(src)
			var base, rm, wall, cpu time.Duration
			var rss float64
			for i := 0; i < b.N; i++ {
				settle()
				base += baseline(b, src)
				rm += removal(b, src)
				path := fresh(b, src, "store.ndjson")
				settle()
				r := run(b, "compact", "--backend", "json", "--path", path, "--max-age", "1d",
					"--state-dir", filepath.Join(workDir, "state"))
				wall += r.wall
				cpu += r.cpu
				rss = max(rss, r.rssMiB)
				os.Remove(path)
			}
			ratio := float64(wall) / float64(base)
			b.ReportMetric(float64(fi.Size())/(1<<20), "store-MiB")
			b.ReportMetric(wall.Seconds()/float64(b.N), "papyrad-s")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "papyrad-cpu-s")
			b.ReportMetric(base.Seconds()/float64(b.N), "baseline-s")
			b.ReportMetric(ratio, "x-baseline")
			b.ReportMetric(rm.Seconds()/float64(b.N), "remove-s")
			b.ReportMetric(float64(wall)/float64(base+rm), "x-baseline-and-remove")
			b.ReportMetric(rss, "peak-RSS-MiB")
		})
	}
}

// readAll is the floor of any pass over a store in the page cache: read every byte with a
// 1 MiB buffer, on one core.
func readAll(b *testing.B, path string) time.Duration {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	start := time.Now()
	if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkJSONClassify times a dry run with an age limit on the 1M-record store, in the page
// cache: reading and classifying every line, nothing written. The floor is reading the file in
// the same run. Targets: at most 0.15 s wall on 2 cores, at least 1 GB/s per core of CPU time
// (store bytes over papyrad's user and system time, divided by the cores that ran). It runs on
// every CPU (cpus=all) and on one (cpus=1), as in a container limited to one CPU, where Go
// runs papyrad with GOMAXPROCS=1.
func BenchmarkJSONClassify(b *testing.B) {
	src := store(b, 1_000_000)
	fi, _ := os.Stat(src)
	readAll(b, src) // into the page cache
	for _, cpus := range []string{"all", "1"} {
		var env []string
		if cpus != "all" {
			env = []string{"GOMAXPROCS=" + cpus}
		}
		b.Run("cpus="+cpus, func(b *testing.B) {
			var read, wall, cpu time.Duration
			for i := 0; i < b.N; i++ {
				read += readAll(b, src)
				r := runEnv(b, env, "compact", "--backend", "json", "--path", src, "--max-age", "1d", "--dry-run",
					"--state-dir", filepath.Join(workDir, "state"))
				wall += r.wall
				cpu += r.cpu
			}
			n := float64(b.N)
			b.ReportMetric(float64(fi.Size())/(1<<20), "store-MiB")
			b.ReportMetric(wall.Seconds()/n, "papyrad-s")
			b.ReportMetric(cpu.Seconds()/n, "papyrad-cpu-s")
			b.ReportMetric(read.Seconds()/n, "read-s")
			b.ReportMetric(float64(wall)/float64(read), "x-read")
			b.ReportMetric(float64(fi.Size())*n/cpu.Seconds()/1e9, "GB/s-per-core")
		})
	}
}
