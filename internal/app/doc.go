// Package app is papyrad's daemon as an object: New builds it from a validated configuration,
// Run serves until its context is done or a stop signal arrives, Close releases what New took.
//
//	a, err := app.New(cfg, app.WithLogOutput(os.Stderr))
//	if err != nil { ... }     // errs.ErrInvalid: the configuration or a directory is refused
//	defer a.Close()
//	err = a.Run(ctx)          // errs.ErrForcedStop: runs were abandoned at a second signal
//
// New opens every store (package stores), checks the state and quarantine directories, builds
// the scheduler, and starts serving the control API (HTTP on a unix socket, mode 0660: status,
// metrics, trigger) and, when daemon.metrics_listen is set, Prometheus /metrics and /healthz on
// TCP, which only read.
//
// Run finishes what earlier runs left behind, starts the scheduler, tells systemd READY=1 and
// serves signals: SIGHUP reloads the configuration (Reload; an invalid file keeps the running
// one, and settings read only at start are reported), SIGUSR1 compacts every store now
// (windows and traffic bypassed, never the disk guard), SIGTERM and SIGINT stop gracefully
// within daemon.shutdown_timeout, and a second one stops at once. A done ctx stops gracefully
// too: pass a ctx that those signals do not cancel, or one signal counts twice. Every goroutine
// Run or New starts ends before Run or Close returns, except the runs a forced stop abandons.
package app
