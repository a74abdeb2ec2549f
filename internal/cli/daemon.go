package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/metrics"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/scheduler"
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
			return runDaemon(c.Context(), e, path, cfg)
		},
	}
	c.Flags().StringVar(&path, "config", "", "config file (YAML)")
	return c
}

// daemonLogger builds the daemon's logger from the config's log section.
func daemonLogger(e *env, cfg *config.Config) *zap.Logger {
	lvl, err := zapcore.ParseLevel(string(cfg.Daemon.Log.Level))
	if err != nil {
		lvl = zapcore.InfoLevel
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder = zapcore.NewJSONEncoder(ec)
	if cfg.Daemon.Log.Format == config.LogConsole {
		enc = zapcore.NewConsoleEncoder(ec)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(e.stderr), lvl))
}

// jobs builds the scheduler's jobs from a config.
func jobs(cfg *config.Config, log *zap.Logger) ([]scheduler.Job, error) {
	var out []scheduler.Job
	var errs []error
	for i := range cfg.Stores {
		st := &cfg.Stores[i]
		spec := specFromConfig(st, cfg.Daemon.StateDir)
		store, err := spec.build(log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		j := scheduler.Job{
			Name:  st.Name,
			Store: store,
			Plan: scheduler.Plan{
				Schedule: st.Cron, Windows: st.Windows, MaxDeferral: st.MaxDeferral,
				Jitter: st.Jitter, MinInterval: st.MinInterval,
				Traffic: scheduler.Traffic{Sample: st.Traffic.Sample, MaxRecordsPerSecond: st.Traffic.MaxRecordsPerSecond, MaxBytesPerSecond: st.Traffic.MaxBytesPerSecond},
			},
			Disk: scheduler.Disk{Reserve: st.Disk.Reserve, Factor: st.Disk.Factor},
		}
		if m, ok := store.(scheduler.Meter); ok {
			j.Meter = m
		}
		out = append(out, j)
	}
	return out, errors.Join(errs...)
}

// runDaemon is the daemon's lifecycle: start, serve signals and the control socket, stop.
func runDaemon(ctx context.Context, e *env, path string, cfg *config.Config) error {
	log := daemonLogger(e, cfg)
	defer func() { _ = log.Sync() }()
	js, err := jobs(cfg, log)
	if err != nil {
		return withCode(ExitConfig, err)
	}
	logWarnings(log, cfg)
	if err := checkDaemonDirs(cfg); err != nil {
		return err
	}
	obs := newObserver(Version)
	obs.setStores(cfg)
	obs.m.Reload(true, time.Now())
	sched := scheduler.New(scheduler.Config{
		Location:      cfg.Daemon.Location,
		MaxConcurrent: cfg.Daemon.MaxConcurrent,
		StateFile:     filepath.Join(cfg.Daemon.StateDir, "runs.json"),
		Log:           log,
		OnRun: func(job string, rep report.Report, err error) {
			logRun(log, rep, err)
			obs.run(job, rep, err)
		},
		OnDefer: obs.deferred,
	}, js)
	obs.sched = sched
	ctl, err := listenControl(cfg.Daemon.ControlSocket, sched, obs, log)
	if err != nil {
		return withCode(ExitFailed, err)
	}
	defer ctl.Close()
	if cfg.Daemon.MetricsListen != "" {
		srv, err := obs.serve(cfg.Daemon.MetricsListen, log)
		if err != nil {
			return withCode(ExitFailed, err)
		}
		defer srv.Close()
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	// Before any run: journals of runs that died, and forwards a stop left pending, are
	// finished now rather than at each store's next scheduled run.
	recoverAll(runCtx, log, js)
	done := make(chan error, 1)
	go func() { done <- sched.Run(runCtx) }()
	log.Info("papyrad started", zap.String("config", path), zap.Int("stores", len(js)), zap.String("version", Version))
	notify(log, daemon.SdNotifyReady)

	var watchdog <-chan time.Time
	if d, err := daemon.SdWatchdogEnabled(false); err == nil && d > 0 {
		t := time.NewTicker(d / 2)
		defer t.Stop()
		watchdog = t.C
	}
	shutdownTimeout := cfg.Daemon.ShutdownTimeout // read once, like the other daemon settings
	shutdown := func() error {
		notify(log, daemon.SdNotifyStopping)
		log.Info("stopping: no new runs; running ones stop at a safe point", zap.Duration("timeout", shutdownTimeout))
		stop()
		deadline := time.After(shutdownTimeout)
		for {
			select {
			case <-done:
				log.Info("papyrad stopped")
				return nil
			case sig := <-sigs:
				if sig == syscall.SIGTERM || sig == syscall.SIGINT {
					log.Warn("second signal: stopping at once")
					return silentExit(ExitFailed)
				}
			case <-deadline:
				log.Error("runs did not stop within shutdown_timeout")
				return silentExit(ExitFailed)
			}
		}
	}
	// Only the signals channel stops the daemon: the process-wide signal context sees the same
	// SIGTERM, and taking both would count one signal twice.
	for {
		select {
		case <-watchdog:
			notify(log, daemon.SdNotifyWatchdog)
		case err := <-done:
			return withCode(ExitFailed, err)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				return shutdown()
			case syscall.SIGUSR1:
				log.Info("SIGUSR1: compacting every store now")
				_ = sched.Trigger(nil, true)
			case syscall.SIGHUP:
				if next := reload(e, log, path, cfg, sched, obs); next != nil {
					cfg = next
				}
			}
		}
	}
}

// reload applies a changed config file's stores and returns it, or keeps the running
// configuration (and returns nil) if the file is invalid. Daemon settings that only take effect at start are reported, not ignored.
func reload(e *env, log *zap.Logger, path string, running *config.Config, sched *scheduler.Scheduler, obs *observer) *config.Config {
	notify(log, "RELOADING=1\nMONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10))
	defer notify(log, daemon.SdNotifyReady)
	cfg, err := config.Load(path, e.environ)
	var js []scheduler.Job
	if err == nil {
		js, err = jobs(cfg, log)
	}
	if err != nil {
		obs.m.Reload(false, time.Now())
		log.Error("reload failed: keeping the running configuration", zap.String("config", path), zap.Error(err))
		return nil
	}
	logWarnings(log, cfg)
	obs.setStores(cfg)
	obs.m.Reload(true, time.Now())
	sched.Reload(js)
	log.Info("configuration reloaded", zap.String("config", path), zap.Int("stores", len(js)))
	if changed := restartOnly(running.Daemon, cfg.Daemon); len(changed) > 0 {
		log.Warn("daemon settings changed that take effect only after a restart; the running values stay", zap.Strings("settings", changed))
	}
	return cfg
}

// restartOnly lists the daemon settings that differ between a and b: they are read once, at
// start.
func restartOnly(a, b config.Daemon) []string {
	var out []string
	check := func(name string, same bool) {
		if !same {
			out = append(out, name)
		}
	}
	check("daemon.state_dir", a.StateDir == b.StateDir)
	check("daemon.metrics_listen", a.MetricsListen == b.MetricsListen)
	check("daemon.timezone", a.Timezone == b.Timezone)
	check("daemon.max_concurrent", a.MaxConcurrent == b.MaxConcurrent)
	check("daemon.shutdown_timeout", a.ShutdownTimeout == b.ShutdownTimeout)
	check("daemon.log", a.Log == b.Log)
	check("daemon.control_socket", a.ControlSocket == b.ControlSocket)
	return out
}

// recoverer is what stores whose runs can leave work behind (file stores) offer.
type recoverer interface {
	Recover(ctx context.Context) error
}

// recoverAll finishes what earlier runs left behind, store by store. A store another process
// is compacting is skipped: that run does the same.
func recoverAll(ctx context.Context, log *zap.Logger, js []scheduler.Job) {
	for _, j := range js {
		r, ok := j.Store.(recoverer)
		if !ok {
			continue
		}
		if err := r.Recover(ctx); err != nil && !errors.Is(err, errs.ErrLocked) && ctx.Err() == nil {
			log.Warn("recovering earlier runs failed", zap.String("store", j.Name), zap.Error(err))
		}
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, as systemd expects for MONOTONIC_USEC.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1e3
}

func notify(log *zap.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", zap.Error(err))
	}
}

// logRun writes the one summary line of a run: the report's fields under their JSON names,
// at info, or at error with the store, the error and its cause as papyrad_errors_total counts
// it when the run failed.
func logRun(log *zap.Logger, r report.Report, err error) {
	fields := []zap.Field{zap.Inline(reportFields(r))}
	switch {
	case errors.Is(err, errs.ErrDiskRefused):
		log.Warn("compaction deferred: not enough disk space", append(fields, zap.Error(err))...)
	case errors.Is(err, context.Canceled):
		log.Warn("compaction interrupted by shutdown; the store is whole", append(fields, zap.Error(err))...)
	case err != nil && r.Result != report.ResultSkipped:
		log.Error("compaction failed", append(fields, zap.String("cause", metrics.Cause(err)), zap.Error(err))...)
	case err != nil:
		log.Info("compaction skipped", append(fields, zap.Error(err))...)
	default:
		log.Info("compaction done", fields...)
	}
}

// reportFields puts a report into a log line as `compact --json` prints it, field by field
// in the same order, so that the summary line carries every figure a report has, the ones
// added later included. Its "error" is left to the zap.Error the line carries.
type reportFields report.Report

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (r reportFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	b, err := json.Marshal(report.Report(r))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("report field %s: %w", key, err)
		}
		if key == "error" {
			continue
		}
		switch v := v.(type) {
		case json.Number:
			if i, err := v.Int64(); err == nil && !strings.ContainsAny(v.String(), ".eE") {
				enc.AddInt64(key, i)
			} else {
				f, _ := v.Float64()
				enc.AddFloat64(key, f)
			}
		case string:
			enc.AddString(key, v)
		case bool:
			enc.AddBool(key, v)
		default:
			if err := enc.AddReflected(key, v); err != nil {
				return fmt.Errorf("report field %s: %w", key, err)
			}
		}
	}
	return nil
}
