package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/cli"
)

// TestManPages: the tool writes one page per command a user can run (hidden ones and cobra's
// help command aside), each naming its command and carrying its summary.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	root := cli.Command()
	want := map[string]string{} // page name: the command's summary
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		want[strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"] = c.Short
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				walk(s)
			}
		}
	}
	walk(root)
	for _, must := range []string{"papyrad.1", "papyrad-compact.1", "papyrad-config-check.1", "papyrad-version.1", "papyrad-completion-zsh.1"} {
		if _, ok := want[must]; !ok {
			t.Errorf("no command for %s", must)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Fatalf("pages %q\nwant  %q", got, names)
	}
	for name, short := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		title := strings.ToUpper(strings.TrimSuffix(name, ".1"))
		if !strings.Contains(page, "\n.TH \""+title+"\" \"1\"") || !strings.Contains(page, ".SH NAME") {
			t.Errorf("%s: no man page header for section 1:\n%.200s", name, page)
		}
		if first, _, _ := strings.Cut(short, " "); !strings.Contains(page, first) {
			t.Errorf("%s does not carry its command's summary %q", name, short)
		}
		if strings.Contains(page, "spf13/cobra") {
			t.Errorf("%s: an auto-generated tag", name)
		}
	}
}
