package packaging

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInstall: `make install` with DESTDIR and PREFIX puts the binary, a man page per command,
// the three shells' completions, the units (pointed at PREFIX's binary), the sysusers entry and
// the example config under DESTDIR, and a second install keeps an edited config.
func TestInstall(t *testing.T) {
	t.Parallel()
	dist, dest := t.TempDir(), t.TempDir()
	makeTarget(t, dist, "install", "DESTDIR="+dest, "PREFIX=/opt/papyrad")
	var got []string
	filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dest, p)
			got = append(got, "/"+rel)
		}
		return nil
	})
	want := []string{
		"/etc/papyrad/papyrad.yaml",
		"/etc/systemd/system/papyrad-compact.service",
		"/etc/systemd/system/papyrad-compact.timer",
		"/etc/systemd/system/papyrad.service",
		"/etc/sysusers.d/papyrad.conf",
		"/opt/papyrad/bin/papyrad",
		"/opt/papyrad/share/bash-completion/completions/papyrad",
		"/opt/papyrad/share/fish/vendor_completions.d/papyrad.fish",
		"/opt/papyrad/share/zsh/site-functions/_papyrad",
	}
	pages, _ := filepath.Glob(filepath.Join(dist, "man", "*.1"))
	if len(pages) < 10 {
		t.Errorf("make man wrote %d pages", len(pages))
	}
	for _, p := range pages {
		want = append(want, "/opt/papyrad/share/man/man1/"+filepath.Base(p))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("installed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	bin := filepath.Join(dest, "opt/papyrad/bin/papyrad")
	out := run(t, bin, "version")
	checkVersion(t, out)
	if flag := run(t, bin, "--version"); flag != out {
		t.Errorf("papyrad --version printed\n%s\nand papyrad version\n%s", flag, out)
	}
	if b := readFile(t, filepath.Join(dest, "etc/systemd/system/papyrad.service")); !strings.Contains(string(b), "ExecStart=/opt/papyrad/bin/papyrad run") {
		t.Errorf("papyrad.service does not start PREFIX's papyrad:\n%s", b)
	}
	for name, marker := range map[string]string{
		"share/bash-completion/completions/papyrad":    "__start_papyrad",
		"share/zsh/site-functions/_papyrad":            "#compdef papyrad",
		"share/fish/vendor_completions.d/papyrad.fish": "complete -c papyrad",
	} {
		if b := readFile(t, filepath.Join(dest, "opt/papyrad", name)); !strings.Contains(string(b), marker) {
			t.Errorf("%s is not papyrad's completion script (no %q)", name, marker)
		}
	}

	cfg := filepath.Join(dest, "etc/papyrad/papyrad.yaml")
	edited := append(readFile(t, cfg), "# edited by the operator\n"...)
	if err := os.WriteFile(cfg, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	makeTarget(t, dist, "install", "DESTDIR="+dest, "PREFIX=/opt/papyrad")
	if string(readFile(t, cfg)) != string(edited) {
		t.Error("a second make install overwrote the edited config")
	}
}
