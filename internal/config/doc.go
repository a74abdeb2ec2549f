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
// Load reads a file (koanf's file provider and YAML parser); Parse takes
// bytes. Both apply PAPYRAD_ environment overrides to the daemon section
// (the environment wins over the file; any other PAPYRAD_ variable is an
// error) and return a Config whose stores carry every setting resolved:
// built-in default, then defaults section, then the store's own key.
// Effective prints that resolved configuration back as YAML. FromFlags
// resolves one store described by command-line flags through the same
// defaults and checks, each problem naming its flag ("--max-age: ...").
//
// # Merging
//
// A store overrides the defaults section key by key. Nested mappings
// (traffic, disk, retention, archive) merge per leaf key, so a store's
// "traffic: {sample: 10s}" keeps the default max_records_per_second.
// Lists (windows) replace: "windows: []" means any time even when the
// defaults list windows. A null value ("jitter:" or "jitter: ~") is the
// same as leaving the key out.
//
// "retention: none" in a store discards the default retention (keep every
// record); in the defaults section it is inherited by stores that say
// nothing about retention, while a store's retention mapping replaces it.
// A single inherited limit is cleared with "none" ("max_age: none"). A
// store that ends up with no limit and without an explicit none is an
// error. "archive: none" likewise turns off an archive set in defaults.
//
// # Validation
//
// Unknown keys are rejected anywhere, with their path and a suggestion
// when one is close ("rotaton" → "rotation", a store-level "max_age" →
// "retention.max_age"). Every problem is collected, not only the first,
// each as an *Error naming the file, line, store and field:
//
//	papyrad.yaml:14: stores[1] (edge): unknown key "rotaton" (did you mean "rotation"?)
//	papyrad.yaml:20: stores[2] (cluster): redis.url: required for backend redis
//
// Settings only some backends use are rejected on the others when a store
// sets them: path (json, rotating), rotation (rotating), redis (redis),
// partial_line_grace, drain_timeout, allow_hard_links and missing_ok (json,
// rotating), consumer_groups, consumer_group_max_age, age_basis and
// trim_step (redis). The defaults section may set them for all stores,
// allow_hard_links and missing_ok aside: an operator opts in store by store.
//
// Relative paths (state_dir, control_socket, store paths, quarantine_dir,
// archive.dir, archive.ca_file, archive.credentials_file,
// redis.password_file) are resolved against the directory of
// the configuration file; relative paths from the environment against the
// working directory. Path checks are lexical: symbolic links are not
// followed.
//
// Redis stores respect consumer groups by default (consumer_groups: acked):
// an entry a group has not been delivered or has not acknowledged is not
// trimmed until it is older than consumer_group_max_age (default 7d, long
// enough to notice and restart a stopped consumer, short enough that a dead
// group cannot hold a stream forever); "none" (or 0) lets groups always win.
// ignore and delivered trim what a group has not acknowledged, and the
// configuration's Warnings say so.
//
// Durations take Go's form plus days and weeks ("90s", "12h", "7d", "2w");
// a bare 0 is allowed. Sizes take bytes or units ("6000", "512MiB",
// "1GB"; see package units); traffic.max_bytes_per_second may end in "/s".
package config
