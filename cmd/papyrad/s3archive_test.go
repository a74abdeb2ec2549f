package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
	"github.com/papyrad/papyrad/internal/testutil/s3test"
)

// s3Flags are the flags of an S3 archive on srv's bucket "audit", with the credentials file
// cred ("" for the standard chain).
func s3Flags(srv *s3test.Server, cred string) []string {
	f := []string{"--archive-url", "s3://audit/papyrad", "--archive-endpoint", srv.Endpoint, "--archive-region", "us-east-1", "--archive-path-style"}
	if cred != "" {
		f = append(f, "--archive-credentials-file", cred)
	}
	return f
}

// assertNoSecret fails if a secret shows in what papyrad printed.
func assertNoSecret(t *testing.T, rs ...result) {
	t.Helper()
	for _, r := range rs {
		for _, s := range []string{s3test.Secret, s3test.WrongSecret} {
			if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
				t.Errorf("papyrad printed a secret:\n%s", r)
			}
		}
	}
}

// archiveCat runs `papyrad archive cat` on the S3 archive of store orders.
func archiveCat(t *testing.T, flags []string) ([]byte, result) {
	t.Helper()
	r := papyrad(t, append(append([]string{"archive", "cat"}, flags...), "orders")...)
	if r.code != 0 {
		t.Fatalf("archive cat failed\n%s", r)
	}
	return []byte(r.stdout), r
}

// TestArchiveS3: a json store archives its dropped records to an S3 bucket (a real S3-protocol
// server that checks signatures and checksums): the report names the object, `papyrad archive`
// lists it with its manifest, verifies it and streams the records back byte for byte; the
// final object and its manifest carry the Object Lock asked for, the staged copy is gone, and
// no secret shows anywhere, debug logs included.
func TestArchiveS3(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3ServerBin, s3test.Options{Buckets: []string{"audit"}})
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	old := records("old", 0, 3000, oldStamp)
	kept := records("orig", 0, 500, fresh)
	writeFile(t, store, slices.Concat(old, []byte("{torn\n"), kept))
	cred := s3test.CredentialsFile(t, dir, false)
	cfg := filepath.Join(dir, "papyrad.yaml")
	writeFile(t, cfg, []byte(fmt.Sprintf(`daemon: {state_dir: %s}
stores:
  - name: orders
    backend: json
    path: %s
    retention: {max_age: 1d}
    archive:
      url: s3://audit/papyrad
      endpoint: %s
      region: us-east-1
      path_style: true
      credentials_file: %s
      object_lock: {mode: governance, retain_for: 30d, legal_hold: true}
`, filepath.Join(dir, "state"), store, srv.Endpoint, cred)))

	rep, r := compactJSON(t, "--config", cfg, "--log-level", "debug")
	day := time.Now().UTC().Format("2006/01/02")
	if r.code != 0 || rep.Result != report.ResultOK || rep.RecordsDropped != 3000 || rep.RecordsArchived != 3000 ||
		!strings.HasPrefix(rep.ArchiveFile, "s3://audit/papyrad/orders/"+day+"/") || !strings.HasSuffix(rep.ArchiveFile, ".ndjson.zst") {
		t.Fatalf("run: %+v\n%s", rep, r)
	}
	if b := readFile(t, store); !bytes.Equal(b, kept) {
		t.Errorf("the store holds %d bytes, want the 500 kept records", len(b))
	}
	got, catR := archiveCat(t, []string{"--config", cfg})
	if !bytes.Equal(got, old) {
		t.Errorf("archive cat gives %d bytes, want the 3000 dropped records byte for byte (%d)", len(got), len(old))
	}
	ls := papyrad(t, "archive", "ls", "--config", cfg, "orders", "--json")
	var es []archive.Entry
	if err := json.Unmarshal([]byte(ls.stdout), &es); err != nil || ls.code != 0 {
		t.Fatalf("archive ls: %v\n%s", err, ls)
	}
	if len(es) != 1 || es[0].Name != rep.ArchiveFile || es[0].Manifest == nil || es[0].Manifest.Records != 3000 ||
		es[0].Manifest.RawBytes != int64(len(old)) || es[0].Manifest.Bytes != es[0].Size || len(es[0].Manifest.SHA256) != 64 {
		t.Errorf("archive ls: %+v", es)
	}
	verify := papyrad(t, "archive", "verify", "--config", cfg, "orders")
	if verify.code != 0 || !strings.Contains(verify.stdout, "1 archives verified, 0 failed") {
		t.Errorf("archive verify\n%s", verify)
	}
	locked := 0
	for _, h := range srv.Headers(t) {
		if h["x-amz-object-lock-mode"] == "GOVERNANCE" && h["x-amz-object-lock-legal-hold"] == "ON" && strings.Contains(h["path"], "/orders/"+day+"/") {
			locked++
		}
	}
	if locked != 2 {
		t.Errorf("%d requests made the final object and its manifest with the object lock, want 2: %v", locked, srv.Headers(t))
	}
	// Nothing waits: no staged object, no sealed archive left in the staging folder.
	adhoc := append(s3Flags(srv, cred), "--archive-url", "s3://audit/papyrad/.staging")
	if b, _ := archiveCat(t, adhoc); len(b) != 0 {
		t.Errorf("a staged object is left (%d bytes)", len(b))
	}
	if files := filesUnder(t, filepath.Join(dir, "state", "archive-staging")); len(files) > 0 {
		t.Errorf("the staging folder holds %v", files)
	}
	assertNoSecret(t, r, catR, ls, verify)
}

// TestArchiveS3Failures: wrong credentials (from the environment, the standard chain), a
// bucket that does not exist and a server that dies in the middle of the upload each fail the
// run before the store changes, say why without showing a secret, and leave nothing staged;
// once the server is back the next run archives every dropped record, once.
func TestArchiveS3Failures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   s3test.Options
		env    []string
		bucket string
		want   string
	}{
		{"wrong credentials", s3test.Options{Buckets: []string{"audit"}}, []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.WrongSecret}, "audit", "signature we calculated does not match"},
		{"missing bucket", s3test.Options{Buckets: []string{"other"}}, nil, "audit", "does not exist"},
		{"server dies mid-upload", s3test.Options{Buckets: []string{"audit"}, DieAfter: 200 << 10}, nil, "audit", "s3://audit/papyrad/.staging/orders/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := s3test.Start(t, s3ServerBin, tc.opts)
			dir, state := t.TempDir(), t.TempDir()
			store := filepath.Join(dir, "events.ndjson")
			old := records("old", 0, 5000, oldStamp)
			writeFile(t, store, slices.Concat(old, records("orig", 0, 100, fresh)))
			cred := ""
			if tc.env == nil {
				cred = s3test.CredentialsFile(t, t.TempDir(), false)
			}
			flags := jsonStore(store, state, append([]string{"--name", "orders", "--max-age", "1d", "--archive-compress", "none"}, s3Flags(srv, cred)...)...)
			env := append(papyradEnv(t), tc.env...)
			before := stateOf(t, store)
			rep, r := compactJSONWith(t, runOpts{env: env}, append(flags, "--log-level", "debug")...)
			if r.code != 1 || rep.Result != report.ResultError || !strings.Contains(rep.Error, "archive") || !strings.Contains(r.stderr+rep.Error, tc.want) {
				t.Fatalf("want exit 1 and an archive error saying %q: %+v\n%s", tc.want, rep, r)
			}
			assertUnchanged(t, store, before)
			assertOnlyLock(t, store)
			assertNoSecret(t, r)
			if files := filesUnder(t, filepath.Join(state, "archive-staging")); len(files) > 0 {
				t.Errorf("the failed run left %v in the staging folder", files)
			}
			if tc.name != "server dies mid-upload" {
				return
			}
			if !srv.Exited(10 * time.Second) {
				t.Fatalf("the server did not die\n%s", r)
			}
			// The server is back (empty, as a new one): the next run publishes.
			srv = s3test.Start(t, s3ServerBin, s3test.Options{Buckets: []string{"audit"}})
			flags = jsonStore(store, state, append([]string{"--name", "orders", "--max-age", "1d", "--archive-compress", "none"}, s3Flags(srv, cred)...)...)
			rep, r = compactJSON(t, flags...)
			if r.code != 0 || rep.RecordsArchived != 5000 {
				t.Fatalf("the run after the server came back: %+v\n%s", rep, r)
			}
			got, catR := archiveCat(t, s3Flags(srv, cred))
			if !bytes.Equal(got, old) {
				t.Errorf("the archive holds %d bytes, want the 5000 dropped records once (%d)", len(got), len(old))
			}
			assertNoSecret(t, r, catR)
		})
	}
}

// TestArchiveS3Crash kills papyrad at random instants of runs that archive to S3 and checks
// after every recovering run that each expired batch left the store and is in the bucket
// exactly once. The kills are aimed by what the staging folder holds: while the sealed archive
// is written and uploaded (a pending file, no manifest), or once it is sealed and staged (the
// manifest: the store's commit and the publication). 4 iterations in `make test` (2 with
// -short; PAPYRAD_TORTURE_ITERATIONS, 40 unless set, under PAPYRAD_TORTURE=1).
func TestArchiveS3Crash(t *testing.T) {
	t.Parallel()
	iterations, batch := tortureCount(t, 4, 2, 40), int64(20000)
	srv := s3test.Start(t, s3ServerBin, s3test.Options{Buckets: []string{"audit"}})
	dir, state := t.TempDir(), t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	const orig = 1000
	writeFile(t, store, records("orig", 0, orig, fresh))
	s3 := s3Flags(srv, s3test.CredentialsFile(t, t.TempDir(), false))
	flags := jsonStore(store, state, append([]string{"--name", "orders", "--max-age", "1d"}, s3...)...)
	staging := filepath.Join(state, "archive-staging")
	holds := func(suffix string) func() bool {
		return func() bool {
			for _, f := range filesUnder(t, staging) {
				if strings.HasSuffix(f, suffix) {
					return true
				}
			}
			return false
		}
	}

	appendFile(t, store, records("warmup", 0, batch, oldStamp))
	rep, r := compactJSON(t, flags...)
	if r.code != 0 || rep.RecordsArchived != batch {
		t.Fatalf("calibration run: %+v\n%s", rep, r)
	}
	typical := r.dur
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d; a run takes about %v", seed, typical.Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(seed, 2))
	phases := map[string]int{}
	for i := range iterations {
		name := fmt.Sprintf("batch%d", i)
		appendFile(t, store, records(name, 0, batch, oldStamp))
		phase, ready := "writing or uploading the archive", holds(".pending")
		if i%2 == 1 {
			phase, ready = "committing or publishing", holds(".manifest")
		}
		if finished, r := killAimed(t, ready, typical/3, rng, flags); finished {
			if r.code != 0 {
				t.Fatalf("papyrad failed before it could be killed\n%s", r)
			}
			phase = "finished"
		}
		phases[phase]++
		when := fmt.Sprintf("iteration %d, killed while %s", i, phase)
		c := readContents(t, store)
		assertWhole(t, c, when)
		assertComplete(t, c, "orig", orig)

		rep, r := compactJSON(t, flags...)
		if r.code != 0 || rep.Result != report.ResultOK {
			t.Fatalf("%s: the next run must recover\n%s", when, r)
		}
		c = readContents(t, store)
		assertNoExpired(t, c, when+", after the recovering run")
		got, _ := archiveCat(t, s3)
		a := testutil.ParseContents(got)
		if len(a.Bad) > 0 {
			t.Errorf("%s: the archive holds %d bad lines", when, len(a.Bad))
		}
		assertCount(t, a, "warmup", batch, when+", archive")
		for j := 0; j <= i; j++ {
			assertCount(t, a, fmt.Sprintf("batch%d", j), batch, when+", archive")
		}
		if t.Failed() {
			break
		}
	}
	verify := papyrad(t, append(append([]string{"archive", "verify"}, s3...), "orders")...)
	if verify.code != 0 {
		t.Errorf("archive verify after the kills\n%s", verify)
	}
	t.Logf("%d iterations; where the kills landed: %v", iterations, phases)
	if files := filesUnder(t, staging); len(files) > 0 {
		t.Errorf("the staging folder holds %v after the last run", files)
	}
}

// TestArchiveFolderCommands: `papyrad archive` reads a folder archive too: ls lists the run's
// file, cat gives the dropped records back byte for byte, verify passes, and fails once the
// file is damaged.
func TestArchiveFolderCommands(t *testing.T) {
	t.Parallel()
	dir, state := t.TempDir(), t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	old := records("old", 0, 2000, oldStamp)
	writeFile(t, store, slices.Concat(old, records("orig", 0, 10, fresh)))
	arch := filepath.Join(dir, "archive")
	rep, r := compactJSON(t, jsonStore(store, state, "--name", "orders", "--max-age", "1d", "--archive-dir", arch)...)
	if r.code != 0 || rep.RecordsArchived != 2000 {
		t.Fatalf("run: %+v\n%s", rep, r)
	}
	flags := []string{"--archive-dir", arch}
	ls := papyrad(t, "archive", "ls", "--archive-dir", arch, "orders")
	if ls.code != 0 || !strings.Contains(ls.stdout, rep.ArchiveFile) {
		t.Errorf("archive ls does not list %s\n%s", rep.ArchiveFile, ls)
	}
	if got, _ := archiveCat(t, flags); !bytes.Equal(got, old) {
		t.Errorf("archive cat gives %d bytes, want the 2000 dropped records (%d)", len(got), len(old))
	}
	if v := papyrad(t, "archive", "verify", "--archive-dir", arch, "orders"); v.code != 0 || !strings.Contains(v.stdout, "1 archives verified, 0 failed") {
		t.Errorf("archive verify\n%s", v)
	}
	b := readFile(t, rep.ArchiveFile)
	writeFile(t, rep.ArchiveFile, b[:len(b)/2])
	if v := papyrad(t, "archive", "verify", "--archive-dir", arch, "orders"); v.code != 1 || !strings.Contains(v.stdout, "FAILED "+rep.ArchiveFile) {
		t.Errorf("archive verify of a truncated archive\n%s", v)
	}
}

// metricValue returns the value of the series line of text that starts with series.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	t.Fatalf("no series %s in\n%s", series, text)
	return 0
}

// TestDaemonS3ArchiveMetrics: a daemon whose store archives to S3 counts the bytes sent, the
// objects published and when, and, once the server is gone, the failed requests by reason;
// neither its logs, its status nor its metrics show the secret.
func TestDaemonS3ArchiveMetrics(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3ServerBin, s3test.Options{Buckets: []string{"audit"}})
	s := newDaemonSetup(t)
	a := s.store(t, "a")
	writeFile(t, a, slices.Concat(records("old", 0, 100, oldStamp), records("orig", 0, 10, fresh)))
	cred := s3test.CredentialsFile(t, s.dir, false)
	writeFile(t, s.cfg, []byte(fmt.Sprintf(`daemon:
  state_dir: %q
  metrics_listen: "127.0.0.1:0"
  timezone: UTC
  log: {level: debug, format: json}
defaults:
  retention: {max_age: 1d}
  min_interval: 0s
  disk: {reserve: 1MiB, factor: 1.1}
  archive: {endpoint: %q, region: us-east-1, path_style: true, credentials_file: %q}
stores:
  - name: a
    backend: json
    path: %q
    schedule: "@every 1h"
    windows: []
    archive: {url: "s3://audit/papyrad"}
`, s.state, srv.Endpoint, cred, a)))
	d := startDaemon(t, s)
	addr := d.metricsAddr(t)
	series := func(name string, more ...string) string {
		return name + `{` + strings.Join(append([]string{`backend="json"`}, append(more, `store="a"`)...), ",") + `}`
	}
	if m := metricsText(t, addr); metricValue(t, m, series("papyrad_archive_objects_published_total")) != 0 ||
		metricValue(t, m, series("papyrad_archive_upload_errors_total", `reason="network"`)) != 0 {
		t.Errorf("before any run the archive series are not at zero")
	}
	mark := len(d.logs())
	start := time.Now()
	if r := ctl(t, "trigger", "--config", s.cfg, "a"); r.code != 0 {
		t.Fatalf("trigger a\n%s", r)
	}
	done, _ := d.waitLog(t, mark, 30*time.Second, "the run of a", compacted("a"))
	if done.num("records_archived") != 100 || !strings.HasPrefix(done.str("archive_file"), "s3://audit/papyrad/a/") {
		t.Fatalf("summary line of a: %s", done)
	}
	m := metricsText(t, addr)
	if n := metricValue(t, m, series("papyrad_archive_objects_published_total")); n != 1 {
		t.Errorf("objects published: %v, want 1", n)
	}
	if b := metricValue(t, m, series("papyrad_archive_uploaded_bytes_total")); b <= 0 {
		t.Errorf("bytes uploaded: %v", b)
	}
	if ts := metricValue(t, m, series("papyrad_archive_last_success_timestamp_seconds")); ts < float64(start.Unix()) || ts > float64(time.Now().Unix()) {
		t.Errorf("last success at %v, want during the run", ts)
	}

	srv.Kill()
	appendFile(t, a, records("old2", 0, 50, oldStamp))
	mark = len(d.logs())
	if r := ctl(t, "trigger", "--config", s.cfg, "a"); r.code != 0 {
		t.Fatalf("trigger a\n%s", r)
	}
	d.waitLog(t, mark, 60*time.Second, "the failed run of a", func(e logEntry) bool {
		return e.msg() == "compaction failed" && e.str("store") == "a"
	})
	m = metricsText(t, addr)
	if n := metricValue(t, m, series("papyrad_archive_upload_errors_total", `reason="network"`)); n < 1 {
		t.Errorf("network errors: %v, want at least 1", n)
	}
	st := ctl(t, "status", "--config", s.cfg)
	for _, out := range []string{m, d.stdout.String(), d.stderr.String(), st.stdout, st.stderr} {
		if strings.Contains(out, s3test.Secret) {
			t.Errorf("the secret shows in the daemon's output, status or metrics")
		}
	}
}

// TestArchiveS3RotatingAndRedis: the other backends archive to S3 too. A rotating set's
// segments (deleted, emptied, rewritten) make one object by a server-side copy; a redis
// store's trimmed entries, of streams that keep entries, one uploaded from the records the
// streams lost. Each reads back with archive cat and passes archive verify.
func TestArchiveS3RotatingAndRedis(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3ServerBin, s3test.Options{Buckets: []string{"audit"}})
	s3 := s3Flags(srv, s3test.CredentialsFile(t, t.TempDir(), false))

	t.Run("rotating", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "events.ndjson")
		segs := [][]byte{
			slices.Concat(records("s3", 0, 300, oldStamp), []byte("\n")),
			records("s2", 0, 300, oldStamp),
			slices.Concat(records("s1", 0, 200, oldStamp), records("s1new", 0, 100, fresh)),
			records("active", 0, 50, fresh),
		}
		for i, name := range []string{path + ".3", path + ".2", path + ".1", path} {
			writeFile(t, name, segs[i])
			os.Chtimes(name, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
		}
		rep, r := compactJSON(t, append([]string{"--backend", "rotating", "--path", path, "--name", "orders", "--max-files", "4",
			"--max-age", "1d", "--state-dir", t.TempDir(), "--archive-compress", "gzip"}, s3...)...)
		if r.code != 0 || rep.RecordsArchived != 800 || !strings.HasSuffix(rep.ArchiveFile, ".ndjson.gz") {
			t.Fatalf("run: %+v\n%s", rep, r)
		}
		got, _ := archiveCat(t, s3)
		if want := slices.Concat(segs[0], segs[1], records("s1", 0, 200, oldStamp)); !bytes.Equal(got, want) {
			t.Errorf("the archive does not hold the 800 dropped records oldest first (%d bytes, want %d)", len(got), len(want))
		}
		if v := papyrad(t, append(append([]string{"archive", "verify"}, s3...), "orders")...); v.code != 0 {
			t.Errorf("archive verify\n%s", v)
		}
	})

	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		rs := redisserver.Start(t, redisserver.Options{TCP: true})
		url := rs.URL(0)
		redisFixture(t, redisClient(t, url))
		rep, r := compactJSON(t, append([]string{"--backend", "redis", "--redis-url", url, "--name", "cluster", "--max-age", "1d",
			"--max-records", "12", "--state-dir", t.TempDir()}, s3...)...)
		if r.code != 0 || rep.RecordsArchived != 84 {
			t.Fatalf("run: %+v\n%s", rep, r)
		}
		cat := papyrad(t, append(append([]string{"archive", "cat"}, s3...), "cluster")...)
		if n := strings.Count(cat.stdout, "\n"); cat.code != 0 || n != 84 || !strings.Contains(cat.stdout, `"stream":`) {
			t.Errorf("archive cat: %d lines, want the 84 trimmed entries\n%s", n, cat)
		}
		if v := papyrad(t, append(append([]string{"archive", "verify"}, s3...), "cluster")...); v.code != 0 {
			t.Errorf("archive verify\n%s", v)
		}
	})
}
