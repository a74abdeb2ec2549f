package s3

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/atomicfile"
)

// seal writes parts (key → timestamps) through an archive.Writer and seals it.
func seal(t *testing.T, cfg archive.Config, runID string, parts map[string][]int) *archive.Writer {
	t.Helper()
	w := archive.NewWriter(cfg, "orders", runID, day)
	for _, k := range []string{"a", "b"} {
		if len(parts[k]) == 0 {
			continue
		}
		if err := w.Begin(k); err != nil {
			t.Fatal(err)
		}
		for _, ts := range parts[k] {
			if err := w.Write([]byte(fmt.Sprintf("{\"timestamp\": %d}\n", ts))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

func decoded(t *testing.T, r *Remote, key string) string {
	t.Helper()
	var b strings.Builder
	if err := archive.Decode(archive.Zstd, strings.NewReader(string(get(t, r, key))), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func localFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestWriterPublishesWhatTheStoreLost drives archive.Writer and archive.Recover against the
// server: a publish keeps only what the store lost (a part whole, another line by line), a run
// that died sealed is published by Recover, one that died before its manifest leaves nothing
// once Recover ran, and one whose final object was uploaded before it died is not uploaded
// twice.
func TestWriterPublishesWhatTheStoreLost(t *testing.T) {
	r, srv, _ := remote(t, nil)
	ctx := context.Background()
	cfg := archive.Config{Dir: t.TempDir(), Compress: archive.Zstd, Remote: r}
	obj := func(run string) archive.Object {
		return archive.Object{Store: "orders", RunID: run, Day: day, Ext: ".ndjson.zst"}
	}

	// A part lost whole and one lost up to its second line.
	w := seal(t, cfg, "run1", map[string][]int{"a": {1, 2, 3}, "b": {4, 5, 6}})
	if !exists(t, r, r.stagedKey(obj("run1"))) {
		t.Fatal("Seal did not stage the archive")
	}
	final, n, err := w.Publish(ctx, func(p archive.Part) (archive.Keep, error) {
		if p.Key == "a" {
			return archive.Keep{Whole: true}, nil
		}
		return archive.Keep{Line: func(l []byte) bool { return strings.Contains(string(l), ": 4}") }}, nil
	})
	key := r.finalKey(obj("run1"))
	if err != nil || n != 4 || final != "s3://archive/"+key {
		t.Fatalf("Publish = %s, %d, %v", final, n, err)
	}
	if got := decoded(t, r, key); got != "{\"timestamp\": 1}\n{\"timestamp\": 2}\n{\"timestamp\": 3}\n{\"timestamp\": 4}\n" {
		t.Errorf("published %q", got)
	}
	if m, err := r.manifest(ctx, key); err != nil || m.Records != 4 || m.FirstTimestamp != "1" || m.LastTimestamp != "4" {
		t.Errorf("manifest %+v, %v", m, err)
	}
	if exists(t, r, r.stagedKey(obj("run1"))) || len(localFiles(t, cfg.Dir)) != 0 {
		t.Errorf("left after publishing: staged %v, local %v", exists(t, r, r.stagedKey(obj("run1"))), localFiles(t, cfg.Dir))
	}

	// Sealed, then died: Recover publishes what the store lost.
	seal(t, cfg, "run2", map[string][]int{"a": {7, 8}})
	// Sealed and published as far as the final object, then died.
	seal(t, cfg, "run3", map[string][]int{"a": {9}})
	pending := filepath.Join(cfg.Dir, "orders", day.Format("2006-01-02"), ".run3.ndjson.zst.pending")
	f, err := os.Open(pending)
	if err != nil {
		t.Fatal(err)
	}
	o3 := obj("run3")
	o3.Info, err = archive.Describe(ctx, archive.Zstd, f)
	if err != nil {
		t.Fatal(err)
	}
	o3.Info.Store, o3.Info.RunID = "orders", "run3"
	if err := r.Publish(ctx, o3, f, true); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Staged, then died before its manifest: the store never changed.
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpRename && strings.HasSuffix(name, ".run4.manifest") {
			return syscall.EIO
		}
		return nil
	})
	w4 := archive.NewWriter(cfg, "orders", "run4", day)
	w4.Begin("a")
	w4.Write([]byte("{\"timestamp\": 10}\n"))
	if err := w4.Seal(ctx); err == nil {
		t.Fatal("the manifest's rename did not fail")
	}
	atomicfile.InjectFaults(t, func(atomicfile.Op, string) error { return nil })
	if !exists(t, r, r.stagedKey(obj("run4"))) {
		t.Fatal("run4 was not staged")
	}

	copies := func() int {
		n := 0
		for _, h := range srv.Headers(t) {
			if h["method"] == "PUT" && strings.HasSuffix(h["path"], "/run3.ndjson.zst") && !strings.Contains(h["path"], ".staging") {
				n++
			}
		}
		return n
	}
	before := copies()
	rec, err := archive.Recover(ctx, cfg, "orders", func(archive.Part) (archive.Keep, error) { return archive.Keep{Whole: true}, nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Published) != 2 || rec.Records != 3 || rec.Removed < 2 {
		t.Errorf("recovered %+v", rec)
	}
	if got := decoded(t, r, r.finalKey(obj("run2"))); got != "{\"timestamp\": 7}\n{\"timestamp\": 8}\n" {
		t.Errorf("run2 published %q", got)
	}
	if copies() != before || before != 1 {
		t.Errorf("run3's final object was made %d times before recovery and %d during it, want once before", before, copies()-before)
	}
	for _, run := range []string{"run2", "run3", "run4"} {
		if exists(t, r, r.stagedKey(obj(run))) {
			t.Errorf("%s's staged object is left", run)
		}
	}
	if exists(t, r, r.finalKey(obj("run4"))) {
		t.Error("run4, which never changed the store, was published")
	}
	if files := localFiles(t, cfg.Dir); len(files) != 0 {
		t.Errorf("left in the staging folder: %v", files)
	}
}

// TestRecoverAfterTheSealedFileWent: a publish that died between removing the sealed file and
// its manifest is finished by Recover without publishing anything again.
func TestRecoverAfterTheSealedFileWent(t *testing.T) {
	r, srv, _ := remote(t, nil)
	ctx := context.Background()
	cfg := archive.Config{Dir: t.TempDir(), Compress: archive.Zstd, Remote: r}
	w := seal(t, cfg, "run5", map[string][]int{"a": {1, 2}})
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpRemove && strings.HasSuffix(name, ".run5.manifest") {
			return syscall.EIO
		}
		return nil
	})
	whole := func(archive.Part) (archive.Keep, error) { return archive.Keep{Whole: true}, nil }
	if _, _, err := w.Publish(ctx, whole); err == nil {
		t.Fatal("the manifest's removal did not fail")
	}
	atomicfile.InjectFaults(t, func(atomicfile.Op, string) error { return nil })
	puts := len(srv.Headers(t))
	rec, err := archive.Recover(ctx, cfg, "orders", whole)
	if err != nil || len(rec.Published) != 1 {
		t.Fatalf("Recover = %+v, %v", rec, err)
	}
	if n := len(srv.Headers(t)); n != puts {
		t.Errorf("Recover sent %d more uploads", n-puts)
	}
	if files := localFiles(t, cfg.Dir); len(files) != 0 {
		t.Errorf("left in the staging folder: %v", files)
	}
	o := archive.Object{Store: "orders", RunID: "run5", Day: day, Ext: ".ndjson.zst"}
	if got := decoded(t, r, r.finalKey(o)); got != "{\"timestamp\": 1}\n{\"timestamp\": 2}\n" {
		t.Errorf("published %q", got)
	}
}
