package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Flags describes one store on the command line instead of in a file
// (papyrad compact --backend json --path FILE --max-age 7d). Empty strings
// and zero numbers are flags not given: the built-in defaults apply, as for
// a store that leaves the key out.
type Flags struct {
	Backend string // json, rotating, redis or memory
	Path    string // json, rotating
	// Name defaults to the file's name (json, rotating), PREFIX:SYSTEM_ID
	// (redis) or "memory".
	Name string

	MaxFiles int    // rotating
	Naming   string // rotating

	RedisURL, Prefix, SystemID string // redis

	MaxAge        string
	MaxRecords    int64
	MaxTotalBytes string
	SizeBasis     string
	// NoRetention asks for no limit: only non-records leave the store.
	NoRetention bool

	// StateDir defaults to PAPYRAD_STATE_DIR, else /var/lib/papyrad for
	// root, else the user's state directory.
	StateDir      string
	QuarantineDir string

	ArchiveDir, ArchiveCompress, ArchiveMaxAge string
	// ArchiveURL (s3://bucket/prefix) archives to an object store; the other Archive
	// fields configure how it is reached. ArchiveDir is then where sealed archives wait.
	ArchiveURL, ArchiveEndpoint, ArchiveRegion, ArchiveCredentialsFile string
	ArchivePathStyle                                                   bool

	PartialLineGrace, DrainTimeout string // json, rotating
	AllowHardLinks                 bool   // json, rotating
	MissingOK                      bool   // json, rotating
}

// flagNames maps the store keys the flags fill to the flags' names, so that
// a problem names the flag the value came from.
var flagNames = map[string]string{
	"name":                      "--name",
	"backend":                   "--backend",
	"path":                      "--path",
	"rotation.max_files":        "--max-files",
	"rotation.naming":           "--naming",
	"redis.url":                 "--redis-url",
	"redis.prefix":              "--prefix",
	"redis.system_id":           "--system-id",
	"retention.max_age":         "--max-age",
	"retention.max_records":     "--max-records",
	"retention.max_total_bytes": "--max-total-bytes",
	"retention.size_basis":      "--size-basis",
	"quarantine_dir":            "--quarantine-dir",
	"archive.dir":               "--archive-dir",
	"archive.compress":          "--archive-compress",
	"archive.max_age":           "--archive-max-age",
	"archive.url":               "--archive-url",
	"archive.endpoint":          "--archive-endpoint",
	"archive.region":            "--archive-region",
	"archive.credentials_file":  "--archive-credentials-file",
	"archive.path_style":        "--archive-path-style",
	"partial_line_grace":        "--partial-line-grace",
	"drain_timeout":             "--drain-timeout",
	"allow_hard_links":          "--allow-hard-links",
	"missing_ok":                "--missing-ok",
}

// FromFlags resolves a store described by flags into a configuration of one
// store, with the defaults and the checks a store in a file gets. Relative
// paths are resolved against the working directory. environ supplies
// PAPYRAD_STATE_DIR and the directories the default state directory is
// derived from; no other variable is read.
//
// Every problem is reported, each as an *Error whose Field is the flag
// ("--max-age"); the error matches errs.ErrInvalid.
func FromFlags(fl Flags, environ []string) (*Config, error) {
	var combos []error // problems with how the flags combine, which a file cannot have
	fail := func(format string, args ...any) {
		combos = append(combos, &Error{Msg: fmt.Sprintf(format, args...)})
	}
	b := Backend(fl.Backend)
	switch b {
	case BackendJSON, BackendRotating, BackendRedis, BackendMemory:
	case "":
		fail("--backend is required (json, rotating, redis or memory)")
	default:
		fail("--backend: unknown backend %q (json, rotating, redis, memory)", fl.Backend)
	}
	if len(combos) > 0 {
		return nil, combos[0]
	}
	// "none" clears a limit, as in a file: here, the same as leaving the flag out.
	given := func(v string) bool { return v != "" && !isNone(v) }
	limits := given(fl.MaxAge) || fl.MaxRecords != 0 || given(fl.MaxTotalBytes)
	switch {
	case !limits && !fl.NoRetention:
		fail("no retention limit given: set --max-age, --max-records or --max-total-bytes, or --no-retention to only take non-records out")
	case limits && fl.NoRetention:
		fail("--no-retention contradicts the limits given")
	}
	if fl.ArchiveDir == "" && fl.ArchiveMaxAge != "" {
		fail("--archive-max-age needs --archive-dir")
	}
	if fl.ArchiveURL == "" && (fl.ArchiveEndpoint != "" || fl.ArchiveRegion != "" || fl.ArchiveCredentialsFile != "" || fl.ArchivePathStyle) {
		fail("--archive-endpoint, --archive-region, --archive-credentials-file and --archive-path-style need --archive-url")
	}

	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("store flags: working directory: %w", err)
	}
	p := &problems{flags: flagNames}
	r := &reader{problems: p, base: wd, cwd: wd}
	f := field{path: []string{"flags"}, from: 1}

	d := DefaultDaemon()
	d.StateDir = fl.StateDir
	if d.StateDir == "" {
		d.StateDir = adHocStateDir(environ)
	}
	if sd, ok := r.path(d.StateDir, field{path: []string{"--state-dir"}}); ok {
		d.StateDir = sd
	}
	d.ControlSocket = filepath.Join(d.StateDir, controlSocketName)

	m := fl.store(b)
	if len(combos) > 0 {
		m["retention"] = "none" // reported above
	}
	var s Store
	if _, given := m["name"]; given {
		s, _ = r.store(m, f, &layer{}, &d)
	} else {
		s.Backend = b
		r.settings(m, f, &s, &layer{}, &d)
		s.Name = fl.defaultName(s)
	}
	if err := p.err(); err != nil || len(combos) > 0 {
		return nil, errors.Join(append([]error{err}, combos...)...)
	}
	stores := []Store{s}
	r.crossCheck(stores, []field{f})
	if err := p.err(); err != nil {
		return nil, err
	}
	cfg := &Config{Daemon: d, Stores: stores}
	cfg.Warnings = secretWarnings(cfg, func(_ int, _ *Store, key string) string { return flagNames[key] })
	return cfg, nil
}

// store puts the flags given into the shape of a store in a file. Flags the
// backend does not use are left out, as they always were on the command
// line.
func (fl Flags) store(b Backend) map[string]any {
	m := map[string]any{"backend": string(b)}
	put := func(dst map[string]any, key string, v any) {
		switch x := v.(type) {
		case string:
			if x == "" {
				return
			}
		case int:
			if x == 0 {
				return
			}
		case int64:
			if x == 0 {
				return
			}
		}
		dst[key] = v
	}
	put(m, "name", fl.Name)
	if b.IsFile() {
		put(m, "path", fl.Path)
		put(m, "partial_line_grace", fl.PartialLineGrace)
		put(m, "drain_timeout", fl.DrainTimeout)
		if fl.AllowHardLinks {
			m["allow_hard_links"] = true
		}
		if fl.MissingOK {
			m["missing_ok"] = true
		}
	}
	if b == BackendRotating {
		rot := map[string]any{}
		// Always set: the flag defaults to DefaultMaxFiles, so a 0 was given and is refused.
		rot["max_files"] = fl.MaxFiles
		put(rot, "naming", fl.Naming)
		m["rotation"] = rot
	}
	if b == BackendRedis {
		red := map[string]any{}
		put(red, "url", fl.RedisURL)
		put(red, "prefix", fl.Prefix)
		put(red, "system_id", fl.SystemID)
		m["redis"] = red
	}
	if fl.NoRetention {
		m["retention"] = "none"
	} else {
		ret := map[string]any{}
		put(ret, "max_age", fl.MaxAge)
		put(ret, "max_records", fl.MaxRecords)
		put(ret, "max_total_bytes", fl.MaxTotalBytes)
		put(ret, "size_basis", fl.SizeBasis)
		m["retention"] = ret
	}
	put(m, "quarantine_dir", fl.QuarantineDir)
	if fl.ArchiveDir != "" || fl.ArchiveURL != "" {
		arch := map[string]any{}
		put(arch, "dir", fl.ArchiveDir)
		put(arch, "compress", fl.ArchiveCompress)
		put(arch, "max_age", fl.ArchiveMaxAge)
		put(arch, "url", fl.ArchiveURL)
		put(arch, "endpoint", fl.ArchiveEndpoint)
		put(arch, "region", fl.ArchiveRegion)
		put(arch, "credentials_file", fl.ArchiveCredentialsFile)
		if fl.ArchivePathStyle {
			arch["path_style"] = true
		}
		m["archive"] = arch
	}
	return m
}

// defaultName names a store whose flags gave no --name: after its file,
// its streams, or its kind. Unlike names in a file it may hold any
// character the file name or prefix holds.
func (fl Flags) defaultName(s Store) string {
	switch {
	case s.Path != "":
		return filepath.Base(s.Path)
	case s.Backend == BackendRedis:
		return s.Redis.Prefix + ":" + s.Redis.SystemID
	}
	return string(s.Backend)
}

// adHocStateDir is where papyrad keeps its state for a store described by
// flags: PAPYRAD_STATE_DIR, else the system location for root, else the
// user's state directory.
func adHocStateDir(environ []string) string {
	if v := lookupEnv(environ, "PAPYRAD_STATE_DIR"); v != "" {
		return v
	}
	if os.Geteuid() == 0 {
		return DefaultStateDir
	}
	if v := lookupEnv(environ, "XDG_STATE_HOME"); v != "" {
		return filepath.Join(v, "papyrad")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "papyrad")
	}
	return filepath.Join(os.TempDir(), "papyrad")
}

// lookupEnv returns the last value of key in environ, "" when unset.
func lookupEnv(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// flagName returns the flag a field came from, "" when f is not a flag.
func (p *problems) flagName(f field) string {
	if p.flags == nil {
		return ""
	}
	return p.flags[f.name()]
}
