package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/papyrad/papyrad/internal/report"
)

func newScanCmd(e *env) *cobra.Command {
	var (
		a          adHoc
		configPath string
		asJSON     bool
	)
	c := &cobra.Command{
		Use:   "scan [--config FILE] [STORE...] | --path FILE",
		Short: "Check stores for anomalies, read-only",
		Long: `Report truncated and corrupted lines and unexpected files with Papyra's anomaly names.
Exit codes: 0 clean, 2 anomalies found, 1 a store could not be read, 64 usage, 78 bad config.`,
		RunE: func(c *cobra.Command, args []string) error {
			if configPath == "" && a.backend == "" {
				a.backend = "json"
			}
			a.noRetention = true // a scan applies no retention
			specs, err := selectStores(c, e, configPath, args, &a)
			if err != nil {
				return err
			}
			log := newLogger(e.stderr, "warn")
			out := report.Scan{Stores: []report.StoreScan{}}
			failed, found := false, false
			for _, s := range specs {
				ss := report.StoreScan{Store: s.Name, Backend: s.Backend, Anomalies: []report.Anomaly{}}
				st, err := s.build(log)
				if err == nil {
					var an []report.Anomaly
					an, err = st.Scan(c.Context())
					ss.Anomalies = append(ss.Anomalies, an...)
				}
				if err != nil {
					ss.Error, failed = err.Error(), true
				}
				found = found || len(ss.Anomalies) > 0
				out.Stores = append(out.Stores, ss)
			}
			if asJSON {
				if err := printJSON(e.stdout, out); err != nil {
					return err
				}
			} else {
				for _, ss := range out.Stores {
					printScan(e, ss)
				}
			}
			switch {
			case failed:
				return silentExit(ExitFailed)
			case found:
				return silentExit(ExitAnomalies)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&configPath, "config", "", "config file (YAML)")
	f.StringVar(&a.path, "path", "", "scan this store file instead of a config's stores")
	f.StringVar(&a.backend, "backend", "", "store kind with --path (default json)")
	f.StringVar(&a.name, "name", "", "store name in the report (default: the file's name)")
	f.IntVar(&a.maxFiles, "max-files", 5, "rotating: number of files in the set")
	f.StringVar(&a.naming, "naming", "suffix", "rotating: suffix or sequence")
	f.StringVar(&a.redisURL, "redis-url", "", "redis: server URL")
	f.StringVar(&a.prefix, "prefix", "papyra", "redis: key prefix")
	f.StringVar(&a.sys, "system-id", "local", "redis: Papyra system id")
	f.BoolVar(&asJSON, "json", false, `print {"stores": [{"store", "backend", "anomalies": [...]}]}`)
	a.sizeBasis, a.grace, a.drainTimeout = "papyra", "10s", "5s"
	return c
}

func printScan(e *env, ss report.StoreScan) {
	switch {
	case ss.Error != "":
		fmt.Fprintf(e.stdout, "%s: could not scan: %s\n", ss.Store, ss.Error)
	case len(ss.Anomalies) == 0:
		fmt.Fprintf(e.stdout, "%s: clean\n", ss.Store)
	default:
		fmt.Fprintf(e.stdout, "%s: %d anomalies\n", ss.Store, len(ss.Anomalies))
	}
	for _, a := range ss.Anomalies {
		fmt.Fprintf(e.stdout, "  %-22s %s: %s\n", a.Type, a.Path, a.Detail)
	}
}
