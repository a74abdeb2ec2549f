package packaging

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/papyrad/papyrad/internal/testutil"
)

// TestDeb builds the Debian package with `make deb`, checks that it holds every file it
// should and nothing else, with the config as a conffile, then installs it into a scratch
// root (dpkg --root, maintainer scripts run against that root), runs the installed
// `papyrad version`, and removes it: `dpkg --remove` keeps the edited config, `--purge`
// leaves nothing but the papyrad account (Debian keeps system users) and quarantined lines.
func TestDeb(t *testing.T) {
	t.Parallel()
	testutil.Root(t, "installing a package with dpkg")
	for _, tool := range []string{"dpkg", "dpkg-deb", "gzip", "tar"} {
		testutil.Tool(t, tool)
	}
	dist := t.TempDir()
	makeTarget(t, dist, "deb")
	debs, _ := filepath.Glob(filepath.Join(dist, "papyrad_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %q, want one package", debs)
	}
	deb := debs[0]
	if want := "papyrad_9.8.7+1.gdeadbee_"; !strings.HasPrefix(filepath.Base(deb), want) {
		t.Errorf("package %s: want the version %s...", filepath.Base(deb), want)
	}
	if got := run(t, "dpkg-deb", "--field", deb, "Package", "Version"); got != "Package: papyrad\nVersion: 9.8.7+1.gdeadbee\n" {
		t.Errorf("dpkg-deb --field: %q", got)
	}
	if got := run(t, "dpkg-deb", "--info", deb, "conffiles"); strings.TrimSpace(got) != "/etc/papyrad/papyrad.yaml" {
		t.Errorf("conffiles: %q, want /etc/papyrad/papyrad.yaml", got)
	}

	// Every file, exactly: the man pages are the ones `make man` wrote, one per command.
	want := []string{
		"/etc/papyrad/papyrad.yaml",
		"/usr/bin/papyrad",
		"/usr/lib/systemd/system/papyrad-compact.service",
		"/usr/lib/systemd/system/papyrad-compact.timer",
		"/usr/lib/systemd/system/papyrad.service",
		"/usr/lib/sysusers.d/papyrad.conf",
		"/usr/share/bash-completion/completions/papyrad",
		"/usr/share/fish/vendor_completions.d/papyrad.fish",
		"/usr/share/zsh/vendor-completions/_papyrad",
	}
	pages, _ := filepath.Glob(filepath.Join(dist, "man", "*.1"))
	for _, p := range pages {
		want = append(want, "/usr/share/man/man1/"+filepath.Base(p)+".gz")
	}
	for _, page := range []string{"papyrad.1", "papyrad-compact.1", "papyrad-run.1", "papyrad-version.1"} {
		if !slices.Contains(want, "/usr/share/man/man1/"+page+".gz") {
			t.Errorf("make man wrote no %s", page)
		}
	}
	slices.Sort(want)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "--contents", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		got = append(got, strings.TrimPrefix(f[5], "."))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("dpkg-deb --contents lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	t.Run("postinst without systemd-sysusers", func(t *testing.T) { postinstWithUseradd(t, deb) })

	root := scratchRoot(t)
	dpkg := func(args ...string) string {
		return run(t, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless"}, args...)...)
	}
	dpkg("--install", deb)
	checkVersion(t, run(t, filepath.Join(root, "usr/bin/papyrad"), "version"))
	if b, err := os.ReadFile(filepath.Join(root, "etc/passwd")); err != nil || !regexp.MustCompile(`(?m)^papyrad:x:\d+:\d+:[^:]*:/var/lib/papyrad:`).Match(b) {
		t.Errorf("postinst created no papyrad user with home /var/lib/papyrad: %v\n%s", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/papyrad.service")); !strings.Contains(string(b), "ExecStart=/usr/bin/papyrad run") {
		t.Errorf("papyrad.service does not start /usr/bin/papyrad:\n%s", b)
	}
	// Nothing enabled: no unit linked into a target.
	if links, _ := filepath.Glob(filepath.Join(root, "etc/systemd/system/*/papyrad*")); len(links) > 0 {
		t.Errorf("installing enabled units: %q", links)
	}

	// What a daemon leaves in its state directory, and an edited config.
	state := filepath.Join(root, "var/lib/papyrad")
	for _, d := range []string{"segments", "quarantine/shop/2026-01-01"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"runs.json", "segments/edge.json"} {
		if err := os.WriteFile(filepath.Join(state, f), []byte("{}\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(root, "etc/papyrad/papyrad.yaml")
	edited := append(readFile(t, cfg), "# edited by the operator\n"...)
	if err := os.WriteFile(cfg, edited, 0o644); err != nil {
		t.Fatal(err)
	}

	dpkg("--remove", "papyrad")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/papyrad")); !os.IsNotExist(err) {
		t.Errorf("dpkg --remove left /usr/bin/papyrad: %v", err)
	}
	if got := readFile(t, cfg); string(got) != string(edited) {
		t.Errorf("dpkg --remove did not keep the edited config")
	}
	dpkg("--purge", "papyrad")
	if left := leftovers(t, root); len(left) > 0 {
		t.Errorf("dpkg --purge left %q", left)
	}

	// Quarantined lines are the operator's data: a purge keeps them, and says so.
	dpkg("--install", deb)
	kept := filepath.Join(state, "quarantine/shop/2026-01-01/run.ndjson")
	if err := os.MkdirAll(filepath.Dir(kept), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kept, []byte("{\"line\": 1}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "runs.json"), []byte("{}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if out := dpkg("--purge", "papyrad"); !strings.Contains(out, "kept /var/lib/papyrad") && !strings.Contains(out, "kept "+state) {
		t.Errorf("purge with quarantined lines did not say it kept them:\n%s", out)
	}
	if left := leftovers(t, root); !slices.Equal(left, []string{"var/lib/papyrad/quarantine/shop/2026-01-01/run.ndjson"}) {
		t.Errorf("dpkg --purge with quarantined lines left %q, want only those lines", left)
	}
}

// postinstWithUseradd runs the package's postinst where systemd-sysusers is missing: it
// creates the papyrad user with useradd, once however often it runs.
func postinstWithUseradd(t *testing.T, deb string) {
	testutil.Tool(t, "useradd")
	control := t.TempDir()
	run(t, "dpkg-deb", "--control", deb, control)
	root, bin := t.TempDir(), t.TempDir()
	for _, tool := range []string{"sh", "grep", "useradd"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		if err := os.WriteFile(filepath.Join(root, "etc", f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		cmd := exec.Command(filepath.Join(control, "postinst"), "configure")
		cmd.Env = []string{"PATH=" + bin, "DPKG_ROOT=" + root}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("postinst configure: %v\n%s", err, out)
		}
	}
	b := readFile(t, filepath.Join(root, "etc/passwd"))
	if n := len(regexp.MustCompile(`(?m)^papyrad:x:\d+:\d+:[^:]*:/var/lib/papyrad:`).FindAll(b, -1)); n != 1 {
		t.Errorf("postinst with useradd: %d papyrad users, want 1\n%s", n, b)
	}
}

// scratchRoot is an empty root file system with an empty dpkg database.
func scratchRoot(t *testing.T) string {
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// accounts are the files of the user database, which keep the papyrad user after a purge.
var accounts = regexp.MustCompile(`^etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$|^etc/\.pwd\.lock$`)

// leftovers lists the files under root that are neither dpkg's database nor the accounts.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == "var/lib/dpkg":
			return filepath.SkipDir
		case d.IsDir() && rel != "." && rel != "etc" && rel != "var" && rel != "var/lib":
			if entries, _ := os.ReadDir(p); len(entries) == 0 {
				out = append(out, rel+"/")
			}
		case !d.IsDir() && !accounts.MatchString(rel):
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
