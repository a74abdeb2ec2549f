package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultConfig: with no --config, the commands read PAPYRAD_CONFIG's file, else the
// default path when a file is there; an explicit --config wins over both. compact --path
// alone is a json store, as for scan.
func TestDefaultConfig(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "events.ndjson")
	old := `{"kind": "event", "timestamp": 978307200.0}` + "\n"
	fresh := `{"kind": "event", "timestamp": 4102444800.0}` + "\n"
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	config := func(name, store string) string {
		return write(name, "daemon: {state_dir: "+filepath.Join(dir, name+".state")+"}\nstores:\n  - {name: "+store+", backend: json, path: "+filepath.Join(dir, "events.ndjson")+", retention: {max_age: 1d}}\n")
	}
	fromEnv, explicit, def := config("env.yaml", "from_env"), config("explicit.yaml", "explicit"), config("default.yaml", "from_default")

	// The default path, when a file is there.
	saved := defaultConfigPath
	defaultConfigPath = def
	t.Cleanup(func() { defaultConfigPath = saved })
	if code, out, stderr := runCLI(t, false, "config", "check"); code != ExitOK || !strings.Contains(out, "name: from_default") {
		t.Errorf("config check, default file: exit %d\n%s%s", code, out, stderr)
	}
	// PAPYRAD_CONFIG wins over the default, --config over both.
	env := []string{"PAPYRAD_CONFIG=" + fromEnv}
	if code, out, stderr := runCLIEnv(t, false, env, "config", "check"); code != ExitOK || !strings.Contains(out, "name: from_env") {
		t.Errorf("config check, PAPYRAD_CONFIG: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCLIEnv(t, false, env, "config", "check", "--config", explicit); code != ExitOK || !strings.Contains(out, "name: explicit") {
		t.Errorf("config check --config with PAPYRAD_CONFIG set: exit %d\n%s%s", code, out, stderr)
	}
	// status finds the socket through the config it reads; no daemon answers there.
	socket := filepath.Join(dir, "env.yaml.state", "papyrad.sock")
	if code, _, stderr := runCLIEnv(t, false, env, "status"); code != ExitTempFail || !strings.Contains(stderr, "no papyrad daemon answers on "+socket) {
		t.Errorf("status, PAPYRAD_CONFIG: exit %d, want %d naming %s: %s", code, ExitTempFail, socket, stderr)
	}
	// compact with no flags compacts the default config's stores.
	write("events.ndjson", old+fresh)
	if code, out, stderr := runCLI(t, false, "compact"); code != ExitOK || !strings.Contains(out, "from_default: compacted") {
		t.Errorf("compact, default file: exit %d\n%s%s", code, out, stderr)
	}
	// PAPYRAD_CONFIG naming a file that is not there is that file's error, not the default.
	if code, _, stderr := runCLIEnv(t, false, []string{"PAPYRAD_CONFIG=" + filepath.Join(dir, "nope.yaml")}, "config", "check"); code != ExitConfig || !strings.Contains(stderr, "nope.yaml") {
		t.Errorf("PAPYRAD_CONFIG of a missing file: exit %d: %s", code, stderr)
	}

	// --path alone, without --backend, is a json store, even with a default config.
	write("events.ndjson", old+fresh)
	code, out, stderr := runCLI(t, false, "compact", "--path", store, "--max-age", "1d", "--state-dir", filepath.Join(dir, "adhoc"), "--json")
	if code != ExitOK || !strings.Contains(out, `"backend": "json"`) || !strings.Contains(out, `"records_dropped": 1`) {
		t.Errorf("compact --path: exit %d\n%s%s", code, out, stderr)
	}
}
