package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompletion: the shells' completion (cobra's hidden __complete command, which the bash,
// zsh and fish scripts of `papyrad completion SHELL` call) offers the store names of the config
// given by --config, else by PAPYRAD_CONFIG, to compact, scan and trigger; names already on the
// line are not offered again, and --backend completes with the kinds.
func TestCompletion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "papyrad.yaml")
	if err := os.WriteFile(cfg, []byte(`daemon:
  state_dir: `+filepath.Join(dir, "state")+`
defaults:
  retention: {max_age: 30d}
stores:
  - {name: orders, backend: json, path: `+filepath.Join(dir, "orders.ndjson")+`}
  - {name: orders-eu, backend: json, path: `+filepath.Join(dir, "orders-eu.ndjson")+`}
  - {name: edge, backend: rotating, path: `+filepath.Join(dir, "edge.ndjson")+`, max_files: 5}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("stores:\n  - {name: billing}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"compact, every store", nil, []string{"compact", "--config", cfg, ""}, []string{"orders", "orders-eu", "edge"}},
		{"scan, by prefix", nil, []string{"scan", "--config=" + cfg, "ord"}, []string{"orders", "orders-eu"}},
		{"trigger, one already named", nil, []string{"trigger", "--config", cfg, "orders", ""}, []string{"orders-eu", "edge"}},
		{"PAPYRAD_CONFIG without --config", []string{"PAPYRAD_CONFIG=" + other}, []string{"compact", ""}, []string{"billing"}},
		{"--config wins over PAPYRAD_CONFIG", []string{"PAPYRAD_CONFIG=" + other}, []string{"scan", "--config", cfg, "e"}, []string{"edge"}},
		{"a config that does not exist", nil, []string{"compact", "--config", filepath.Join(dir, "missing.yaml"), ""}, nil},
		{"--backend", nil, []string{"compact", "--backend", ""}, []string{"json", "rotating", "redis", "memory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := papyradWith(t, runOpts{env: append(papyradEnv(t), tt.env...)}, append([]string{"__complete"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("%s", r)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			// The last line is cobra's directive to the shell: :4 is "no file completion".
			if len(lines) == 0 || lines[len(lines)-1] != ":4" {
				t.Fatalf("want the directive :4 (no file names) last\n%s", r)
			}
			var got []string
			for _, l := range lines[:len(lines)-1] {
				name, _, _ := strings.Cut(l, "\t")
				got = append(got, name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("completions %q, want %q\n%s", got, tt.want, r)
			}
		})
	}
	// The scripts the shells load call that command.
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := papyrad(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("papyrad completion %s: no script that calls __complete\n%s", shell, r)
		}
	}
}
