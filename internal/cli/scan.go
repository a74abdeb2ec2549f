package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/stores"
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
A store that does not exist could not be read, unless it says missing_ok (--missing-ok).
Exit codes: 0 clean, 2 anomalies found, 1 a store could not be read, 64 usage, 78 bad config.`,
		RunE: func(c *cobra.Command, args []string) error {
			if configPath == "" && a.Backend == "" && c.Flags().Changed("path") {
				a.Backend = string(config.BackendJSON)
			}
			a.NoRetention = true // a scan applies no retention
			stateDir, sts, err := selectStores(c, e, configPath, args, &a)
			if err != nil {
				return err
			}
			log := newLogger(e.stderr, zapcore.WarnLevel)
			out := report.Scan{Stores: []report.StoreScan{}}
			failed, found := false, false
			for i := range sts {
				s := &sts[i]
				ss := report.StoreScan{Store: s.Name, Backend: string(s.Backend), Anomalies: []report.Anomaly{}}
				st, err := stores.Open(s, stateDir, log, nil)
				if err == nil {
					var an []report.Anomaly
					an, err = st.Scan(c.Context())
					ss.Anomalies = append(ss.Anomalies, an...)
				}
				switch {
				case errors.Is(err, errs.ErrMissing) && s.MissingOK:
					ss.Missing = true
				case err != nil:
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
	f.StringVar(&configPath, "config", "", configFlagUsage)
	a.storeFlags(c)
	f.Lookup("path").Usage = "scan this store file instead of a config's stores"
	f.Lookup("backend").Usage = "store kind with --path (default json)"
	f.Lookup("name").Usage = "store name in the report (default: the file's name)"
	f.IntVar(&a.MaxFiles, "max-files", config.DefaultMaxFiles, "rotating: number of files in the set")
	f.StringVar(&a.Naming, "naming", string(config.DefaultNaming), "rotating: suffix or sequence")
	f.BoolVar(&a.MissingOK, "missing-ok", false, "a store file (or set) that does not exist is not an error")
	f.BoolVar(&asJSON, "json", false, `print {"stores": [{"store", "backend", "anomalies": [...]}]}`)
	return c
}

func printScan(e *env, ss report.StoreScan) {
	switch {
	case ss.Error != "":
		fmt.Fprintf(e.stdout, "%s: could not scan: %s\n", ss.Store, ss.Error)
	case ss.Missing:
		fmt.Fprintf(e.stdout, "%s: missing (missing_ok): nothing to scan\n", ss.Store)
	case len(ss.Anomalies) == 0:
		fmt.Fprintf(e.stdout, "%s: clean\n", ss.Store)
	default:
		fmt.Fprintf(e.stdout, "%s: %d anomalies\n", ss.Store, len(ss.Anomalies))
	}
	for _, a := range ss.Anomalies {
		fmt.Fprintf(e.stdout, "  %-22s %s: %s\n", a.Type, a.Path, a.Detail)
	}
}
