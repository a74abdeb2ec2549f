package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/stores"
	"github.com/papyrad/papyrad/internal/units"
)

// adHoc holds the flags that describe one store without a config file (SPEC §9). Their
// defaults are config's built-in ones; config.FromFlags resolves and checks them.
type adHoc struct {
	config.Flags
}

func (a *adHoc) register(c *cobra.Command) {
	f := c.Flags()
	a.storeFlags(c)
	f.IntVar(&a.MaxFiles, "max-files", config.DefaultMaxFiles, "rotating: number of files in the set")
	f.StringVar(&a.Naming, "naming", string(config.DefaultNaming), "rotating: suffix or sequence")
	f.StringVar(&a.MaxAge, "max-age", "", "keep records younger than this (90s, 12h, 7d, 2w)")
	f.Int64Var(&a.MaxRecords, "max-records", 0, "keep the newest N records")
	f.StringVar(&a.MaxTotalBytes, "max-total-bytes", "", "keep the newest records that fit in this size (6000, 512MiB, 1GB)")
	f.StringVar(&a.SizeBasis, "size-basis", string(config.DefaultSizeBasis), "record size for --max-total-bytes: papyra (Python repr length) or stored (bytes on disk)")
	f.BoolVar(&a.NoRetention, "no-retention", false, "no limit: only take non-records out of the store")
	f.StringVar(&a.StateDir, "state-dir", "", "where papyrad keeps its state (default /var/lib/papyrad for root, else ~/.local/state/papyrad)")
	f.StringVar(&a.QuarantineDir, "quarantine-dir", "", "where lines that are not records go (default STATE_DIR/quarantine)")
	f.StringVar(&a.ArchiveDir, "archive-dir", "", "archive the records a run drops here first (DIR/STORE/DATE/RUN.ndjson.zst)")
	f.StringVar(&a.ArchiveCompress, "archive-compress", string(config.DefaultCompress), "archive compression: zstd, gzip or none")
	f.StringVar(&a.ArchiveMaxAge, "archive-max-age", "", "remove archive files older than this after a successful run (default: keep them)")
	f.StringVar(&a.ArchiveURL, "archive-url", "", "archive the records a run drops to this S3 bucket first (s3://BUCKET/PREFIX/STORE/YYYY/MM/DD/RUN.ndjson.zst)")
	f.StringVar(&a.ArchiveEndpoint, "archive-endpoint", "", "with --archive-url: the S3 service's URL (default AWS S3)")
	f.StringVar(&a.ArchiveRegion, "archive-region", "", "with --archive-url: the bucket's region")
	f.StringVar(&a.ArchiveCredentialsFile, "archive-credentials-file", "", "with --archive-url: AWS shared credentials file (default: the standard chain)")
	f.BoolVar(&a.ArchivePathStyle, "archive-path-style", false, "with --archive-url: address the bucket in the URL's path (MinIO, Ceph)")
	f.StringVar(&a.PartialLineGrace, "partial-line-grace", units.FormatDuration(config.DefaultPartialLineGrace), "an unterminated last line younger than this is a write in progress")
	f.StringVar(&a.DrainTimeout, "drain-timeout", units.FormatDuration(config.DefaultDrainTimeout), "how long to wait for writers still holding the replaced file")
	f.BoolVar(&a.AllowHardLinks, "allow-hard-links", false, "compact a store file that has more than one hard link (its other names keep the old records)")
	f.BoolVar(&a.MissingOK, "missing-ok", false, "a store file (or set) that does not exist is nothing to do, not an error")
}

// storeFlags registers the flags that say which store: its kind, file or streams, and name.
func (a *adHoc) storeFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&a.Backend, "backend", "", "store kind without a config file: json (the default with --path), rotating, redis or memory")
	f.StringVar(&a.Path, "path", "", "store file (json, rotating)")
	f.StringVar(&a.Name, "name", "", "store name in reports and quarantine (default: the file's name)")
	f.StringVar(&a.RedisURL, "redis-url", "", "redis: server URL")
	f.StringVar(&a.Prefix, "prefix", config.DefaultRedisPrefix, "redis: key prefix")
	f.StringVar(&a.SystemID, "system-id", config.DefaultRedisSystemID, "redis: Papyra system id")
}

// resolve turns the flags into a configuration of one store; bad flags are usage errors.
func (a *adHoc) resolve(environ []string) (*config.Config, error) {
	cfg, err := config.FromFlags(a.Flags, environ)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return cfg, nil
}

func newCompactCmd(e *env) *cobra.Command {
	var (
		a          adHoc
		configPath string
		dryRun     bool
		asJSON     bool
		logLevel   string
	)
	c := &cobra.Command{
		Use:   "compact [--config FILE] [STORE...] | [--backend KIND] --path FILE [limits]",
		Short: "Compact stores now, once",
		Long: `Compact the named stores of a config file (all of them when none is named), or one
store described by flags (--path alone: a json store). Without --config or --path, the config
file is $PAPYRAD_CONFIG, else /etc/papyrad/papyrad.yaml. A store that does not exist fails
unless it says missing_ok (--missing-ok). Exit codes: 0 done or nothing to do, 1 a store failed,
64 usage error, 75 refused for now (store locked, being compacted by Papyra, or replaced during the run), 78 bad config.`,
		RunE: func(c *cobra.Command, args []string) error {
			lvl, err := parseLogLevel(logLevel)
			if err != nil {
				return err
			}
			log := newLogger(e.stderr, lvl)
			defer func() { _ = log.Sync() }()
			if configPath == "" && a.Backend == "" && c.Flags().Changed("path") {
				a.Backend = string(config.BackendJSON) // as scan: --path alone is a json store
			}
			stateDir, sts, err := selectStores(c, e, configPath, args, &a)
			if err != nil {
				return err
			}
			if err := stores.CheckDirs(stateDir, sts, false); err != nil {
				return withCode(refusedOrFailed(err), err)
			}
			var prog *progress
			if !asJSON && e.isTerminal() {
				prog = newProgress(e.stderr)
			}
			out := report.Compaction{Stores: []report.Report{}}
			for i := range sts {
				out.Stores = append(out.Stores, compactOne(c, &sts[i], stateDir, log, dryRun, prog))
			}
			if asJSON {
				if err := printJSON(e.stdout, out); err != nil {
					return err
				}
			} else {
				for _, r := range out.Stores {
					printReport(e.stdout, r)
				}
			}
			return exitForReports(out.Stores)
		},
	}
	a.register(c)
	c.Flags().StringVar(&configPath, "config", "", configFlagUsage)
	c.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be done; write nothing")
	c.Flags().BoolVar(&asJSON, "json", false, `print one JSON object: {"stores": [REPORT, ...]}`)
	c.Flags().StringVar(&logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	return c
}

func compactOne(c *cobra.Command, s *config.Store, stateDir string, log *zap.Logger, dryRun bool, prog *progress) report.Report {
	st, err := stores.Open(s, stateDir, log, nil)
	if err != nil {
		return report.Report{Store: s.Name, Backend: string(s.Backend), DryRun: dryRun, Result: report.ResultError, Error: err.Error()}
	}
	opts := backends.Options{DryRun: dryRun}
	if prog != nil {
		opts.Progress = prog.callback(s.Name)
	}
	start := time.Now()
	rep, err := st.Compact(c.Context(), opts)
	if prog != nil {
		prog.clear()
	}
	switch {
	case err == nil || rep.Result == report.ResultSkipped:
	case errors.Is(err, errs.ErrReplaced):
		// Another program replaced the store during the run, which left it as it was: busy,
		// try again later (75), not a failure.
		rep.Result, rep.Reason = report.ResultSkipped, "replaced"
	default:
		rep.Result = report.ResultError
	}
	if err != nil && rep.Error == "" {
		rep.Error = err.Error()
	}
	if rep.Store == "" {
		rep.Store, rep.Backend = s.Name, string(s.Backend)
	}
	if rep.Duration == 0 {
		rep.Duration = time.Since(start).Seconds()
	}
	return rep
}

// exitForReports: any failure is 1; otherwise a store refused for now is 75.
func exitForReports(reps []report.Report) error {
	code := ExitOK
	for _, r := range reps {
		switch r.Result {
		case report.ResultError:
			return silentExit(ExitFailed)
		case report.ResultSkipped:
			code = ExitTempFail
		}
	}
	if code != ExitOK {
		return silentExit(code)
	}
	return nil
}
