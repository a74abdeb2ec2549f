package cli

import (
	"context"
	"errors"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/app"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
)

func newRunCmd(e *env) *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "run [--config FILE]",
		Short: "Run the daemon: compact every store on its schedule, within its guards",
		Long: `Run papyrad as a daemon (systemd Type=notify). Signals: SIGHUP reloads the config (an
invalid file keeps the running one), SIGUSR1 compacts every store now (windows and traffic
bypassed, never the disk guard), SIGTERM/SIGINT stop gracefully (a second one, more than a
second after the first, stops at once). Without --config, the config file is $PAPYRAD_CONFIG,
else /etc/papyrad/papyrad.yaml. Exit codes: 0 stopped gracefully, 1 stopped before the runs did
or could not set up, 64 usage, 75 another daemon holds the state directory (its pid named),
78 bad config.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			// A SIGHUP or SIGUSR1 before the daemon serves signals would kill it (their default
			// action): until then there is nothing to reload or trigger, so they are ignored.
			// Run then takes them over.
			signal.Ignore(syscall.SIGHUP, syscall.SIGUSR1)
			path := configFile(e, path)
			if path == "" {
				return noConfig("")
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
	c.Flags().StringVar(&path, "config", "", configFlagUsage)
	return c
}

// refusedOrFailed is the exit code for an error setting stores up: a configuration or a
// directory refused, a state directory another daemon holds (try later), or a failure.
func refusedOrFailed(err error) int {
	switch {
	case errors.Is(err, errs.ErrInvalid):
		return ExitConfig
	case errors.Is(err, errs.ErrInUse):
		return ExitTempFail
	}
	return ExitFailed
}
