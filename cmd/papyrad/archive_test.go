package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// readArchives decompresses every archive file under dir with the standard tool for its
// extension (zstd -dc, gzip -dc), as an operator would, and returns their contents in file
// name order. It fails on files an unfinished run left (hidden names).
func readArchives(t *testing.T, dir string) (content []byte, files []string) {
	t.Helper()
	files = archiveFiles(t, dir)
	for _, f := range files {
		content = append(content, decompress(t, f)...)
	}
	return content, files
}

// TestArchiveJSON: a json store from a config file with an archive. The dropped records are in
// the archive byte for byte and in order, the non-records are not (they are quarantined), a
// dry run archives nothing, and old archive files are pruned after the run.
func TestArchiveJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	old := records("old", 0, 1000, oldStamp)
	kept := records("orig", 0, 500, fresh)
	writeFile(t, store, slices.Concat(records("old", 0, 500, oldStamp), []byte("{torn\n"), records("old", 500, 500, oldStamp), kept))
	arch := filepath.Join(dir, "archive")
	stale := filepath.Join(arch, "orders", "2026-01-01", "0123456789abcdef.ndjson.zst")
	os.MkdirAll(filepath.Dir(stale), 0o700)
	writeFile(t, stale, []byte("an archive past max_age"))
	os.Chtimes(stale, time.Now().AddDate(0, 0, -100), time.Now().AddDate(0, 0, -100))
	cfg := filepath.Join(dir, "papyrad.yaml")
	writeFile(t, cfg, []byte(fmt.Sprintf(`daemon: {state_dir: %s}
stores:
  - name: orders
    backend: json
    path: %s
    retention: {max_age: 1d}
    archive: {dir: %s, compress: zstd, max_age: 30d}
`, filepath.Join(dir, "state"), store, arch)))

	rep, r := compactJSON(t, "--config", cfg, "--dry-run")
	if r.code != 0 || rep.RecordsArchived != 1000 || rep.ArchiveFile != "" {
		t.Fatalf("dry run: %+v\n%s", rep, r)
	}
	rep, r = compactJSON(t, "--config", cfg)
	if r.code != 0 || rep.Result != report.ResultOK || rep.RecordsDropped != 1000 || rep.RecordsArchived != 1000 ||
		rep.RecordsQuarantined != 1 || rep.ArchivesPruned != 1 {
		t.Fatalf("run: %+v\n%s", rep, r)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the archive past max_age is still there: %v", err)
	}
	got, files := readArchives(t, arch)
	if len(files) != 1 || files[0] != rep.ArchiveFile {
		t.Fatalf("archive files %v, report says %s", files, rep.ArchiveFile)
	}
	if !bytes.Equal(got, old) {
		t.Errorf("the archive does not hold the 1000 dropped records byte for byte (%d bytes, want %d)", len(got), len(old))
	}
	if b := readFile(t, store); !bytes.Equal(b, kept) {
		t.Errorf("the store holds %d bytes, want the 500 kept records", len(b))
	}
	if out, err := exec.Command(testutil.Tool(t, "zstd"), "-t", rep.ArchiveFile).CombinedOutput(); err != nil {
		t.Errorf("zstd -t: %v\n%s", err, out)
	}
}

// TestArchiveFailureLeavesStore: a run whose archive cannot be written — its directory is a
// file, the disk is full, or papyrad may not write there — fails before the store changes and
// leaves no partial archive behind.
func TestArchiveFailureLeavesStore(t *testing.T) {
	t.Parallel()
	root := os.Geteuid() == 0
	cases := []struct {
		name  string
		setup func(t *testing.T, store string) (dir string, as runOpts)
		want  string
	}{
		{"not a directory", func(t *testing.T, store string) (string, runOpts) {
			blocked := filepath.Join(t.TempDir(), "blocked")
			writeFile(t, blocked, nil)
			return blocked, runOpts{}
		}, "not a directory"},
		{"disk full", func(t *testing.T, store string) (string, runOpts) {
			return testutil.Tmpfs(t, "64k"), runOpts{}
		}, "no space left on device"},
		{"permission", func(t *testing.T, store string) (string, runOpts) {
			dir := t.TempDir()
			if !root {
				os.Chmod(dir, 0o500)
				t.Cleanup(func() { os.Chmod(dir, 0o700) })
				return dir, runOpts{}
			}
			// Root may write anywhere: run as another user who owns the store but not
			// the archive directory.
			for _, p := range []string{filepath.Dir(filepath.Dir(store)), filepath.Dir(store)} {
				os.Chmod(p, 0o755)
			}
			os.Chown(filepath.Dir(store), 1234, 1234)
			os.Lchown(store, 1234, 1234)
			os.Chmod(filepath.Dir(dir), 0o755)
			return dir, runOpts{cred: &syscall.Credential{Uid: 1234, Gid: 1234}}
		}, "permission denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "events.ndjson")
			// Uncompressed, 2000 expired records do not fit in the 64k file system.
			writeFile(t, store, slices.Concat(records("old", 0, 2000, oldStamp), records("orig", 0, 10, fresh)))
			arch, as := c.setup(t, store)
			state := t.TempDir()
			if as.cred != nil {
				// The state dir is not what this case is about: the run's user owns it.
				os.Chmod(filepath.Dir(state), 0o755)
				os.Chown(state, int(as.cred.Uid), int(as.cred.Gid))
			}
			before := stateOf(t, store)
			rep, r := compactJSONWith(t, as, jsonStore(store, state, "--max-age", "1d", "--archive-dir", arch, "--archive-compress", "none")...)
			if r.code != 1 || rep.Result != report.ResultError || !strings.Contains(rep.Error, "archive") || !strings.Contains(rep.Error, c.want) {
				t.Fatalf("want exit 1 and an archive error saying %q: %+v\n%s", c.want, rep, r)
			}
			assertUnchanged(t, store, before)
			assertOnlyLock(t, store)
			if fi, err := os.Stat(arch); err != nil || !fi.IsDir() {
				return
			}
			if files := filesUnder(t, arch); len(files) > 0 {
				t.Errorf("the failed run left %v in the archive directory", files)
			}
		})
	}
}

// TestArchiveRotating: a rotating set with two fully expired segments (the oldest slot's
// deleted, the other emptied), one half expired and a fresh active file; the archive (gzip)
// holds the dropped records oldest first.
func TestArchiveRotating(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	segs := [][]byte{
		records("s3", 0, 300, oldStamp),
		records("s2", 0, 300, oldStamp),
		slices.Concat(records("s1", 0, 200, oldStamp), records("s1new", 0, 100, fresh)),
		records("active", 0, 50, fresh),
	}
	for i, name := range []string{path + ".3", path + ".2", path + ".1", path} {
		writeFile(t, name, segs[i])
		os.Chtimes(name, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
	}
	arch := filepath.Join(dir, "archive")
	rep, r := compactJSON(t, "--backend", "rotating", "--path", path, "--max-files", "4", "--max-age", "1d",
		"--state-dir", t.TempDir(), "--archive-dir", arch, "--archive-compress", "gzip")
	if r.code != 0 || rep.RecordsArchived != 800 || rep.FilesDeleted != 1 || rep.FilesRewritten != 2 || !strings.HasSuffix(rep.ArchiveFile, ".ndjson.gz") {
		t.Fatalf("run: %+v\n%s", rep, r)
	}
	got, _ := readArchives(t, arch)
	if want := slices.Concat(segs[0], segs[1], records("s1", 0, 200, oldStamp)); !bytes.Equal(got, want) {
		t.Errorf("the archive does not hold the 800 dropped records oldest first (%d bytes, want %d)", len(got), len(want))
	}
}

// TestArchiveRedis: the trimmed entries of a redis store, exported as {"id","stream","data"}
// lines with the record as stored.
func TestArchiveRedis(t *testing.T) {
	t.Parallel()
	srv := redisserver.Start(t, redisserver.Options{TCP: true})
	url := srv.URL(0)
	c := redisClient(t, url)
	want := redisFixture(t, c)
	before := map[string][]string{}
	for k := range want {
		before[k] = streamIDs(t, c, k)
	}
	arch := t.TempDir()
	rep, r := compactJSON(t, "--backend", "redis", "--redis-url", url, "--max-age", "1d", "--max-records", "12",
		"--state-dir", t.TempDir(), "--archive-dir", arch)
	if r.code != 0 || rep.RecordsDropped != 84 || rep.RecordsArchived != 84 {
		t.Fatalf("run: %+v\n%s", rep, r)
	}
	got, _ := readArchives(t, arch)
	trimmed := map[string]bool{}
	for k, ids := range before {
		for _, id := range ids {
			if !slices.Contains(want[k], id) {
				trimmed[k+" "+id] = true
			}
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	for _, l := range lines {
		var a struct {
			ID, Stream string
			Data       json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil || len(a.Data) == 0 {
			t.Fatalf("archive line %q: %v", l, err)
		}
		if !trimmed[a.Stream+" "+a.ID] {
			t.Errorf("archived %s %s, which was not trimmed or is archived twice", a.Stream, a.ID)
		}
		delete(trimmed, a.Stream+" "+a.ID)
	}
	if len(trimmed) != 0 {
		t.Errorf("%d trimmed entries are not in the archive", len(trimmed))
	}
}

// TestArchiveCrash kills papyrad at random instants of a rotating run with an archive, then
// lets the next run recover: every dropped record must then be in exactly one archive file,
// and every kept one in the set.
func TestArchiveCrash(t *testing.T) {
	t.Parallel()
	iterations := tortureCount(t, 8, 4, 100)
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	var typical time.Duration
	phases := map[string]int{}
	var done, verified int // iterations checked, records checked in the sets and the archives
	defer func() {
		t.Logf("%d of %d iterations; where the kills landed: %v; %d records verified in the sets and archives after recovering runs",
			done, iterations, phases, verified)
	}()
	for i := range iterations {
		dir := t.TempDir()
		path := filepath.Join(dir, "events.ndjson")
		batch := int64(10000)
		names := []string{path + ".4", path + ".3", path + ".2", path + ".1", path}
		for j, name := range names {
			w := fmt.Sprintf("seg%d", j)
			var b []byte
			switch {
			case j < 3:
				b = records(w, 0, batch, oldStamp)
			default:
				b = slices.Concat(records(w, 0, batch/2, oldStamp), records(w+"new", 0, batch/2, fresh))
			}
			writeFile(t, name, b)
			os.Chtimes(name, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
		}
		arch, state := filepath.Join(dir, "archive"), t.TempDir()
		flags := []string{"--backend", "rotating", "--path", path, "--max-files", "5", "--max-age", "1d",
			"--state-dir", state, "--archive-dir", arch, "--drain-timeout", "200ms"}
		if i == 0 {
			// Calibrate on a copy of the set, so that the kills land across a whole run.
			start := time.Now()
			calib := t.TempDir()
			for _, name := range names {
				writeFile(t, filepath.Join(calib, filepath.Base(name)), readFile(t, name))
			}
			r := papyrad(t, "compact", "--backend", "rotating", "--path", filepath.Join(calib, "events.ndjson"), "--max-files", "5",
				"--max-age", "1d", "--state-dir", t.TempDir(), "--archive-dir", filepath.Join(calib, "archive"))
			if r.code != 0 {
				t.Fatalf("calibration run\n%s", r)
			}
			typical = time.Since(start)
		}
		delay := time.Duration(rng.Int64N(int64(typical)))
		phases[killedIn(t, delay, path, flags)]++
		rep, r := compactJSON(t, flags...)
		if r.code != 0 || rep.Result != report.ResultOK {
			t.Fatalf("iteration %d (killed after %v): the next run must recover\n%s", i, delay, r)
		}
		set, err := testutil.ReadSet(path, "suffix", 5)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readArchives(t, arch)
		ac := testutil.ParseContents(got)
		when := fmt.Sprintf("iteration %d, killed after %v", i, delay)
		for j := range names {
			w := fmt.Sprintf("seg%d", j)
			n := batch
			if j >= 3 {
				n = batch / 2
				assertCount(t, set.Contents, w+"new", n, when+", set")
			}
			assertCount(t, ac, w, n, when+", archive")
		}
		if len(ac.Bad) > 0 {
			t.Errorf("%s: the archive has %d damaged lines", when, len(ac.Bad))
		}
		if n := len(set.Contents.Count); n != int(batch) {
			t.Errorf("%s: the set holds %d records, want the %d fresh ones", when, n, batch)
		}
		done++
		verified += len(set.Contents.Count) + len(ac.Count)
		if t.Failed() {
			break
		}
	}
}
