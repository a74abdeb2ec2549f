package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tortureCount is how many runs (or rounds) a kill loop starts and kills: inTest in `make test`,
// inShort with -short, and with PAPYRAD_TORTURE=1 (`make torture`) PAPYRAD_TORTURE_ITERATIONS,
// or inTorture unless it is set.
func tortureCount(t *testing.T, inTest, inShort, inTorture int) int {
	t.Helper()
	if os.Getenv("PAPYRAD_TORTURE") == "" {
		if testing.Short() {
			return inShort
		}
		return inTest
	}
	v := os.Getenv("PAPYRAD_TORTURE_ITERATIONS")
	if v == "" {
		return inTorture
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("PAPYRAD_TORTURE_ITERATIONS=%q: want a positive number", v)
	}
	return n
}

// testKnobs are the environment variables that set how long the torture tests and the soak run
// (`make torture`). They are the tests', not papyrad's, and papyrad refuses a config file
// alongside a PAPYRAD_ variable it does not know: they are kept from the commands it runs.
var testKnobs = []string{"PAPYRAD_TORTURE", "PAPYRAD_TORTURE_ITERATIONS", "PAPYRAD_SOAK"}

// TestKnobsKeptFromPapyrad: with the torture knobs set, as `make torture` sets them, papyrad run
// in the test's own environment refuses a config file (exit 78, naming the variable), and the
// commands the tests run through papyradEnv work.
func TestKnobsKeptFromPapyrad(t *testing.T) {
	for _, k := range testKnobs {
		t.Setenv(k, "1")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	writeFile(t, store, append(records("old", 0, 10, oldStamp), records("orig", 0, 10, fresh)...))
	cfg := filepath.Join(dir, "papyrad.yaml")
	writeFile(t, cfg, fmt.Appendf(nil, "daemon: {state_dir: %q}\nstores:\n  - {name: a, backend: json, path: %q, retention: {max_age: 1d}}\n",
		filepath.Join(dir, "state"), store))

	out, err := exec.Command(papyradBin, "compact", "--config", cfg).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 78 || !strings.Contains(string(out), "PAPYRAD_TORTURE") {
		t.Errorf("papyrad with PAPYRAD_TORTURE in its environment: want exit 78 naming it, got %v\n%s", err, out)
	}
	if rep, r := compactJSON(t, "--config", cfg); r.code != 0 || rep.RecordsDropped != 10 {
		t.Errorf("papyrad through papyradEnv: want exit 0 and 10 records dropped\n%s", r)
	}
}
