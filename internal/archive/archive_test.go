package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/testutil"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// decompress reads an archive file with the standard command-line tool of its codec, as an
// operator would.
func decompress(t *testing.T, c Codec, path string) string {
	t.Helper()
	var cmd *exec.Cmd
	switch c {
	case Zstd:
		cmd = exec.Command(testutil.Tool(t, "zstd"), "-dc", path)
	case Gzip:
		cmd = exec.Command(testutil.Tool(t, "gzip"), "-dc", path)
	default:
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd, err)
	}
	return string(out)
}

// write archives parts (key → lines) and seals them.
func write(t *testing.T, cfg Config, runID string, parts [][2]string) *Writer {
	t.Helper()
	w := NewWriter(cfg, "orders", runID, now)
	for _, p := range parts {
		if err := w.Begin(p[0]); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.SplitAfter(p[1], "\n") {
			if err := w.Write([]byte(l)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

// listing is the store's archive directory: every name, hidden ones included.
func listing(t *testing.T, cfg Config) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(filepath.Join(cfg.Dir, "orders"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, d.Name())
		}
		return nil
	})
	return names
}

func TestPublishWholeEveryCodec(t *testing.T) {
	for _, c := range []Codec{Zstd, Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), Compress: c}
			w := write(t, cfg, "run1", [][2]string{{"a", "{\"n\":1}\n{\"n\":2}\r\n"}, {"b", "{\"n\":3}"}})
			final, n, err := w.Publish(context.Background(), func(Part) (Keep, error) { return Keep{Whole: true}, nil })
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(cfg.Dir, "orders", "2026-11-25", "run1.ndjson"+c.Ext()); final != want || n != 3 {
				t.Fatalf("published %s with %d records, want %s with 3", final, n, want)
			}
			// Byte for byte, in order; only the unterminated last record gains a newline.
			if got, want := decompress(t, c, final), "{\"n\":1}\n{\"n\":2}\r\n{\"n\":3}\n"; got != want {
				t.Errorf("archive holds %q, want %q", got, want)
			}
			if names := listing(t, cfg); len(names) != 1 {
				t.Errorf("leftovers beside the archive: %v", names)
			}
		})
	}
}

func TestPublishKeepsOnlyWhatTheStoreLost(t *testing.T) {
	for _, c := range []Codec{Zstd, Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), Compress: c}
			w := write(t, cfg, "run2", [][2]string{
				{"gone", "{\"id\":\"1\"}\n{\"id\":\"2\"}\n"},
				{"kept", "{\"id\":\"3\"}\n"},
				{"half", "{\"id\":\"4\"}\n{\"id\":\"5\"}\n"},
			})
			final, n, err := w.Publish(context.Background(), func(p Part) (Keep, error) {
				switch p.Key {
				case "gone":
					return Keep{Whole: true}, nil
				case "half":
					return Keep{Line: func(l []byte) bool { return bytes.Contains(l, []byte(`"4"`)) }}, nil
				}
				return Keep{}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := decompress(t, c, final), "{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"4\"}\n"; got != want || n != 3 {
				t.Errorf("archive holds %q (%d records), want %q (3)", got, n, want)
			}
			if names := listing(t, cfg); len(names) != 1 {
				t.Errorf("leftovers beside the archive: %v", names)
			}
		})
	}
}

func TestPublishNothingLost(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Compress: Zstd}
	w := write(t, cfg, "run3", [][2]string{{"a", "{}\n"}})
	final, n, err := w.Publish(context.Background(), func(Part) (Keep, error) { return Keep{}, nil })
	if err != nil || final != "" || n != 0 {
		t.Fatalf("published %q (%d), %v; want nothing", final, n, err)
	}
	if names := listing(t, cfg); len(names) != 0 {
		t.Errorf("a run whose store lost nothing left %v", names)
	}
}

// TestPublishUndecided: when the store cannot say what it lost, nothing is published and
// nothing removed; the next run's Recover publishes it.
func TestPublishUndecided(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Compress: Zstd}
	w := write(t, cfg, "run6", [][2]string{{"a", "{}\n"}, {"b", "{}\n"}})
	_, _, err := w.Publish(context.Background(), func(p Part) (Keep, error) {
		if p.Key == "b" {
			return Keep{}, errors.New("server down")
		}
		return Keep{Whole: true}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "server down") {
		t.Fatalf("want the store's error, got %v", err)
	}
	w.Discard()
	if names := listing(t, cfg); len(names) != 2 {
		t.Fatalf("an undecided archive must stay sealed, have %v", names)
	}
	rec, err := Recover(context.Background(), cfg, "orders", func(Part) (Keep, error) { return Keep{Whole: true}, nil })
	if err != nil || rec.Records != 2 {
		t.Fatalf("recovery published %d records, %v; want 2", rec.Records, err)
	}
}

func TestDiscardBeforeSeal(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Compress: Zstd}
	w := NewWriter(cfg, "orders", "run4", now)
	if err := w.Begin("a"); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("{}\n"))
	w.Discard()
	if names := listing(t, cfg); len(names) != 0 {
		t.Errorf("a failed run left %v", names)
	}
}

func TestSealFailsWhenTheDirectoryCannotBeWritten(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere")
	}
	root := t.TempDir()
	os.Chmod(root, 0o500)
	defer os.Chmod(root, 0o700)
	w := NewWriter(Config{Dir: filepath.Join(root, "archive"), Compress: Zstd}, "orders", "run5", now)
	if err := w.Begin("a"); err == nil || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Begin in a read-only directory: %v, want a permission error", err)
	}
}

// TestRecover covers the instants a run can die at: before Seal (no manifest), after Seal
// with the store changed or not, and after Publish's rename.
func TestRecover(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Compress: Zstd}

	// Died before Seal: only a pending file.
	w := NewWriter(cfg, "orders", "unsealed", now)
	w.Begin("a")
	w.Write([]byte("{\"r\":0}\n"))
	w.f.Close()

	// Sealed, then the store committed part "lost" and not "intact".
	write(t, cfg, "sealed", [][2]string{{"lost", "{\"r\":1}\n"}, {"intact", "{\"r\":2}\n"}})

	// Sealed, store unchanged.
	write(t, cfg, "unchanged", [][2]string{{"intact", "{\"r\":3}\n"}})

	// Published as far as the rename: the final file exists, the manifest too.
	p := write(t, cfg, "renamed", [][2]string{{"lost", "{\"r\":4}\n"}})
	os.Rename(p.pendingPath(), filepath.Join(p.dir, p.m.Final))

	rec, err := Recover(context.Background(), cfg, "orders", func(p Part) (Keep, error) {
		return Keep{Whole: p.Key == "lost"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	day := filepath.Join(cfg.Dir, "orders", "2026-11-25")
	if got := decompress(t, Zstd, filepath.Join(day, "sealed.ndjson.zst")); got != "{\"r\":1}\n" {
		t.Errorf("sealed run's archive holds %q, want only the lost part", got)
	}
	if got := decompress(t, Zstd, filepath.Join(day, "renamed.ndjson.zst")); got != "{\"r\":4}\n" {
		t.Errorf("renamed run's archive holds %q", got)
	}
	names := listing(t, cfg)
	if strings.Join(names, " ") != "renamed.ndjson.zst sealed.ndjson.zst" {
		t.Errorf("after recovery the archive holds %v, want the two published files only", names)
	}
	if rec.Records != 1 || len(rec.Published) != 2 {
		t.Errorf("recovered %+v", rec)
	}
	// Recovering again changes nothing.
	if rec, err := Recover(context.Background(), cfg, "orders", func(Part) (Keep, error) { return Keep{Whole: true}, nil }); err != nil || len(rec.Published) != 0 || rec.Removed != 0 {
		t.Errorf("second recovery: %+v, %v", rec, err)
	}
}

func TestRecoverKeepsArchiveWhenTheStoreCannotBeAsked(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Compress: Gzip}
	write(t, cfg, "sealed", [][2]string{{"a", "{}\n"}})
	_, err := Recover(context.Background(), cfg, "orders", func(Part) (Keep, error) { return Keep{}, errors.New("server down") })
	if err == nil || !strings.Contains(err.Error(), "server down") {
		t.Fatalf("want the store's error, got %v", err)
	}
	if names := listing(t, cfg); len(names) != 2 {
		t.Errorf("an undecided archive must stay pending, have %v", names)
	}
}

func TestPrune(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Compress: Zstd, MaxAge: 30 * 24 * time.Hour}
	old := filepath.Join(cfg.Dir, "orders", "2026-09-01", "a.ndjson.zst")
	recent := filepath.Join(cfg.Dir, "orders", "2026-11-20", "b.ndjson.gz")
	other := filepath.Join(cfg.Dir, "orders", "2026-09-01", "notes.txt")
	for _, p := range []string{old, recent, other} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte("x"), 0o600)
	}
	os.Chtimes(old, now.AddDate(0, -3, 0), now.AddDate(0, -3, 0))
	os.Chtimes(other, now.AddDate(0, -3, 0), now.AddDate(0, -3, 0))
	n, err := Prune(cfg, "orders", now)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	for p, want := range map[string]bool{old: false, recent: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", p, err == nil, want)
		}
	}
	if n, _ := Prune(Config{Dir: cfg.Dir}, "orders", now.AddDate(10, 0, 0)); n != 0 {
		t.Errorf("max_age 0 pruned %d files", n)
	}
}

// TestSealFailingManifestLeavesNoTemp: a manifest whose rename fails leaves no temp file, the
// run fails before the store changes, and Discard removes the archive.
func TestSealFailingManifestLeavesNoTemp(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Compress: Zstd}
	w := NewWriter(cfg, "orders", "run6", now)
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpRename && name == manifestName(w.dir, "run6") {
			return syscall.EIO
		}
		return nil
	})
	if err := w.Begin("a"); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(context.Background()); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Seal = %v, want the failed rename", err)
	}
	if names := listing(t, cfg); !slices.Equal(names, []string{".run6.ndjson.zst.pending"}) {
		t.Errorf("after the failed seal the archive holds %v, want the pending file alone", names)
	}
	w.Discard()
	if names := listing(t, cfg); len(names) != 0 {
		t.Errorf("a run whose seal failed left %v", names)
	}
}

// TestBeginSyncsEveryCreatedDirectory: the archive root, the store's and the day's directories
// are fsynced when Begin creates them, and so is the directory the root was created in.
func TestBeginSyncsEveryCreatedDirectory(t *testing.T) {
	base := t.TempDir()
	cfg := Config{Dir: filepath.Join(base, "archive"), Compress: None}
	var synced []string
	atomicfile.InjectFaults(t, func(op atomicfile.Op, name string) error {
		if op == atomicfile.OpSyncDir {
			synced = append(synced, name)
		}
		return nil
	})
	w := NewWriter(cfg, "orders", "run7", now)
	if err := w.Begin("a"); err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	for _, d := range []string{w.dir, filepath.Dir(w.dir), cfg.Dir, base} {
		if !slices.Contains(synced, d) {
			t.Errorf("%s was not fsynced (fsynced: %v)", d, synced)
		}
	}
}

// stagedOnly is a Remote that keeps what it is asked to stage and nothing else.
type stagedOnly struct{ staged []Object }

func (s *stagedOnly) Stage(_ context.Context, o Object, _ *os.File) error {
	s.staged = append(s.staged, o)
	return nil
}
func (s *stagedOnly) Publish(context.Context, Object, *os.File, bool) error { return nil }
func (s *stagedOnly) Unstage(context.Context, Object) error                 { return nil }
func (s *stagedOnly) Clean(context.Context, string) (int, error)            { return 0, nil }
func (s *stagedOnly) Name(o Object) string                                  { return o.RunID }

// TestStagedManifestIsTheFiles: the manifest a Writer makes as it writes (copied segments with
// blank lines and no final newline, written records) is what reading the sealed file back
// says, digests included.
func TestStagedManifestIsTheFiles(t *testing.T) {
	for _, c := range []Codec{Zstd, Gzip, None} {
		rem := &stagedOnly{}
		cfg := Config{Dir: t.TempDir(), Compress: c, Remote: rem}
		w := NewWriter(cfg, "orders", "run8", now)
		w.Begin("seg")
		if err := w.Copy(strings.NewReader("\n{\"timestamp\": 1}\n\n{\"timestamp\": 2}\n  \n{\"timestamp\": 3}"), 3); err != nil {
			t.Fatal(err)
		}
		w.Begin("more")
		w.Write([]byte(`{"timestamp": 4.5, "x": 1}`))
		w.Write([]byte("{\"x\": 2}\n"))
		if err := w.Seal(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(rem.staged) != 1 {
			t.Fatalf("%s: staged %d objects", c, len(rem.staged))
		}
		got := rem.staged[0].Info
		f, err := os.Open(w.pendingPath())
		if err != nil {
			t.Fatal(err)
		}
		want, err := Verify(context.Background(), c, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if d := Mismatch(want, got); d != "" || got.MD5 != want.MD5 || got.Records != 5 || got.FirstTimestamp != "1" || got.LastTimestamp != "" {
			t.Errorf("%s: staged manifest %+v, the file says %+v: %s", c, got, want, d)
		}
	}
}
