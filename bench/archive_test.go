package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/testutil"
	"github.com/papyrad/papyrad/internal/testutil/s3test"
)

// BenchmarkJSONArchive compacts the 1M-record store (half of it expired) with the dropped
// records archived, against the same compaction without an archive, alternating the two in
// the same run. Target: at most 1.5x with zstd.
func BenchmarkJSONArchive(b *testing.B) {
	for _, codec := range []string{"zstd", "gzip"} {
		b.Run("compress="+codec, func(b *testing.B) {
			src := store(b, 1_000_000)
			var plain, archived time.Duration
			var rss, archMiB float64
			for i := 0; i < b.N; i++ {
				path := fresh(b, src, "store.ndjson")
				settle()
				plain += run(b, "compact", "--backend", "json", "--path", path, "--max-age", "1d",
					"--state-dir", filepath.Join(workDir, "state")).wall
				os.Remove(path)

				path = fresh(b, src, "store.ndjson")
				arch := filepath.Join(workDir, "archive")
				settle()
				r := run(b, "compact", "--backend", "json", "--path", path, "--max-age", "1d",
					"--state-dir", filepath.Join(workDir, "state"), "--archive-dir", arch, "--archive-compress", codec)
				archived += r.wall
				rss = max(rss, r.rssMiB)
				archMiB = float64(dirSize(b, arch)) / (1 << 20)
				os.Remove(path)
				os.RemoveAll(arch)
			}
			b.ReportMetric(archived.Seconds()/float64(b.N), "archive-s")
			b.ReportMetric(plain.Seconds()/float64(b.N), "no-archive-s")
			b.ReportMetric(float64(archived)/float64(plain), "x-no-archive")
			b.ReportMetric(archMiB, "archive-MiB")
			b.ReportMetric(rss, "peak-RSS-MiB")
		})
	}
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkJSONArchiveS3 compacts the 1M-record store (half of it expired) with the dropped
// records archived to a local S3-protocol server (s3server: signatures and checksums checked,
// objects kept in memory), against the same compaction archiving to a folder, alternating the
// two in the same run. Targets: at most 1.5x the folder archive's time, peak RSS at most 64 MiB.
func BenchmarkJSONArchiveS3(b *testing.B) {
	bin, err := testutil.Build(workDir, s3test.Pkg)
	if err != nil {
		b.Fatal(err)
	}
	cred := s3test.CredentialsFile(b, workDir, false)
	var folder, remote time.Duration
	var folderRSS, remoteRSS, archMiB float64
	src := store(b, 1_000_000)
	for i := 0; i < b.N; i++ {
		path := fresh(b, src, "store.ndjson")
		arch := filepath.Join(workDir, "archive")
		settle()
		r := run(b, "compact", "--backend", "json", "--path", path, "--max-age", "1d",
			"--state-dir", filepath.Join(workDir, "state"), "--archive-dir", arch)
		folder += r.wall
		folderRSS = max(folderRSS, r.rssMiB)
		archMiB = float64(dirSize(b, arch)) / (1 << 20)
		os.Remove(path)
		os.RemoveAll(arch)

		srv := s3test.Start(b, bin, s3test.Options{Buckets: []string{"bench"}})
		path = fresh(b, src, "store.ndjson")
		settle()
		r = run(b, "compact", "--backend", "json", "--path", path, "--max-age", "1d",
			"--state-dir", filepath.Join(workDir, "state"), "--archive-url", "s3://bench/papyrad",
			"--archive-endpoint", srv.Endpoint, "--archive-region", "us-east-1", "--archive-path-style",
			"--archive-credentials-file", cred)
		remote += r.wall
		remoteRSS = max(remoteRSS, r.rssMiB)
		os.Remove(path)
		srv.Kill()
	}
	b.ReportMetric(remote.Seconds()/float64(b.N), "s3-s")
	b.ReportMetric(folder.Seconds()/float64(b.N), "folder-s")
	b.ReportMetric(float64(remote)/float64(folder), "x-folder")
	b.ReportMetric(archMiB, "archive-MiB")
	b.ReportMetric(remoteRSS, "s3-peak-RSS-MiB")
	b.ReportMetric(folderRSS, "folder-peak-RSS-MiB")
}
