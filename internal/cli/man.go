package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/papyrad/papyrad/internal/buildinfo"
)

// newManCmd is the hidden `papyrad gen-man DIR` that `make man` runs: one man page (section 1)
// per command, papyrad.1, papyrad-compact.1, papyrad-config-check.1 and so on, written by
// cobra's doc generator from the commands' own help. The pages are dated by the build date
// (SOURCE_DATE_EPOCH, else today, for a build that has none), so a release build gives the
// same pages every time.
func newManCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write papyrad's man pages to DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return writeManPages(e, args[0])
		},
	}
}

// writeManPages writes a page for every command a user can run, the shell completion
// commands included, to dir.
func writeManPages(e *env, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	root := newRoot(e)
	root.InitDefaultCompletionCmd()
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
