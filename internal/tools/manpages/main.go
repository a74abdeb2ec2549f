// Command manpages writes papyrad's man pages to a directory, as `make man` runs it: one page
// (section 1) per command a user can run, papyrad.1, papyrad-compact.1,
// papyrad-config-check.1 and so on, written by cobra's doc generator from the commands' own
// help. The pages are dated by the build date (SOURCE_DATE_EPOCH, else today, for a build that
// has none), so a release build gives the same pages every time. It is a tool of its own, not
// a command of papyrad's, so that the daemon does not carry the generator (and the Markdown
// library it links) nor start its packages.
//
//	go run -ldflags "$(LDFLAGS)" ./internal/tools/manpages DIR
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/papyrad/papyrad/internal/buildinfo"
	"github.com/papyrad/papyrad/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: manpages DIR")
		os.Exit(64)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "manpages:", err)
		os.Exit(1)
	}
}

// write writes a page for every command a user can run, the shell completion commands
// included, to dir.
func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	root := cli.Command()
	var disable func(*cobra.Command)
	disable = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		for _, s := range c.Commands() {
			disable(s)
		}
	}
	disable(root)
	info := buildinfo.Get()
	header := &doc.GenManHeader{Section: "1", Source: "papyrad " + info.Version, Manual: "papyrad manual"}
	if t, err := time.Parse(time.RFC3339, info.BuildDate); err == nil {
		header.Date = &t
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	return nil
}
