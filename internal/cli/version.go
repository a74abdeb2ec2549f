package cli

import (
	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/buildinfo"
)

// versionTemplate is what --version prints: the same as `papyrad version`.
var versionTemplate = buildinfo.Get().String()

func newVersionCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print papyrad's version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if asJSON {
				return printJSON(e.stdout, buildinfo.Get())
			}
			_, err := e.stdout.Write([]byte(buildinfo.Get().String()))
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON: version, revision, build_date, go_version, platform")
	return c
}
