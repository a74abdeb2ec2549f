package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/app"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
)

func newRunCmd(e *env) *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the daemon: compact every store on its schedule, within its guards",
		Long: `Run papyrad as a daemon (systemd Type=notify). Signals: SIGHUP reloads the config (an
invalid file keeps the running one), SIGUSR1 compacts every store now (windows and traffic
bypassed, never the disk guard), SIGTERM/SIGINT stop gracefully (a second one stops at once).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if path == "" {
				return usageErrorf("--config is required")
			}
			cfg, err := config.Load(path, e.environ)
			if err != nil {
				return withCode(ExitConfig, err)
			}
			a, err := app.New(cfg, app.WithLogOutput(e.stderr), app.WithEnviron(e.environ))
			if err != nil {
				return withCode(refusedOrFailed(err), err)
			}
			defer a.Close()
			// The daemon counts SIGTERM and SIGINT itself (a second one stops at once): the
			// process-wide signal context sees the same signals and must not count them again.
			err = a.Run(context.WithoutCancel(c.Context()))
			if errors.Is(err, errs.ErrForcedStop) {
				return silentExit(ExitFailed) // logged
			}
			return withCode(ExitFailed, err)
		},
	}
	c.Flags().StringVar(&path, "config", "", "config file (YAML)")
	return c
}

// refusedOrFailed is the exit code for an error setting stores up: a configuration or a
// directory refused, or a failure.
func refusedOrFailed(err error) int {
	if errors.Is(err, errs.ErrInvalid) {
		return ExitConfig
	}
	return ExitFailed
}
