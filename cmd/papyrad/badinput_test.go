package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

// TestBadInput feeds papyrad stores and arguments that are wrong in the ways a production
// host produces them. Whatever the input, papyrad answers with an exit code and a message,
// never a crash (every run is checked for a Go panic).
func TestBadInput(t *testing.T) {
	t.Parallel()
	t.Run("invalid UTF-8", func(t *testing.T) {
		dir, state := t.TempDir(), t.TempDir()
		store := filepath.Join(dir, "events.ndjson")
		good1 := testutil.Record(testutil.Key{Writer: "orig", Seq: 0}, testutil.Now())
		good2 := testutil.Record(testutil.Key{Writer: "orig", Seq: 1}, testutil.Now())
		bad := [][]byte{
			[]byte("{\"kind\": \"event\", \"timestamp\": 4102444800.0, \"s\": \"\xff\xfe\"}"),
			[]byte("\xc3\x28"),
			[]byte("{\"kind\": \"event\", \"timestamp\": 4102444800.0, \"s\": \"\xed\xa0\x80\"}"), // a UTF-8-encoded surrogate
		}
		var in []byte
		in = append(in, good1...)
		for _, b := range bad {
			in = append(append(in, b...), '\n')
		}
		in = append(in, good2...)
		writeFile(t, store, in)
		rep, r := compactJSONWith(t, runOpts{measureRSS: true}, jsonStore(store, state, "--no-retention")...)
		if r.code != 0 || rep.RecordsQuarantined != int64(len(bad)) || rep.RecordsAfter != 2 {
			t.Fatalf("want exit 0, %d lines quarantined, 2 records kept\n%s", len(bad), r)
		}
		if got := readFile(t, store); string(got) != string(good1)+string(good2) {
			t.Errorf("store = %q, want the two records byte for byte", got)
		}
		q := readQuarantine(t, rep.QuarantineFile)
		if len(q) != len(bad) {
			t.Fatalf("quarantine holds %d lines, want %d", len(q), len(bad))
		}
		for i := range bad {
			if !bytes.Equal(q[i].bytes, bad[i]) {
				t.Errorf("quarantined line %d: base64 decodes to %q, want %q", i+1, q[i].bytes, bad[i])
			}
			if q[i].Text != nil {
				t.Errorf("quarantined line %d is not UTF-8 but has text %q", i+1, *q[i].Text)
			}
		}
		assertOnlyLock(t, store)
	})

	t.Run("unterminated last line", func(t *testing.T) {
		tail := []byte(`{"kind": "event", "timestamp": 4102444800.0, "half": "writ`)
		for _, tc := range []struct {
			name  string
			age   time.Duration
			stays bool
		}{
			{"written just now: a write in progress", 0, true},
			{"an hour old: a crash remnant", time.Hour, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir, state := t.TempDir(), t.TempDir()
				store := filepath.Join(dir, "events.ndjson")
				kept := records("orig", 0, 3, fresh)
				head := append(records("old", 0, 3, oldStamp), kept...)
				writeFile(t, store, append(append([]byte(nil), head...), tail...))
				if tc.age > 0 {
					at := time.Now().Add(-tc.age)
					if err := os.Chtimes(store, at, at); err != nil {
						t.Fatal(err)
					}
				}
				rep, r := compactJSON(t, jsonStore(store, state, "--max-age", "1d")...)
				if r.code != 0 || rep.RecordsDropped != 3 {
					t.Fatalf("want exit 0 and 3 records dropped\n%s", r)
				}
				got := readFile(t, store)
				if tc.stays {
					if string(got) != string(kept)+string(tail) || rep.RecordsQuarantined != 0 {
						t.Errorf("the line being written must stay, unchanged, at the end; store = %q", got)
					}
					return
				}
				if string(got) != string(kept) || rep.RecordsQuarantined != 1 {
					t.Fatalf("the stale remnant must go to quarantine; store = %q\n%s", got, r)
				}
				if q := readQuarantine(t, rep.QuarantineFile); len(q) != 1 || !bytes.Equal(q[0].bytes, tail) {
					t.Errorf("quarantine = %+v, want the remnant's bytes", q)
				}
			})
		}
	})

	t.Run("100 MiB line", func(t *testing.T) {
		t.Parallel()
		testOversize(t, false)
	})
	t.Run("100 MiB record", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("writes and reads several hundred MiB")
		}
		testOversize(t, true)
	})

	t.Run("empty file", func(t *testing.T) {
		dir := t.TempDir()
		store := filepath.Join(dir, "events.ndjson")
		writeFile(t, store, nil)
		before := stateOf(t, store)
		rep, r := compactJSON(t, jsonStore(store, t.TempDir(), "--max-age", "1d")...)
		if r.code != 0 || rep.Result != report.ResultOK || rep.RecordsBefore != 0 || rep.FilesRewritten != 0 {
			t.Fatalf("want exit 0, nothing to do\n%s", r)
		}
		assertUnchanged(t, store, before)
		assertOnlyLock(t, store)
	})

	t.Run("missing store", func(t *testing.T) {
		t.Parallel()
		testMissingStore(t)
	})

	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		store := filepath.Join(dir, "events.ndjson")
		if err := os.Mkdir(store, 0o755); err != nil {
			t.Fatal(err)
		}
		rep, r := compactJSON(t, jsonStore(store, t.TempDir(), "--max-age", "1d")...)
		if r.code != 1 || rep.Result != report.ResultError || !strings.Contains(rep.Error, "directory") {
			t.Fatalf("want exit 1 and an error saying the path is a directory\n%s", r)
		}
		if n := beside(t, store); len(n) > 0 {
			t.Errorf("left beside the path: %v", n)
		}
	})

	t.Run("symbolic link", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "real.ndjson")
		writeFile(t, target, append(records("old", 0, 5, oldStamp), records("orig", 0, 5, fresh)...))
		link := filepath.Join(dir, "events.ndjson")
		if err := os.Symlink("real.ndjson", link); err != nil {
			t.Fatal(err)
		}
		linkBefore, targetBefore := stateOf(t, link), stateOf(t, target)
		rep, r := compactJSON(t, jsonStore(link, t.TempDir(), "--max-age", "1d")...)
		if r.code != 1 || rep.Result != report.ResultError || !strings.Contains(rep.Error, "symbolic link") {
			t.Fatalf("want exit 1 and an error saying the path is a symbolic link\n%s", r)
		}
		assertUnchanged(t, link, linkBefore)
		assertUnchanged(t, target, targetBefore)
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Errorf("the directory holds %d entries, want the link and its target", len(entries))
		}
	})

	t.Run("locked by another papyrad", func(t *testing.T) {
		dir := t.TempDir()
		store := filepath.Join(dir, "events.ndjson")
		writeFile(t, store, append(records("old", 0, 5, oldStamp), records("orig", 0, 5, fresh)...))
		lock, err := os.OpenFile(filepath.Join(dir, lockName(store)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		if _, err := lock.WriteString(strconv.Itoa(os.Getpid())); err != nil {
			t.Fatal(err)
		}
		before := stateOf(t, store)
		rep, r := compactJSON(t, jsonStore(store, t.TempDir(), "--max-age", "1d")...)
		if r.code != 75 || rep.Result != report.ResultSkipped {
			t.Fatalf("want exit 75 and result skipped\n%s", r)
		}
		if rep.Reason != "locked" || !strings.Contains(rep.Error, "pid "+strconv.Itoa(os.Getpid())) {
			t.Errorf("reason %q, error %q: want reason locked and the holder's pid", rep.Reason, rep.Error)
		}
		assertUnchanged(t, store, before)
		assertOnlyLock(t, store)
	})

	t.Run("Papyra compacting", func(t *testing.T) {
		// Papyra's own compaction writes <store>.compact.tmp while it runs: a fresh one means
		// "try again later", a stale one (a crashed Papyra) does not block papyrad.
		for _, tc := range []struct {
			name string
			age  time.Duration
			code int
		}{
			{"fresh compact.tmp", 0, 75},
			{"day-old compact.tmp", 24 * time.Hour, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := t.TempDir()
				store := filepath.Join(dir, "events.ndjson")
				writeFile(t, store, append(records("old", 0, 5, oldStamp), records("orig", 0, 5, fresh)...))
				papyraTmp := store + ".compact.tmp"
				writeFile(t, papyraTmp, records("orig", 0, 5, fresh))
				at := time.Now().Add(-tc.age)
				if err := os.Chtimes(papyraTmp, at, at); err != nil {
					t.Fatal(err)
				}
				before, tmpBefore := stateOf(t, store), stateOf(t, papyraTmp)
				rep, r := compactJSON(t, jsonStore(store, t.TempDir(), "--max-age", "1d")...)
				if r.code != tc.code {
					t.Fatalf("want exit %d\n%s", tc.code, r)
				}
				if tc.code == 75 {
					if rep.Result != report.ResultSkipped || rep.Reason != "papyra_active" {
						t.Errorf("result %q, reason %q: want skipped, papyra_active", rep.Result, rep.Reason)
					}
					assertUnchanged(t, store, before)
				} else if rep.RecordsDropped != 5 {
					t.Errorf("a stale Papyra temp file blocked the run: %+v", rep)
				}
				// Papyra's file is Papyra's: never touched.
				assertUnchanged(t, papyraTmp, tmpBefore)
			})
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		dir := t.TempDir()
		store := filepath.Join(dir, "events.ndjson")
		writeFile(t, store, append(records("old", 0, 5, oldStamp), records("orig", 0, 5, fresh)...))
		before := stateOf(t, store)
		for _, tc := range []struct {
			name string
			args []string
			says string
		}{
			{"no limit", []string{"--backend", "json", "--path", store}, "no retention limit"},
			{"garbage max-age", []string{"--backend", "json", "--path", store, "--max-age", "seven days"}, "--max-age"},
			{"negative max-age", []string{"--backend", "json", "--path", store, "--max-age", "-1d"}, "--max-age"},
			{"garbage size", []string{"--backend", "json", "--path", store, "--max-total-bytes", "lots"}, "--max-total-bytes"},
			{"unknown backend", []string{"--backend", "xml", "--path", store, "--max-age", "1d"}, "unknown backend"},
			{"no path", []string{"--backend", "json", "--max-age", "1d"}, "--path"},
			{"limit and no-retention", []string{"--backend", "json", "--path", store, "--max-age", "1d", "--no-retention"}, "--no-retention"},
			{"bad size basis", []string{"--backend", "json", "--path", store, "--max-total-bytes", "1MiB", "--size-basis", "disk"}, "--size-basis"},
			{"unknown flag", []string{"--backend", "json", "--path", store, "--max-age", "1d", "--frobnicate"}, "frobnicate"},
			// --path alone is a json store, and store names read the default config file when
			// it is there: the in-process tests of internal/cli check those without a host's
			// /etc/papyrad/papyrad.yaml in the way.
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := papyrad(t, append([]string{"compact"}, tc.args...)...)
				if r.code != 64 {
					t.Errorf("want exit 64\n%s", r)
				}
				if !strings.Contains(r.stderr, tc.says) {
					t.Errorf("the message does not mention %q\n%s", tc.says, r)
				}
			})
		}
		assertUnchanged(t, store, before)
		if n := beside(t, store); len(n) > 0 {
			t.Errorf("a refused run left %v beside the store", n)
		}
	})

	t.Run("invalid config", func(t *testing.T) {
		dir := t.TempDir()
		store := filepath.Join(dir, "events.ndjson")
		writeFile(t, store, append(records("old", 0, 5, oldStamp), records("orig", 0, 5, fresh)...))
		before := stateOf(t, store)
		for _, tc := range []struct {
			name, yaml string
			says       []string
		}{
			{"bad duration", "stores:\n  - name: orders\n    backend: json\n    path: " + store + "\n    retention: {max_age: sevendays}\n",
				[]string{"orders", "retention.max_age"}},
			{"unknown key", "stores:\n  - name: orders\n    backend: json\n    path: " + store + "\n    retention: {max_age: 7d, maxage: 1d}\n",
				[]string{"orders", "maxage"}},
			{"unknown backend", "stores:\n  - name: orders\n    backend: xml\n    path: " + store + "\n    retention: {max_age: 7d}\n",
				[]string{"orders", "backend"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := filepath.Join(t.TempDir(), "papyrad.yaml")
				writeFile(t, cfg, []byte(tc.yaml))
				for _, args := range [][]string{{"config", "check", "--config", cfg}, {"compact", "--config", cfg}} {
					r := papyrad(t, args...)
					if r.code != 78 {
						t.Errorf("want exit 78\n%s", r)
					}
					for _, s := range tc.says {
						if !strings.Contains(r.stderr, s) {
							t.Errorf("the message does not name %q\n%s", s, r)
						}
					}
				}
			})
		}
		assertUnchanged(t, store, before)
	})
}

// testOversize puts a 100 MiB line between two records. Whether or not the line is a valid
// JSON object, it is longer than any record papyrad holds in memory: it must be quarantined
// with its exact bytes, streamed, not loaded, and the records around it kept.
func testOversize(t *testing.T, validJSON bool) {
	const size = 100 << 20
	dir, state := t.TempDir(), t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	rec1 := testutil.Record(testutil.Key{Writer: "orig", Seq: 0}, testutil.Now())
	rec2 := testutil.Record(testutil.Key{Writer: "orig", Seq: 1}, testutil.Now())
	open := []byte(`{"kind": "event", "timestamp": 4102444800.0, "blob": "`)
	close := []byte(`"}`)
	if !validJSON {
		close = nil // the string never ends: not JSON
	}
	big := make([]byte, 0, size)
	big = append(big, open...)
	big = append(big, bytes.Repeat([]byte("x"), size-len(open)-len(close))...)
	big = append(big, close...)
	want := sha256.Sum256(big)
	f, err := os.Create(store)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{rec1, big, {'\n'}, rec2} {
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	big = nil

	rep, r := compactJSONWith(t, runOpts{measureRSS: true}, jsonStore(store, state, "--no-retention")...)
	if r.code != 0 || rep.Result != report.ResultOK {
		t.Fatalf("want exit 0\n%s", r)
	}
	t.Logf("papyrad took %v and peaked at %d MiB resident", r.dur.Round(time.Millisecond), r.maxRSS>>20)
	if got := readFile(t, store); string(got) != string(rec1)+string(rec2) {
		t.Errorf("store = %s, want the two records around the long line, byte for byte", testutil.Abbrev(got, 600))
	}
	if rep.RecordsQuarantined != 1 || rep.RecordsAfter != 2 {
		t.Errorf("records after %d, quarantined %d: want 2 kept and the long line quarantined", rep.RecordsAfter, rep.RecordsQuarantined)
	}
	if rep.QuarantineFile != "" {
		got, n := quarantinedDigest(t, rep.QuarantineFile)
		if got != want || n != size {
			t.Errorf("quarantine holds %d bytes that differ from the %d-byte line", n, size)
		}
	}
	// Streamed: memory stays well below the line's own size (it is never held whole). A run
	// holds at most DefaultMaxLine of it (16 MiB) while it looks for the line's end, and stays
	// within the 64 MiB that make bench holds papyrad to on every store.
	if limit := int64(64 << 20); r.maxRSS > limit {
		t.Errorf("papyrad peaked at %d MiB resident for a %d MiB line: the line was not streamed (limit %d MiB)",
			r.maxRSS>>20, size>>20, limit>>20)
	}
}

// quarantinedDigest streams the base64 of the one entry of a quarantine file through a
// decoder and returns the digest and length of the bytes it holds.
func quarantinedDigest(t *testing.T, path string) (sum [32]byte, n int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	key := []byte(`"base64":"`)
	// Skip to the key in chunks; the text field before it may be as long as the line. The
	// key cannot occur inside text, whose quotes are escaped.
	var carry []byte
	for found := false; !found; {
		chunk := make([]byte, 1<<20)
		n, err := io.ReadFull(br, chunk)
		if n == 0 {
			t.Fatalf("quarantine %s has no base64 field (%v)", path, err)
		}
		buf := append(carry, chunk[:n]...)
		if i := bytes.Index(buf, key); i >= 0 {
			rest := buf[i+len(key):]
			br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), br), 1<<20)
			found = true
			continue
		}
		carry = append([]byte(nil), buf[max(0, len(buf)-len(key)+1):]...)
	}
	h := sha256.New()
	enc := base64.NewDecoder(base64.StdEncoding, &untilQuote{r: br})
	n, err = io.Copy(h, enc)
	if err != nil {
		t.Fatalf("quarantine %s: base64: %v", path, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, n
}

// untilQuote reads from r up to (not including) the next '"'.
type untilQuote struct {
	r    *bufio.Reader
	done bool
}

func (u *untilQuote) Read(p []byte) (int, error) {
	if u.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if u.r.Buffered() == 0 {
		if _, err := u.r.Peek(1); err != nil {
			return 0, err
		}
	}
	b, _ := u.r.Peek(min(len(p), u.r.Buffered()))
	if i := bytes.IndexByte(b, '"'); i >= 0 {
		n := copy(p, b[:i])
		_, _ = u.r.Discard(i + 1)
		u.done = true
		return n, nil
	}
	n := copy(p, b)
	_, _ = u.r.Discard(n)
	return n, nil
}

// testMissingStore: a store that does not exist (json: no file; rotating: no file of the set;
// either: no directory) is an error naming the store and its path, exit 1, for compact and
// scan alike, and nothing is created; --missing-ok, or missing_ok: true in a config, makes it
// nothing to do (compact exit 0 with a warning, scan exit 0 saying missing, never "clean").
func testMissingStore(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	for _, tc := range []struct{ backend, path string }{
		{"json", filepath.Join(dir, "events.ndjson")},
		{"rotating", filepath.Join(dir, "events.ndjson")},
		{"json", filepath.Join(dir, "gone", "events.ndjson")},
		{"rotating", filepath.Join(dir, "gone", "events.ndjson")},
	} {
		what := tc.backend + " " + tc.path
		store := []string{"--backend", tc.backend, "--path", tc.path}
		rep, r := compactJSON(t, append(store, "--state-dir", state, "--max-age", "1d")...)
		if r.code != 1 || rep.Result != report.ResultError || !strings.Contains(rep.Error, "store events.ndjson: "+tc.path+" does not exist") {
			t.Errorf("%s: compact: want exit 1 naming the store and its path\n%s", what, r)
		}
		r = papyrad(t, append([]string{"scan"}, store...)...)
		if r.code != 1 || strings.Contains(r.stdout, "clean") || !strings.Contains(r.stdout, tc.path+" does not exist") {
			t.Errorf("%s: scan: want exit 1 naming the path, not clean\n%s", what, r)
		}
		rep, r = compactJSON(t, append(store, "--state-dir", state, "--max-age", "1d", "--missing-ok")...)
		if r.code != 0 || rep.Result != report.ResultOK || !strings.Contains(strings.Join(rep.Warnings, " "), "does not exist (missing_ok)") {
			t.Errorf("%s: compact --missing-ok: want exit 0 with a warning\n%s", what, r)
		}
		r = papyrad(t, append([]string{"scan"}, append(store, "--missing-ok")...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "events.ndjson: missing (missing_ok)") {
			t.Errorf("%s: scan --missing-ok: want exit 0, missing\n%s", what, r)
		}
	}
	if n, _ := os.ReadDir(dir); len(n) > 0 {
		t.Errorf("runs on missing stores created %v", n)
	}
	if f := filesUnder(t, state); len(f) > 0 {
		t.Errorf("runs on missing stores wrote %v", f)
	}

	cfg := filepath.Join(t.TempDir(), "papyrad.yaml")
	writeFile(t, cfg, fmt.Appendf(nil, "daemon: {state_dir: %q}\nstores:\n  - {name: orders, backend: json, path: %q, retention: {max_age: 1d}}\n  - {name: edge, backend: rotating, path: %q, retention: {max_age: 1d}, missing_ok: true}\n",
		state, filepath.Join(dir, "orders.ndjson"), filepath.Join(dir, "edge", "events.ndjson")))
	r := papyrad(t, "compact", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stdout, "orders: FAILED: store orders: "+filepath.Join(dir, "orders.ndjson")+" does not exist") ||
		!strings.Contains(r.stdout, "edge: nothing to do") {
		t.Errorf("config: compact: want exit 1, orders failed and edge nothing to do\n%s", r)
	}
	if r = papyrad(t, "compact", "--config", cfg, "edge"); r.code != 0 {
		t.Errorf("config: compact edge (missing_ok): want exit 0\n%s", r)
	}
	if r = papyrad(t, "scan", "--config", cfg, "--json"); r.code != 1 || !strings.Contains(r.stdout, `"missing": true`) || !strings.Contains(r.stdout, "orders.ndjson does not exist") {
		t.Errorf("config: scan: want exit 1, orders an error and edge missing\n%s", r)
	}
	if r = papyrad(t, "config", "check", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, "missing_ok: true") || !strings.Contains(r.stdout, "missing_ok: false") {
		t.Errorf("config check does not show missing_ok of each store\n%s", r)
	}
}

// TestMemoryStaysBounded compacts a 160 MiB store of small records (the most lines, and so
// the most line bookkeeping, per byte) with a count limit (two passes: the plan, then the
// copy) and checks that papyrad never holds it whole: its peak resident memory stays within
// the 64 MiB the product promises. It runs the real program, not the race-instrumented test
// process, whose memory is the race detector's as much as papyrad's.
func TestMemoryStaysBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store, state := filepath.Join(dir, "events.ndjson"), filepath.Join(dir, "state")
	rec := []byte(`{"kind": "event", "system_id": "x", "payload": {"n": 1}, "timestamp": 978307200.5}` + "\n")
	block := bytes.Repeat(rec, (1<<20)/len(rec))
	f, err := os.Create(store)
	if err != nil {
		t.Fatal(err)
	}
	const mib = 160
	for range mib {
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	records := int64(mib * ((1 << 20) / len(rec)))
	rep, r := compactJSONWith(t, runOpts{measureRSS: true}, jsonStore(store, state, "--max-age", "1h", "--max-records", "10")...)
	if r.code != 0 || rep.RecordsBefore != records || rep.RecordsAfter != 0 {
		t.Fatalf("want exit 0 and the %d records (all from 2001) dropped\n%s", records, r)
	}
	t.Logf("papyrad took %v and peaked at %d MiB resident", r.dur.Round(time.Millisecond), r.maxRSS>>20)
	if r.maxRSS > 64<<20 {
		t.Errorf("papyrad peaked at %d MiB resident compacting a %d MiB store (limit 64 MiB)", r.maxRSS>>20, mib)
	}
}
