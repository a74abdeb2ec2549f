package redis

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// archived is one line of a redis archive.
type archived struct {
	ID     string          `json:"id"`
	Stream string          `json:"stream"`
	Data   json.RawMessage `json:"data"`
}

// readArchives returns the lines of every published archive of the store under dir, in file
// name order, and fails on leftovers of unpublished runs.
func readArchives(t *testing.T, dir string) []archived {
	t.Helper()
	var out []archived
	var hidden []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			hidden = append(hidden, d.Name())
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dec, err := zstd.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		sc := bufio.NewScanner(dec)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var a archived
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatalf("%s: %v: %q", p, err, sc.Text())
			}
			out = append(out, a)
		}
		if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("%s: %v", p, err)
		}
		return nil
	})
	if len(hidden) > 0 {
		t.Errorf("unpublished archive files left: %v", hidden)
	}
	return out
}

func withArchive(dir string) func(*Config) {
	return func(c *Config) { c.Archive = &archive.Config{Dir: dir, Compress: archive.Zstd} }
}

func TestArchive(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	ev := xadd(t, c, evKey, nil, append(append(records(100, old), "not json"), records(10, fresh)...))
	au := xadd(t, c, auKey, nil, records(5, old))
	dir := t.TempDir()
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, withArchive(dir))

	dry := compact(t, s, true)
	if dry.RecordsArchived != 105 || dry.ArchiveFile != "" {
		t.Errorf("dry run: %d archived, file %q", dry.RecordsArchived, dry.ArchiveFile)
	}
	if got := readArchives(t, dir); len(got) != 0 {
		t.Fatalf("a dry run archived %d records", len(got))
	}

	rep := compact(t, s, false)
	if rep.RecordsDropped != 105 || rep.RecordsArchived != 105 || rep.RecordsQuarantined != 1 {
		t.Errorf("report: %+v", rep)
	}
	want := map[string][]string{evKey: ev[:100], auKey: au}
	got := readArchives(t, dir)
	var n int
	for _, a := range got {
		if a.ID != want[a.Stream][0] {
			t.Fatalf("archive line %d: %s %s, want %s next", n, a.Stream, a.ID, want[a.Stream][0])
		}
		i := slices.Index(ev, a.ID)
		if a.Stream == auKey {
			i = slices.Index(au, a.ID)
		}
		if string(a.Data) != rec(i, old(i)) {
			t.Fatalf("archive line %d data %s, want the record as stored", n, a.Data)
		}
		want[a.Stream] = want[a.Stream][1:]
		n++
	}
	if n != 105 || len(want[evKey])+len(want[auKey]) != 0 {
		t.Errorf("archive holds %d records; missing %v", n, want)
	}
	if !strings.HasSuffix(rep.ArchiveFile, rep.RunID+".ndjson.zst") {
		t.Errorf("archive file %q, run %s", rep.ArchiveFile, rep.RunID)
	}
}

// TestArchiveFailsBeforeTrim: a run that cannot write its archive trims nothing.
func TestArchiveFailsBeforeTrim(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	xadd(t, c, evKey, nil, records(50, old))
	blocked := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocked, nil, 0o600)
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, withArchive(blocked))
	rep, err := s.Compact(context.Background(), backends.Options{})
	if err == nil || rep.Result != report.ResultError || !strings.Contains(err.Error(), "archive") {
		t.Fatalf("want an archive error, got %v (%+v)", err, rep)
	}
	if n := len(ids(t, c, evKey)); n != 50 {
		t.Errorf("the stream lost records it could not archive: %d left of 50", n)
	}
}

// TestArchiveServerDiesMidTrim: the server goes away after some trim steps, so the run cannot
// tell what was trimmed and leaves its archive sealed. The next run publishes the part that
// was trimmed and archives the rest itself: every record exactly once.
func TestArchiveServerDiesMidTrim(t *testing.T) {
	t.Parallel() // mostly waits for the dead run's lock to expire
	srv := redisserver.Start(t, redisserver.Options{Persist: true})
	c := client(t, srv)
	x := xadd(t, c, evKey, nil, append(records(20000, old), records(10, fresh)...))
	dir := t.TempDir()
	ttl := 2 * time.Second
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, withArchive(dir), func(c *Config) { c.TrimStep = 1000; c.LockTTL = ttl })
	steps := 0
	s.hook = func(point, key string) {
		if point == "trim-step" {
			if steps++; steps == 4 {
				srv.Kill()
			}
		}
	}
	if _, err := s.Compact(context.Background(), backends.Options{}); err == nil {
		t.Fatal("the run with the server gone succeeded")
	}
	s.hook = nil
	srv.Restart()
	time.Sleep(ttl + 200*time.Millisecond) // the dead run's lock expires
	rep := compact(t, s, false)
	if got := ids(t, c, evKey); !slices.Equal(got, x[20000:]) {
		t.Fatalf("%d entries left, want the 10 fresh ones", len(got))
	}
	got := readArchives(t, dir)
	ids := make([]string, len(got))
	for i, a := range got {
		ids[i] = a.ID
	}
	slices.Sort(ids)
	want := slices.Clone(x[:20000])
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("archives hold %d records (first %v), want the 20000 trimmed ones once each", len(ids), ids[:min(3, len(ids))])
	}
	if rep.RecordsArchived >= 20000 {
		t.Errorf("the second run archived %d records: the first run's trimmed part should have been recovered, not archived again", rep.RecordsArchived)
	}
}

// TestArchiveRecoversACrashBeforeTrim builds the state a run killed between sealing its
// archive and trimming leaves (a sealed archive, the streams as they were): the next run
// publishes none of it and archives the records once itself.
func TestArchiveRecoversACrashBeforeTrim(t *testing.T) {
	srv := redisserver.Start(t)
	c := client(t, srv)
	xadd(t, c, evKey, nil, records(300, old))
	dir := t.TempDir()
	s := newStore(t, srv, retention.Policy{MaxAge: time.Hour}, withArchive(dir))
	ctx, cancel := context.WithCancel(context.Background())
	saved := map[string][]byte{}
	s.hook = func(point, key string) {
		if point != "before-trim" {
			return
		}
		// The sealed archive, as a kill here would leave it.
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				saved[p], _ = os.ReadFile(p)
			}
			return nil
		})
		cancel()
	}
	if _, err := s.Compact(ctx, backends.Options{}); err == nil {
		t.Fatal("cancelled run succeeded")
	}
	s.hook = nil
	if len(saved) != 2 {
		t.Fatalf("sealed archive: %v", saved)
	}
	for p, b := range saved {
		os.WriteFile(p, b, 0o600)
	}
	if n := len(ids(t, c, evKey)); n != 300 {
		t.Fatalf("the cancelled run trimmed: %d left", n)
	}
	rep := compact(t, s, false)
	if got := readArchives(t, dir); len(got) != 300 || rep.RecordsArchived != 300 {
		t.Errorf("archives hold %d records, the run archived %d; want 300 once", len(got), rep.RecordsArchived)
	}
}
