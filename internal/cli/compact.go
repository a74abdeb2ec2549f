package cli

import (
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
	"github.com/papyrad/papyrad/internal/units"
)

// adHoc holds the flags that describe one store without a config file (SPEC §9).
type adHoc struct {
	backend, path, name   string
	maxFiles              int
	naming                string
	redisURL, prefix, sys string
	maxAge, maxTotalBytes string
	maxRecords            int64
	sizeBasis             string
	noRetention           bool
	stateDir, quarantine  string
	archiveDir            string
	archiveCompress       string
	archiveMaxAge         string
	grace, drainTimeout   string
}

func (a *adHoc) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&a.backend, "backend", "", "store kind without a config file: json, rotating, redis or memory")
	f.StringVar(&a.path, "path", "", "store file (json, rotating)")
	f.StringVar(&a.name, "name", "", "store name in reports and quarantine (default: the file's name)")
	f.IntVar(&a.maxFiles, "max-files", 5, "rotating: number of files in the set")
	f.StringVar(&a.naming, "naming", "suffix", "rotating: suffix or sequence")
	f.StringVar(&a.redisURL, "redis-url", "", "redis: server URL")
	f.StringVar(&a.prefix, "prefix", "papyra", "redis: key prefix")
	f.StringVar(&a.sys, "system-id", "local", "redis: Papyra system id")
	f.StringVar(&a.maxAge, "max-age", "", "keep records younger than this (90s, 12h, 7d, 2w)")
	f.Int64Var(&a.maxRecords, "max-records", 0, "keep the newest N records")
	f.StringVar(&a.maxTotalBytes, "max-total-bytes", "", "keep the newest records that fit in this size (6000, 512MiB, 1GB)")
	f.StringVar(&a.sizeBasis, "size-basis", "papyra", "record size for --max-total-bytes: papyra (Python repr length) or stored (bytes on disk)")
	f.BoolVar(&a.noRetention, "no-retention", false, "no limit: only take non-records out of the store")
	f.StringVar(&a.stateDir, "state-dir", "", "where papyrad keeps its state (default /var/lib/papyrad for root, else ~/.local/state/papyrad)")
	f.StringVar(&a.quarantine, "quarantine-dir", "", "where lines that are not records go (default STATE_DIR/quarantine)")
	f.StringVar(&a.archiveDir, "archive-dir", "", "archive the records a run drops here first (DIR/STORE/DATE/RUN.ndjson.zst)")
	f.StringVar(&a.archiveCompress, "archive-compress", "zstd", "archive compression: zstd, gzip or none")
	f.StringVar(&a.archiveMaxAge, "archive-max-age", "", "remove archive files older than this after a successful run (default: keep them)")
	f.StringVar(&a.grace, "partial-line-grace", "10s", "an unterminated last line younger than this is a write in progress")
	f.StringVar(&a.drainTimeout, "drain-timeout", "5s", "how long to wait for writers still holding the replaced file")
}

// spec turns the flags into a store, with errors naming the flag.
func (a *adHoc) spec(environ []string) (storeSpec, error) {
	s := storeSpec{Backend: a.backend, Path: a.path, Name: a.name, MaxFiles: a.maxFiles, Naming: a.naming}
	if a.backend == "rotating" {
		if a.maxFiles < 2 {
			return s, usageErrorf("--max-files: must be at least 2 (the active file and one rotated segment)")
		}
		if a.naming != "suffix" && a.naming != "sequence" {
			return s, usageErrorf("--naming: %q is neither suffix nor sequence", a.naming)
		}
	}
	switch a.backend {
	case "json", "rotating":
		if a.path == "" {
			return s, usageErrorf("--path is required with --backend %s", a.backend)
		}
		abs, err := filepath.Abs(a.path)
		if err != nil {
			return s, usageErrorf("--path: %v", err)
		}
		s.Path = abs
		if s.Name == "" {
			s.Name = filepath.Base(abs)
		}
	case "redis":
		if a.redisURL == "" {
			return s, usageErrorf("--redis-url is required with --backend redis")
		}
		s.RedisURL, s.RedisPrefix, s.RedisSystemID = a.redisURL, a.prefix, a.sys
		if s.Name == "" {
			s.Name = a.prefix + ":" + a.sys
		}
	case "memory":
		if s.Name == "" {
			s.Name = "memory"
		}
	case "":
		return s, usageErrorf("give --config FILE, or --backend with the store's flags")
	default:
		return s, usageErrorf("--backend: unknown backend %q (json, rotating, redis, memory)", a.backend)
	}
	var err error
	if a.maxAge != "" {
		if s.Policy.MaxAge, err = units.ParseDuration(a.maxAge); err != nil {
			return s, usageErrorf("--max-age: %v", err)
		}
		if s.Policy.MaxAge <= 0 {
			return s, usageErrorf("--max-age: must be positive")
		}
	}
	if a.maxRecords < 0 {
		return s, usageErrorf("--max-records: must be at least 1")
	}
	s.Policy.MaxRecords = a.maxRecords
	if a.maxTotalBytes != "" {
		if s.Policy.MaxTotalBytes, err = units.ParseSize(a.maxTotalBytes); err != nil {
			return s, usageErrorf("--max-total-bytes: %v", err)
		}
		if s.Policy.MaxTotalBytes <= 0 {
			return s, usageErrorf("--max-total-bytes: must be at least 1 byte")
		}
	}
	switch a.sizeBasis {
	case "papyra":
		s.Policy.SizeBasis = retention.SizeBasisPapyra
	case "stored":
		s.Policy.SizeBasis = retention.SizeBasisStored
	default:
		return s, usageErrorf("--size-basis: %q is neither papyra nor stored", a.sizeBasis)
	}
	if s.Policy.IsZero() && !a.noRetention {
		return s, usageErrorf("no retention limit given: set --max-age, --max-records or --max-total-bytes, or --no-retention to only take non-records out")
	}
	if !s.Policy.IsZero() && a.noRetention {
		return s, usageErrorf("--no-retention contradicts the limits given")
	}
	if s.Grace, err = units.ParseDuration(a.grace); err != nil {
		return s, usageErrorf("--partial-line-grace: %v", err)
	}
	if s.DrainTimeout, err = units.ParseDuration(a.drainTimeout); err != nil {
		return s, usageErrorf("--drain-timeout: %v", err)
	}
	stateDir := a.stateDir
	if stateDir == "" {
		stateDir = defaultStateDir(environ)
	}
	s.StateDir = stateDir
	s.QuarantineDir = a.quarantine
	if s.QuarantineDir == "" {
		s.QuarantineDir = filepath.Join(stateDir, "quarantine")
	}
	return s, a.archive(&s)
}

// archive reads the archive flags into s.
func (a *adHoc) archive(s *storeSpec) error {
	if a.archiveDir == "" {
		if a.archiveMaxAge != "" {
			return usageErrorf("--archive-max-age needs --archive-dir")
		}
		return nil
	}
	codec, err := archive.ParseCodec(a.archiveCompress)
	if err != nil {
		return usageErrorf("--archive-compress: %v", err)
	}
	dir, err := filepath.Abs(a.archiveDir)
	if err != nil {
		return usageErrorf("--archive-dir: %v", err)
	}
	s.Archive = &archive.Config{Dir: dir, Compress: codec}
	if a.archiveMaxAge != "" {
		if s.Archive.MaxAge, err = units.ParseDuration(a.archiveMaxAge); err != nil {
			return usageErrorf("--archive-max-age: %v", err)
		}
		if s.Archive.MaxAge <= 0 {
			return usageErrorf("--archive-max-age: must be positive")
		}
	}
	return nil
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
		Use:   "compact [--config FILE] [STORE...] | --backend KIND --path FILE [limits]",
		Short: "Compact stores now, once",
		Long: `Compact the named stores of a config file (all of them when none is named), or one
store described by flags. Exit codes: 0 done or nothing to do, 1 a store failed,
64 usage error, 75 refused for now (store locked or being compacted by Papyra), 78 bad config.`,
		RunE: func(c *cobra.Command, args []string) error {
			log := newLogger(e.stderr, logLevel)
			defer func() { _ = log.Sync() }()
			specs, err := selectStores(c, e, configPath, args, &a)
			if err != nil {
				return err
			}
			if err := checkStoreDirs(specs); err != nil {
				return err
			}
			var prog *progress
			if !asJSON && e.isTerminal() {
				prog = newProgress(e.stderr)
			}
			out := report.Compaction{Stores: []report.Report{}}
			for _, s := range specs {
				out.Stores = append(out.Stores, compactOne(c, s, log, dryRun, prog))
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
	c.Flags().StringVar(&configPath, "config", "", "config file (YAML)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be done; write nothing")
	c.Flags().BoolVar(&asJSON, "json", false, `print one JSON object: {"stores": [REPORT, ...]}`)
	c.Flags().StringVar(&logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	return c
}

func compactOne(c *cobra.Command, s storeSpec, log *zap.Logger, dryRun bool, prog *progress) report.Report {
	st, err := s.build(log)
	if err != nil {
		return report.Report{Store: s.Name, Backend: s.Backend, DryRun: dryRun, Result: report.ResultError, Error: err.Error()}
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
	if err != nil && rep.Result != report.ResultSkipped {
		rep.Result = report.ResultError
	}
	if err != nil && rep.Error == "" {
		rep.Error = err.Error()
	}
	if rep.Store == "" {
		rep.Store, rep.Backend = s.Name, s.Backend
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
