// Package config loads, validates and prints papyrad's YAML configuration.
//
// A configuration has three sections:
//
//	daemon:   process settings (state_dir, metrics_listen, timezone,
//	          max_concurrent, shutdown_timeout, log, control_socket)
//	defaults: store settings every store inherits
//	stores:   the stores, each with name, backend, path or redis, and any
//	          store setting of its own
//
// Load reads a file; Parse takes bytes. Both apply PAPYRAD_ environment overrides to the
// daemon section and return a Config whose stores carry every setting resolved: built-in
// default, then defaults section, then the store's own key. Effective prints that resolved
// configuration back as YAML. FromFlags resolves one store described by command-line flags
// through the same defaults and checks, each problem naming its flag.
//
// Every problem is collected, not only the first, each as an *Error naming the file, line,
// store and field:
//
//	papyrad.yaml:14: stores[1] (edge): unknown key "rotaton" (did you mean "rotation"?)
//
// How stores merge with the defaults (per leaf key; lists replace; "none"), what validation
// rejects, how relative paths resolve, the consumer-group defaults of redis stores, and the
// forms of durations and sizes are in docs/design/config.md.
package config
