package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/retention"
)

// selectStores returns the stores a one-shot command works on: the named stores of the config
// file (every store when none is named), or the one store the ad-hoc flags describe.
func selectStores(c *cobra.Command, e *env, configPath string, names []string, a *adHoc) ([]storeSpec, error) {
	if configPath == "" {
		if len(names) > 0 {
			return nil, usageErrorf("store names (%s) need --config", strings.Join(names, ", "))
		}
		s, err := a.spec(e.environ)
		if err != nil {
			return nil, err
		}
		return []storeSpec{s}, nil
	}
	for _, flag := range []string{"backend", "path"} {
		if c.Flags().Changed(flag) {
			return nil, usageErrorf("--%s describes a store without a config file; it cannot be combined with --config", flag)
		}
	}
	cfg, err := config.Load(configPath, e.environ)
	if err != nil {
		return nil, withCode(ExitConfig, err)
	}
	printWarnings(e, cfg)
	var specs []storeSpec
	if len(names) == 0 {
		for i := range cfg.Stores {
			specs = append(specs, specFromConfig(&cfg.Stores[i], cfg.Daemon.StateDir))
		}
		return specs, nil
	}
	var unknown []string
	for _, n := range names {
		st, ok := cfg.Store(n)
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		specs = append(specs, specFromConfig(st, cfg.Daemon.StateDir))
	}
	if len(unknown) > 0 {
		return nil, withCode(ExitUsage, fmt.Errorf("%s: no store named %s", configPath, strings.Join(unknown, ", ")))
	}
	return specs, nil
}

// specFromConfig maps a configured store to what the backends need.
func specFromConfig(st *config.Store, stateDir string) storeSpec {
	p := retention.Policy{
		MaxAge:        st.Retention.MaxAge,
		MaxRecords:    int64(st.Retention.MaxRecords),
		MaxTotalBytes: st.Retention.MaxTotalBytes,
	}
	if st.Retention.SizeBasis == config.SizeBasisStored {
		p.SizeBasis = retention.SizeBasisStored
	}
	if st.Retention.None {
		p = retention.Policy{}
	}
	return storeSpec{
		Name:          st.Name,
		Backend:       string(st.Backend),
		Path:          st.Path,
		Policy:        p,
		Grace:         st.PartialLineGrace,
		DrainTimeout:  st.DrainTimeout,
		QuarantineDir: st.QuarantineDir,
		Archive:       archiveConfig(st.Archive),
		StateDir:      stateDir,
		MaxFiles:      st.Rotation.MaxFiles,
		Naming:        string(st.Rotation.Naming),

		RedisURL:            st.Redis.URL,
		RedisPrefix:         st.Redis.Prefix,
		RedisSystemID:       st.Redis.SystemID,
		RedisPasswordFile:   st.Redis.PasswordFile,
		ConsumerGroups:      string(st.ConsumerGroups),
		ConsumerGroupMaxAge: st.ConsumerGroupMaxAge,
		AgeBasis:            string(st.AgeBasis),
		TrimStep:            st.TrimStep,
	}
}

func newConfigCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
	}
	var path string
	check := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a config file and print the effective configuration",
		Long: `Validate the file (with PAPYRAD_ environment overrides applied) and print every store with
the defaults merged in. Exit code 78 and every problem found, each naming its store and field,
when the file is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if path == "" {
				return usageErrorf("--config is required")
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
	check.Flags().StringVar(&path, "config", "", "config file (YAML)")
	c.AddCommand(check)
	return c
}

// archiveConfig is a store's archive as the backends take it.
func archiveConfig(a *config.Archive) *archive.Config {
	if a == nil {
		return nil
	}
	return &archive.Config{Dir: a.Dir, Compress: archive.Codec(a.Compress), MaxAge: a.MaxAge}
}
