package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/archive/s3"
	"github.com/papyrad/papyrad/internal/buildinfo"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/pidlock"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/scheduler"
	"github.com/papyrad/papyrad/internal/stores"
)

// PidFile is the file in the state directory that a running daemon holds locked (flock), with
// its pid in it: a second daemon on the same directory is refused.
const PidFile = "papyrad.pid"

// App is the running daemon. Build it with New; Run it once; Close it.
type App struct {
	log      *zap.Logger
	environ  []string
	version  string
	obs      *observer
	fwd      *forwarder
	sched    *scheduler.Scheduler
	jobs     []scheduler.Job
	claim    *pidlock.Lock // the state directory, held from New to Close
	ctl      *controlServer
	metrics  *http.Server
	shutdown time.Duration // daemon.shutdown_timeout, read once like the other daemon settings

	mu  sync.Mutex // guards cfg: Reload may be called while Run serves signals
	cfg *config.Config

	wg        sync.WaitGroup // the servers' goroutines
	closeOnce sync.Once
	closeErr  error
}

type options struct {
	log     *zap.Logger
	logOut  io.Writer
	reg     *prometheus.Registry
	environ []string
}

// Option changes how New builds the App.
type Option func(*options)

// WithLogger logs to l instead of a logger built from the config's daemon.log section.
func WithLogger(l *zap.Logger) Option { return func(o *options) { o.log = l } }

// WithLogOutput writes the logger built from daemon.log to w (default os.Stderr).
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOut = w } }

// WithRegistry registers the metrics with reg and serves reg on /metrics, instead of a new
// registry that also holds the Go and process collectors.
func WithRegistry(reg *prometheus.Registry) Option { return func(o *options) { o.reg = reg } }

// WithEnviron supplies the environment (like os.Environ()) Reload reads PAPYRAD_ overrides
// from (default os.Environ()).
func WithEnviron(environ []string) Option { return func(o *options) { o.environ = environ } }

// New builds the daemon for cfg, loaded from the file cfg.Path, claims its state directory
// (PidFile) and starts serving its control socket and metrics listener. An error that matches
// errs.ErrInvalid means a store or a directory was refused; errs.ErrInUse, that another daemon
// holds the state directory; any other error, that a listener could not start.
func New(cfg *config.Config, opts ...Option) (*App, error) {
	o := options{logOut: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	if o.environ == nil {
		o.environ = os.Environ()
	}
	log := o.log
	if log == nil {
		log = newLogger(o.logOut, cfg.Daemon.Log)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
		o.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	a := &App{log: log, environ: o.environ, version: buildinfo.Get().Version, cfg: cfg, shutdown: cfg.Daemon.ShutdownTimeout}
	if err := a.start(o.reg); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

// start does New's work; on error, Close releases what it took.
func (a *App) start(reg *prometheus.Registry) error {
	cfg := a.cfg
	a.obs = newObserver(reg)
	js, err := jobs(cfg, a.log, a.obs)
	if err != nil {
		return errs.Mark(err, errs.ErrInvalid)
	}
	a.jobs = js
	logWarnings(a.log, cfg)
	if err := stores.CheckDirs(cfg.Daemon.StateDir, cfg.Stores, true); err != nil {
		return err
	}
	// One daemon per state directory: two would share runs.json, the segment summaries and
	// the control socket's directory, each believing it alone schedules the stores.
	claim, err := pidlock.Acquire(filepath.Join(cfg.Daemon.StateDir, PidFile), 0o640, errs.ErrInUse)
	if err != nil {
		return errs.Wrap("state directory", cfg.Daemon.StateDir, err)
	}
	a.claim = claim
	a.obs.setStores(cfg)
	a.fwd = newForwarder(a.log, a.obs.pending)
	a.fwd.setJobs(js)
	a.obs.m.Reload(true, time.Now())
	a.sched = scheduler.New(scheduler.Config{
		Location:      cfg.Daemon.Location,
		MaxConcurrent: cfg.Daemon.MaxConcurrent,
		StateFile:     filepath.Join(cfg.Daemon.StateDir, "runs.json"),
		Log:           a.log,
		OnRun: func(job string, rep report.Report, err error) {
			// Metrics first: once a run's summary line is out, the metrics say the same.
			a.obs.run(job, rep, err)
			logRun(a.log, rep, err)
			if rep.PendingFiles > 0 {
				a.fwd.mark(job)
			}
		},
		OnDefer: a.obs.deferred,
	}, js)
	a.obs.sched = a.sched
	ln, err := listenControl(cfg.Daemon.ControlSocket)
	if err != nil {
		return err
	}
	a.ctl = &controlServer{srv: &http.Server{Handler: controlHandler(a.sched, a.obs, cfg.Daemon.Location, a.log), ReadHeaderTimeout: 5 * time.Second}, path: cfg.Daemon.ControlSocket}
	a.serve(a.ctl.srv, ln, "control socket stopped")
	if addr := cfg.Daemon.MetricsListen; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return errs.Wrap("metrics listener", addr, err)
		}
		a.metrics = &http.Server{Handler: a.obs.handler(), ReadHeaderTimeout: 5 * time.Second}
		a.serve(a.metrics, ln, "metrics listener stopped")
		a.log.Info("metrics listening", zap.String("addr", ln.Addr().String()))
	}
	return nil
}

// serve runs srv on ln until Close shuts it down.
func (a *App) serve(srv *http.Server, ln net.Listener, stopped string) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error(stopped, zap.Error(err))
		}
	}()
}

// Run finishes what earlier runs left behind, runs the scheduler and serves signals until ctx
// is done or SIGTERM/SIGINT arrives, then stops gracefully: no new runs, running ones stop at a
// safe point within daemon.shutdown_timeout. It returns nil after a graceful stop, an error
// matching errs.ErrForcedStop when a second signal or the timeout cut the stop short (the runs
// are abandoned; the process is expected to exit), or the scheduler's error.
func (a *App) Run(ctx context.Context) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer func() {
		// A reload or a trigger that comes while the process ends is moot; unhandled, its
		// default action would kill the process and hide how the stop went.
		signal.Ignore(syscall.SIGHUP, syscall.SIGUSR1)
		signal.Stop(sigs)
	}()

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	// Before any run: journals of runs that died, and forwards a stop left pending, are
	// finished now rather than at each store's next scheduled run; then what stays pending
	// is forwarded every second until the kernel proves nobody holds it.
	a.fwd.all(runCtx)
	var fwdDone sync.WaitGroup
	fwdDone.Go(func() { a.fwd.run(runCtx) })
	defer fwdDone.Wait()
	defer stop()
	done := make(chan error, 1)
	go func() { done <- a.sched.Run(runCtx) }()
	a.log.Info("papyrad started", zap.String("config", a.config().Path), zap.Int("stores", len(a.jobs)), zap.String("version", a.version))
	notify(a.log, daemon.SdNotifyReady)

	var watchdog <-chan time.Time
	if d, err := daemon.SdWatchdogEnabled(false); err == nil && d > 0 {
		t := time.NewTicker(d / 2)
		defer t.Stop()
		watchdog = t.C
	}
	for {
		select {
		case <-watchdog:
			notify(a.log, daemon.SdNotifyWatchdog)
		case err := <-done:
			return err
		case <-ctx.Done():
			return a.stop(stop, done, sigs)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				return a.stop(stop, done, sigs)
			case syscall.SIGUSR1:
				a.log.Info("SIGUSR1: compacting every store now")
				_ = a.sched.Trigger(nil, true)
			case syscall.SIGHUP:
				_ = a.Reload()
			}
		}
	}
}

// sameStop is how soon after the stop began a stop signal is the same request again: GNU
// timeout and some supervisors send it to the process and then to its process group, so one
// request arrives twice within microseconds.
const sameStop = time.Second

// stop cancels the runs (cancel) and waits for the scheduler to end (done), for at most
// shutdown_timeout and until a second stop signal that comes sameStop or later after the stop
// began.
func (a *App) stop(cancel context.CancelFunc, done <-chan error, sigs <-chan os.Signal) error {
	began := time.Now()
	notify(a.log, daemon.SdNotifyStopping)
	a.log.Info("stopping: no new runs; running ones stop at a safe point", zap.Duration("timeout", a.shutdown))
	cancel()
	deadline := time.NewTimer(a.shutdown)
	defer deadline.Stop()
	for {
		select {
		case <-done:
			a.log.Info("papyrad stopped")
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGTERM || sig == syscall.SIGINT {
				if time.Since(began) < sameStop {
					a.log.Info("stop signal repeated within a second: the same stop goes on", zap.String("signal", sig.String()))
					continue
				}
				a.log.Warn("second signal: stopping at once")
				return fmt.Errorf("second signal: %w", errs.ErrForcedStop)
			}
		case <-deadline.C:
			a.log.Error("runs did not stop within shutdown_timeout")
			return fmt.Errorf("shutdown_timeout %s passed: %w", a.shutdown, errs.ErrForcedStop)
		}
	}
}

// Close stops the control socket (removing it) and the metrics listener, waits for their
// goroutines and flushes the log. Calling it again does nothing and returns the first result.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errList []error
		if a.ctl != nil {
			errList = append(errList, a.ctl.Close())
		}
		if a.metrics != nil {
			errList = append(errList, a.metrics.Close())
		}
		a.wg.Wait()
		errList = append(errList, a.claim.Release())
		_ = a.log.Sync()
		a.closeErr = errors.Join(errList...)
	})
	return a.closeErr
}

func (a *App) config() *config.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

// Reload reads the configuration file again and applies its stores. If the file is invalid
// the running configuration stays and the error is returned (it is logged too). Daemon
// settings that only take effect at start are reported, not applied.
func (a *App) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	notify(a.log, "RELOADING=1\nMONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10))
	defer notify(a.log, daemon.SdNotifyReady)
	path := a.cfg.Path
	cfg, err := config.Load(path, a.environ)
	var js []scheduler.Job
	if err == nil {
		js, err = jobs(cfg, a.log, a.obs)
	}
	if err != nil {
		a.obs.m.Reload(false, time.Now())
		a.log.Error("reload failed: keeping the running configuration", zap.String("config", path), zap.Error(err))
		return errs.Wrap("reload", path, err)
	}
	logWarnings(a.log, cfg)
	a.obs.setStores(cfg)
	a.obs.m.Reload(true, time.Now())
	a.sched.Reload(js)
	a.fwd.setJobs(js)
	a.log.Info("configuration reloaded", zap.String("config", path), zap.Int("stores", len(js)))
	if changed := restartOnly(a.cfg.Daemon, cfg.Daemon); len(changed) > 0 {
		a.log.Warn("daemon settings changed that take effect only after a restart; the running values stay", zap.Strings("settings", changed))
	}
	a.cfg = cfg
	return nil
}

// jobs opens every store of cfg as a scheduler job.
func jobs(cfg *config.Config, log *zap.Logger, obs s3.Observer) ([]scheduler.Job, error) {
	var out []scheduler.Job
	var errList []error
	for i := range cfg.Stores {
		st := &cfg.Stores[i]
		store, err := stores.Open(st, cfg.Daemon.StateDir, log, obs)
		if err != nil {
			errList = append(errList, err)
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
	return out, errors.Join(errList...)
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
