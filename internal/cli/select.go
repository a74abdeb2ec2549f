package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/config"
)

// selectStores returns the stores a one-shot command works on, with the state directory they
// keep their state in: the named stores of the config file (every store when none is named),
// or the one store the ad-hoc flags describe.
//
// Without --config, the flags --backend and --path describe the store; without them either,
// the config file is PAPYRAD_CONFIG's or the default one (configFile).
func selectStores(c *cobra.Command, e *env, configPath string, names []string, a *adHoc) (string, []config.Store, error) {
	if configPath == "" && !c.Flags().Changed("backend") && !c.Flags().Changed("path") {
		configPath = configFile(e, "")
	}
	if configPath == "" {
		if len(names) > 0 {
			return "", nil, noConfig(fmt.Sprintf(": store names (%s) need one", strings.Join(names, ", ")))
		}
		if a.Backend == "" {
			return "", nil, noConfig(", or describe one store with --path FILE (and --backend) and its limits")
		}
		cfg, err := a.resolve(e.environ)
		if err != nil {
			return "", nil, err
		}
		printWarnings(e, cfg)
		return cfg.Daemon.StateDir, cfg.Stores, nil
	}
	for _, flag := range []string{"backend", "path"} {
		if c.Flags().Changed(flag) {
			return "", nil, usageErrorf("--%s describes a store without a config file; it cannot be combined with --config", flag)
		}
	}
	cfg, err := config.Load(configPath, e.environ)
	if err != nil {
		return "", nil, withCode(ExitConfig, err)
	}
	printWarnings(e, cfg)
	if len(names) == 0 {
		return cfg.Daemon.StateDir, cfg.Stores, nil
	}
	var sts []config.Store
	var unknown []string
	for _, n := range names {
		st, ok := cfg.Store(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		sts = append(sts, *st)
	}
	if len(unknown) > 0 {
		return "", nil, withCode(ExitUsage, fmt.Errorf("%s: no store named %s", configPath, strings.Join(unknown, ", ")))
	}
	return cfg.Daemon.StateDir, sts, nil
}

func newConfigCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
	}
	var path string
	check := &cobra.Command{
		Use:   "check [--config FILE]",
		Short: "Validate a config file and print the effective configuration",
		Long: `Validate the file (with PAPYRAD_ environment overrides applied) and print every store with
the defaults merged in. Exit code 78 and every problem found, each naming its store and field,
when the file is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			path := configFile(e, path)
			if path == "" {
				return noConfig("")
			}
			cfg, err := config.Load(path, e.environ)
			if err != nil {
				var problems interface{ Unwrap() []error }
				if errors.As(err, &problems) && len(problems.Unwrap()) > 1 {
					fmt.Fprintf(e.stderr, "papyrad: %s: %d problems\n", path, len(problems.Unwrap()))
				}
				return withCode(ExitConfig, err)
			}
			printWarnings(e, cfg)
			out, err := cfg.Effective()
			if err != nil {
				return withCode(ExitConfig, err)
			}
			_, err = e.stdout.Write(out)
			return err
		},
	}
	check.Flags().StringVar(&path, "config", "", configFlagUsage)
	c.AddCommand(check)
	return c
}

// printWarnings shows a configuration's warnings on stderr.
func printWarnings(e *env, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		fmt.Fprintln(e.stderr, "papyrad: warning:", w)
	}
}
