package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// doubledPath finds a path that an error names twice in a row, as a wrapped *fs.PathError does
// when the wrapper names the path too: "state directory /x: mkdir /x: not a directory".
var doubledPath = regexp.MustCompile(`(/[^\s:"]+): (?:[a-z]+ ){1,3}(/[^\s:"]+)`)

func doubled(text string) []string {
	var out []string
	for _, m := range doubledPath.FindAllStringSubmatch(text, -1) {
		if m[1] == m[2] {
			out = append(out, m[0])
		}
	}
	return out
}

// TestErrorTexts runs papyrad into the errors an operator meets (a path under a file, a store
// that is a directory, a state, quarantine or archive directory that is a file, a config that
// cannot be read, a daemon that cannot make its directories) and checks that each fails with
// a message that names each path once: never "open X: open X".
func TestErrorTexts(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"state directory /x/s: mkdir /x/s: not a directory",
		"stat /x/e.ndjson: lstat /x/e.ndjson: not a directory",
		"open lock file /x/.papyrad.e.lock: open /x/.papyrad.e.lock: permission denied",
	} {
		if len(doubled(s)) == 0 {
			t.Fatalf("the check misses %q", s)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	store := filepath.Join(dir, "events.ndjson")
	writeFile(t, file, nil)
	writeFile(t, store, append(records("old", 0, 3, oldStamp), "not a record\n"...))
	if err := os.Mkdir(filepath.Join(dir, "dir.ndjson"), 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	config := func(name, daemon string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, fmt.Appendf(nil, "daemon: {metrics_listen: \"\", %s}\nstores:\n  - {name: a, backend: json, path: %q, retention: {max_age: 1d}}\n", daemon, store))
		return p
	}
	under := filepath.Join(file, "events.ndjson")
	for _, args := range [][]string{
		{"compact", "--path", under, "--max-age", "1d", "--state-dir", state},
		{"compact", "--backend", "rotating", "--path", under, "--max-age", "1d", "--state-dir", state},
		{"compact", "--path", filepath.Join(dir, "dir.ndjson"), "--max-age", "1d", "--state-dir", state},
		{"scan", "--path", under},
		{"scan", "--backend", "rotating", "--path", under},
		{"compact", "--path", store, "--max-age", "1d", "--state-dir", file},
		{"compact", "--path", store, "--max-age", "1d", "--state-dir", state, "--quarantine-dir", filepath.Join(file, "q")},
		{"compact", "--path", store, "--max-age", "1d", "--state-dir", state, "--archive-dir", file},
		{"config", "check", "--config", filepath.Join(dir, "dir.ndjson")},
		{"config", "check", "--config", filepath.Join(file, "papyrad.yaml")},
		{"run", "--config", config("state.yaml", fmt.Sprintf("state_dir: %q", file))},
		{"run", "--config", config("socket.yaml", fmt.Sprintf("state_dir: %q, control_socket: %q", state, filepath.Join(file, "sock")))},
		{"status", "--socket", filepath.Join(dir, "nobody.sock")},
	} {
		r := papyradWith(t, runOpts{env: daemonEnv(), timeout: 30 * time.Second}, args...)
		if r.code == 0 {
			t.Errorf("want a failure\n%s", r)
			continue
		}
		text := r.stdout + r.stderr
		if !strings.Contains(text, dir) {
			t.Errorf("the error names no path\n%s", r)
		}
		if d := doubled(text); len(d) > 0 {
			t.Errorf("a path named twice: %q\n%s", d, r)
		}
	}
}

// TestUsageErrors: a bare papyrad prints its help on stderr and exits 64, as an unknown
// --log-level does, naming the levels.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	r := papyrad(t)
	if r.code != 64 || !strings.Contains(r.stderr, "Available Commands:") || r.stdout != "" {
		t.Errorf("bare papyrad: want the help on stderr and exit 64\n%s", r)
	}
	store := filepath.Join(t.TempDir(), "events.ndjson")
	writeFile(t, store, records("old", 0, 3, oldStamp))
	before := stateOf(t, store)
	r = papyrad(t, "compact", "--path", store, "--max-age", "1d", "--log-level", "bogus")
	if r.code != 64 || !strings.Contains(r.stderr, `--log-level: "bogus" is not one of debug, info, warn, error`) {
		t.Errorf("--log-level bogus: want exit 64 naming the levels\n%s", r)
	}
	assertUnchanged(t, store, before)
	if r = papyrad(t, "compact", "--path", store, "--max-age", "1d", "--log-level", "debug"); r.code != 0 {
		t.Errorf("--log-level debug: want exit 0\n%s", r)
	}
}
