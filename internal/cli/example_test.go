package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

// commentedKey is a key the example shows commented out ("  # control_socket: ..."), to be
// set by removing the "# ".
var commentedKey = regexp.MustCompile(`(?m)^(\s*)# ([a-z_]+:(?: .*)?)$`)

// TestExampleNamesEveryKey: configs/papyrad.example.yaml says it names every key. Every key
// `papyrad config check` prints for it (with the keys it shows commented out set) is in it,
// in the daemon section, in defaults or in a store; and with those keys set it is still a
// valid config.
func TestExampleNamesEveryKey(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "configs", "papyrad.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	full := commentedKey.ReplaceAll(src, []byte("$1$2"))
	path := filepath.Join(t.TempDir(), "papyrad.yaml")
	if err := os.WriteFile(path, full, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, false, "config", "check", "--config", path)
	if code != ExitOK {
		t.Fatalf("config check of the example with its commented keys set: exit %d\n%s", code, stderr)
	}
	printed := keyPaths(t, []byte(out))
	named := keyPaths(t, full)
	var missing []string
	for _, k := range printed {
		if !slices.Contains(named, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("config check prints keys the example does not name: %s", strings.Join(missing, ", "))
	}
	for _, k := range []string{"daemon.control_socket", "stores.redis.password_file", "stores.missing_ok", "stores.archive.max_age", "stores.traffic.max_bytes_per_second"} {
		if !slices.Contains(printed, k) {
			t.Errorf("config check of the example does not print %s", k)
		}
	}
}

// keyPaths lists the key paths of a YAML document, a store's keys and those of defaults alike
// as "stores.KEY".
func keyPaths(t *testing.T, doc []byte) []string {
	t.Helper()
	var root map[string]any
	if err := yamlv3.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
				walk(p, child)
			}
		case []any:
			if prefix == "stores" {
				for _, item := range x {
					walk("stores", item)
				}
			}
		}
	}
	for k, v := range root {
		switch k {
		case "defaults":
			walk("stores", v)
		case "stores", "daemon":
			walk(k, v)
		default:
			t.Fatalf("unexpected section %s", fmt.Sprint(k))
		}
	}
	slices.Sort(out)
	return out
}
