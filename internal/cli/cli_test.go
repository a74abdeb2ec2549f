package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/report"
)

func TestMain(m *testing.M) {
	// No test reads the host's /etc/papyrad/papyrad.yaml, installed or not.
	dir, err := os.MkdirTemp("", "papyrad-cli-")
	if err != nil {
		panic(err)
	}
	defaultConfigPath = filepath.Join(dir, "papyrad.yaml")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runCLI(t *testing.T, terminal bool, args ...string) (int, string, string) {
	t.Helper()
	return runCLIEnv(t, terminal, nil, args...)
}

// runCLIEnv runs papyrad in-process with environment variables added to a bare environment.
func runCLIEnv(t *testing.T, terminal bool, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, environ: append([]string{"HOME=" + t.TempDir()}, environ...), isTerminal: func() bool { return terminal }}
	code := execute(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

// TestProgressOnlyOnATerminal: a long run draws a progress line on a terminal's stderr, and
// nothing of the kind when stderr is not a terminal (logs, pipes, --json consumers), for a
// json store and for a rotating set, through the phases each has.
func TestProgressOnlyOnATerminal(t *testing.T) {
	// Drawn at every step: a run shorter than the throttle, on a fast machine, would
	// otherwise show no bar at all, terminal or not.
	defer func(d time.Duration) { progressThrottle = d }(progressThrottle)
	progressThrottle = 0
	var b strings.Builder
	for i := 0; i < 200_000; i++ {
		b.WriteString(`{"kind": "event", "timestamp": 978307200.0}` + "\n")
	}
	// A rotated segment of old records is removed; the active file, half old, is rewritten.
	fresh := fmt.Sprintf(`{"kind": "event", "timestamp": %d.5}`+"\n", time.Now().Unix())
	active := b.String()[:len(b.String())/2] + strings.Repeat(fresh, 100_000)
	for _, tc := range []struct {
		backend string
		files   map[string]string
		args    []string
		phases  []string
	}{
		{"json", map[string]string{"events.ndjson": b.String()}, nil, []string{"compact"}},
		{"rotating", map[string]string{"events.ndjson": active, "events.ndjson.1": b.String()},
			[]string{"--max-files", "3"}, []string{"plan", "compact"}},
	} {
		for _, terminal := range []bool{true, false} {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"compact", "--backend", tc.backend, "--path", filepath.Join(dir, "events.ndjson"),
				"--max-age", "1d", "--state-dir", filepath.Join(dir, "state")}, tc.args...)
			code, _, stderr := runCLI(t, terminal, args...)
			if code != ExitOK {
				t.Fatalf("%s: exit %d: %s", tc.backend, code, stderr)
			}
			// The bar, the bytes done of the total, the rate and the time left, in each phase.
			drew := strings.Contains(stderr, "%") && strings.Contains(stderr, "iB/s") && strings.Contains(stderr, "MiB")
			for _, phase := range tc.phases {
				drew = drew && strings.Contains(stderr, "events.ndjson: "+phase)
			}
			if drew != terminal {
				t.Errorf("%s, terminal=%v: progress drawn=%v (stderr %q)", tc.backend, terminal, drew, stderr)
			}
		}
	}
}

func TestAdHocUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"compact"}, "no config file: give --config FILE or set PAPYRAD_CONFIG"},
		{[]string{"scan"}, "no config file: give --config FILE or set PAPYRAD_CONFIG"},
		{[]string{"run"}, "no config file"},
		{[]string{"config", "check"}, "no config file"},
		{[]string{"status"}, "no config file"},
		{[]string{"trigger", "a"}, "no config file"},
		{[]string{"metrics"}, "no config file"},
		{[]string{"compact", "--backend", "json"}, "--path is required"},
		{[]string{"compact", "--backend", "json", "--path", "x"}, "no retention limit given"},
		{[]string{"compact", "--backend", "json", "--path", "x", "--max-age", "7x"}, "--max-age"},
		{[]string{"compact", "--backend", "json", "--path", "x", "--max-total-bytes", "lots"}, "--max-total-bytes"},
		{[]string{"compact", "--backend", "json", "--path", "x", "--max-age", "1d", "--no-retention"}, "contradicts"},
		{[]string{"compact", "--backend", "nosql", "--path", "x", "--max-age", "1d"}, "unknown backend"},
		{[]string{"compact", "--backend", "json", "--path", "x", "--max-age", "1d", "--size-basis", "repr"}, "--size-basis"},
		{[]string{"compact", "--backend", "json", "--path", "x", "--max-age", "1d", "--archive-dir", "a", "--archive-compress", "xz"}, "--archive-compress"},
		{[]string{"compact", "--backend", "json", "--path", "x", "--max-age", "1d", "--archive-max-age", "30d"}, "--archive-max-age needs --archive-dir"},
		{[]string{"compact", "--backend", "json", "--path", "x", "--max-age", "1d", "--archive-dir", "a", "--archive-max-age", "soon"}, "--archive-max-age"},
		{[]string{"compact", "--bogus"}, "unknown flag"},
		{[]string{"compact", "orders"}, "store names (orders) need one"},
	}
	for _, tc := range tests {
		code, _, stderr := runCLI(t, false, tc.args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", tc.args, code, ExitUsage)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: stderr %q does not say %q", tc.args, stderr, tc.want)
		}
	}
}

func TestShippedConfigsAreValid(t *testing.T) {
	for _, name := range []string{"papyrad.example.yaml", "minimal.yaml", "example.yaml"} {
		code, out, stderr := runCLI(t, false, "config", "check", "--config", filepath.Join("..", "..", "configs", name))
		if code != ExitOK || !strings.Contains(out, "stores:") {
			t.Errorf("%s: exit %d, stderr %s", name, code, stderr)
		}
	}
}

func TestArchivedStoreKeepsDroppedRecords(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	old := `{"kind": "event", "timestamp": 978307200.0}` + "\n"
	fresh := `{"kind": "event", "timestamp": 4102444800.0}` + "\n"
	os.WriteFile(store, []byte(old+fresh), 0o644)
	cfg := filepath.Join(dir, "papyrad.yaml")
	os.WriteFile(cfg, []byte(`daemon: {state_dir: `+filepath.Join(dir, "state")+`}
stores:
  - name: orders
    backend: json
    path: `+store+`
    retention: {max_age: 1d}
    archive: {dir: `+filepath.Join(dir, "archive")+`, compress: none}
`), 0o644)
	code, out, _ := runCLI(t, false, "compact", "--config", cfg, "--json")
	if code != ExitOK || !strings.Contains(out, `"records_archived": 1`) {
		t.Fatalf("exit %d, out %s", code, out)
	}
	if b, _ := os.ReadFile(store); string(b) != fresh {
		t.Errorf("store holds %q, want only the fresh record", b)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "archive", "orders", "*", "*.ndjson"))
	if len(files) != 1 {
		t.Fatalf("archive files: %v", files)
	}
	if b, _ := os.ReadFile(files[0]); string(b) != old {
		t.Errorf("archive holds %q, want the dropped record %q", b, old)
	}
}

// TestReplacedStoreExits75: when another program (Papyra's own compaction) replaces the store
// during the run, the run gives up without changing anything and the command says "busy, try
// later" (75), not "failed" (1); the store keeps what that program put there.
func TestReplacedStoreExits75(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	old := `{"kind": "event", "timestamp": 978307200.0}` + "\n"
	fresh := `{"kind": "event", "timestamp": 4102444800.0}` + "\n"
	if err := os.WriteFile(store, []byte(old+fresh), 0o644); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "events.ndjson.compact.tmp")
	atomicfile.InjectFaults(t, func(op atomicfile.Op, _ string) error {
		if op == atomicfile.OpLink {
			// Papyra's compaction commits just before papyrad's.
			if err := os.WriteFile(theirs, []byte(fresh), 0o644); err != nil {
				return err
			}
			return os.Rename(theirs, store)
		}
		return nil
	})
	code, out, stderr := runCLI(t, false, "compact", "--backend", "json", "--path", store, "--max-age", "1d",
		"--state-dir", filepath.Join(dir, "state"), "--json")
	if code != ExitTempFail {
		t.Fatalf("exit %d, want %d: %s %s", code, ExitTempFail, out, stderr)
	}
	var got report.Compaction
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if len(got.Stores) != 1 || got.Stores[0].Result != report.ResultSkipped || got.Stores[0].Reason != "replaced" {
		t.Errorf("report %+v, want skipped, reason replaced", got.Stores)
	}
	if b, _ := os.ReadFile(store); string(b) != fresh {
		t.Errorf("store holds %q, want what the other program wrote", b)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != "events.ndjson" && !strings.HasSuffix(n, ".lock") && n != "state" {
			t.Errorf("%s left beside the store", n)
		}
	}
}

// TestHardLinkedStore: a store file with a second name is refused (exit 1, the error naming
// the file and its link count, the store untouched), json and rotating alike, unless
// --allow-hard-links says otherwise.
func TestHardLinkedStore(t *testing.T) {
	old := `{"kind": "event", "timestamp": 978307200.0}` + "\n"
	fresh := `{"kind": "event", "timestamp": 4102444800.0}` + "\n"
	for _, backend := range []string{"json", "rotating"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			store := filepath.Join(dir, "events.ndjson")
			if err := os.WriteFile(store, []byte(old+fresh), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(store, filepath.Join(t.TempDir(), "second")); err != nil {
				t.Fatal(err)
			}
			args := []string{"compact", "--backend", backend, "--path", store, "--max-age", "1d", "--state-dir", filepath.Join(dir, "state")}
			code, out, stderr := runCLI(t, false, args...)
			if code != ExitFailed || !strings.Contains(out+stderr, store) || !strings.Contains(out+stderr, "2 hard links") {
				t.Fatalf("exit %d, want %d naming %s and its 2 hard links: %s %s", code, ExitFailed, store, out, stderr)
			}
			if b, _ := os.ReadFile(store); string(b) != old+fresh {
				t.Errorf("the refused run changed the store: %q", b)
			}
			code, out, stderr = runCLI(t, false, append(args, "--allow-hard-links")...)
			if code != ExitOK {
				t.Fatalf("with --allow-hard-links: exit %d: %s %s", code, out, stderr)
			}
			if b, _ := os.ReadFile(store); string(b) != fresh {
				t.Errorf("with --allow-hard-links the store holds %q, want the fresh record", b)
			}
		})
	}
}

// TestReadableCredentialsFlag: a credentials file given with --archive-credentials-file that
// its group or others can read is warned about by flag and path, as it is in a config file,
// by every command that takes the flag; one only its owner reads is not, and no warning
// shows the secret.
func TestReadableCredentialsFlag(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o600} {
		dir := t.TempDir()
		cred := filepath.Join(dir, "s3.credentials")
		os.WriteFile(cred, []byte("[default]\naws_access_key_id = AK\naws_secret_access_key = s3cret-value\n"), mode)
		os.Chmod(cred, mode)
		store := filepath.Join(dir, "events.ndjson")
		os.WriteFile(store, []byte(`{"kind": "event", "timestamp": 4102444800.0}`+"\n"), 0o644)
		s3 := []string{"--archive-url", "s3://bucket", "--archive-endpoint", "http://127.0.0.1:1", "--archive-credentials-file", cred}
		for _, args := range [][]string{
			append([]string{"compact", "--path", store, "--max-age", "1d", "--dry-run", "--state-dir", filepath.Join(dir, "state")}, s3...),
			append([]string{"archive", "ls", "orders"}, s3...),
		} {
			_, _, stderr := runCLI(t, false, args...)
			want := "papyrad: warning: --archive-credentials-file " + cred + " can be read by its group or others (mode 0644)"
			if warned := strings.Contains(stderr, want); warned != (mode == 0o644) {
				t.Errorf("%s with mode %04o: stderr %q", args[0], mode, stderr)
			}
			if strings.Contains(stderr, "s3cret-value") {
				t.Errorf("%s: stderr shows the secret: %s", args[0], stderr)
			}
		}
	}
}
