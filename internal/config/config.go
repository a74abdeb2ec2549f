package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	envprovider "github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/window"
)

// Load reads and validates the configuration file at path. environ (like
// os.Environ()) supplies the PAPYRAD_ overrides of daemon settings.
// Relative paths in the file are resolved against the file's directory.
//
// Every problem is reported, not only the first: the error joins one
// *Error per problem and matches errs.ErrInvalid. A file that cannot be read
// gives the read error, which does not match errs.ErrInvalid.
func Load(path string, environ []string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errs.Wrap("read config", path, err)
	}
	data, err := file.Provider(abs).ReadBytes()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := parse(data, environ, abs, filepath.Dir(abs))
	if err != nil {
		return nil, err
	}
	cfg.Warnings = append(secretWarnings(cfg, fileSetting), cfg.Warnings...)
	return cfg, nil
}

// Parse validates a configuration held in memory, as Load does for a file.
// Relative paths are resolved against the working directory, and Path is
// left empty.
func Parse(data []byte, environ []string) (*Config, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("parse config: working directory: %w", err)
	}
	return parse(data, environ, "", wd)
}

// envVars maps each environment variable to the daemon setting it
// overrides.
var envVars = map[string]string{
	"PAPYRAD_STATE_DIR":        "daemon.state_dir",
	"PAPYRAD_METRICS_LISTEN":   "daemon.metrics_listen",
	"PAPYRAD_TIMEZONE":         "daemon.timezone",
	"PAPYRAD_MAX_CONCURRENT":   "daemon.max_concurrent",
	"PAPYRAD_SHUTDOWN_TIMEOUT": "daemon.shutdown_timeout",
	"PAPYRAD_LOG_LEVEL":        "daemon.log.level",
	"PAPYRAD_LOG_FORMAT":       "daemon.log.format",
	"PAPYRAD_CONTROL_SOCKET":   "daemon.control_socket",
}

// EnvPrefix starts every environment variable papyrad reads; any other
// variable with this prefix is an error.
const EnvPrefix = "PAPYRAD_"

// The configuration file the commands read when --config does not name one:
// EnvConfig's value, else DefaultPath (where `make install` puts it).
const (
	EnvConfig   = "PAPYRAD_CONFIG"
	DefaultPath = "/etc/papyrad/papyrad.yaml"
)

// EnvVars returns the environment variables that override daemon settings,
// each with the setting it overrides ("PAPYRAD_LOG_LEVEL" →
// "daemon.log.level").
func EnvVars() map[string]string { return maps.Clone(envVars) }

// bytesProvider hands koanf a document already in memory.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }

func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytes provider: use ReadBytes with a parser")
}

func parse(data []byte, environ []string, path, base string) (*Config, error) {
	p := &problems{file: path}
	fatal := func(format string, args ...any) (*Config, error) {
		return nil, &Error{File: path, Msg: fmt.Sprintf(format, args...)}
	}
	root, err := documentRoot(data)
	if err != nil {
		return fatal("%v", err)
	}
	if root != nil && root.Kind != yamlv3.MappingNode {
		return fatal("the document must be a mapping with the keys daemon, defaults and stores")
	}
	k := koanf.New(".")
	if err := k.Load(bytesProvider(data), yaml.Parser()); err != nil {
		return fatal("invalid YAML: %v", err)
	}
	p.lines = lineIndex(root)

	var unknownEnv []string
	ek := koanf.New(".")
	err = ek.Load(envprovider.Provider(".", envprovider.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key, ok := envVars[name]
			if !ok {
				if name != EnvConfig { // names the file, not a setting in it
					unknownEnv = append(unknownEnv, name)
				}
				return "", nil
			}
			return key, value
		},
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("read environment: %w", err)
	}
	slices.Sort(unknownEnv)
	for _, name := range slices.Compact(unknownEnv) {
		msg := "unknown environment variable"
		if s := suggest(name, slices.Sorted(maps.Keys(envVars))); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		} else {
			msg += " (known: " + strings.Join(slices.Sorted(maps.Keys(envVars)), ", ") + ")"
		}
		p.list = append(p.list, &Error{Field: name, Msg: msg})
	}

	wd, _ := os.Getwd()
	r := &reader{problems: p, base: base, cwd: wd}
	raw := k.Raw()
	p.checkKeys(raw)

	cfg := &Config{Path: path}
	cfg.Daemon = r.daemon(raw["daemon"], ek)
	defaults := &layer{}
	if v, ok := get(raw, "defaults"); ok {
		if m, ok := r.mapping(v, field{path: []string{"defaults"}}); ok {
			defaults = r.layer(m, field{path: []string{"defaults"}})
		}
	}
	cfg.Stores = r.stores(raw["stores"], defaults, &cfg.Daemon)
	if err := p.err(); err != nil {
		return nil, err
	}
	cfg.Warnings = groupWarnings(cfg)
	return cfg, nil
}

// documentRoot parses data into a node tree and returns the root of its
// only document, nil for an empty document.
func documentRoot(data []byte) (*yamlv3.Node, error) {
	dec := yamlv3.NewDecoder(strings.NewReader(string(data)))
	var doc yamlv3.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("invalid YAML: %v", err)
	}
	var next yamlv3.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("invalid YAML: %v", err)
		}
		return nil, fmt.Errorf("more than one YAML document (remove the second ---)")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// lineIndex maps the YAML path of every key and list item (joined with
// "\x00", list indices in decimal) to its line. Keys brought in by a
// merge key (<<: *anchor) get the line where the anchor defines them
// unless the mapping sets them itself.
func lineIndex(root *yamlv3.Node) map[string]int {
	idx := map[string]int{}
	budget := 100_000 // aliases can make the tree exponential; stop early
	var walk func(n *yamlv3.Node, path []string, weak bool, depth int)
	set := func(path []string, line int, weak bool) {
		key := strings.Join(path, "\x00")
		if _, ok := idx[key]; !ok || !weak {
			idx[key] = line
		}
	}
	walk = func(n *yamlv3.Node, path []string, weak bool, depth int) {
		if n == nil || depth > 64 || budget <= 0 {
			return
		}
		budget--
		switch n.Kind {
		case yamlv3.AliasNode:
			walk(n.Alias, path, weak, depth+1)
		case yamlv3.MappingNode:
			var merges []*yamlv3.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Tag == "!!merge" {
					merges = append(merges, v)
					continue
				}
				p := append(slices.Clip(path), k.Value)
				set(p, k.Line, weak)
				walk(v, p, weak, depth+1)
			}
			for _, m := range merges {
				if m.Kind == yamlv3.SequenceNode {
					for _, item := range m.Content {
						walk(item, path, true, depth+1)
					}
				} else {
					walk(m, path, true, depth+1)
				}
			}
		case yamlv3.SequenceNode:
			for i, item := range n.Content {
				p := append(slices.Clip(path), strconv.Itoa(i))
				set(p, item.Line, weak)
				walk(item, p, weak, depth+1)
			}
		}
	}
	walk(root, nil, false, 0)
	return idx
}

// maxSocketPath is the longest unix socket path Linux accepts (sun_path
// holds 108 bytes including the terminating NUL).
const maxSocketPath = 107

// daemon decodes the daemon section with the environment's overrides.
func (r *reader) daemon(raw any, env *koanf.Koanf) Daemon {
	d := DefaultDaemon()
	f := field{path: []string{"daemon"}}
	m, _ := r.mapping(raw, f)
	var logMap map[string]any
	if v, ok := get(m, "log"); ok {
		logMap, _ = r.mapping(v, f.key("log"))
	}
	envName := map[string]string{}
	for name, key := range envVars {
		envName[key] = name
	}
	// value returns the setting at key (e.g. "log.level"), the environment
	// winning over the file.
	value := func(key string) (any, field, bool) {
		parts := strings.Split(key, ".")
		kf := field{path: append([]string{"daemon"}, parts...)}
		if env.Exists("daemon." + key) {
			kf.env = envName["daemon."+key]
			return env.Get("daemon." + key), kf, true
		}
		src := m
		if len(parts) == 2 {
			src = logMap
		}
		v, ok := get(src, parts[len(parts)-1])
		return v, kf, ok
	}

	if v, f, ok := value("state_dir"); ok {
		if p, ok := r.path(v, f); ok {
			d.StateDir = p
		}
	}
	d.ControlSocket = filepath.Join(d.StateDir, controlSocketName)
	if v, f, ok := value("metrics_listen"); ok {
		if s, ok := r.str(v, f); ok {
			if err := checkListen(s); err != nil {
				r.add(f, "%v", err)
			} else {
				d.MetricsListen = s
			}
		}
	}
	if v, f, ok := value("timezone"); ok {
		if s, ok := r.nonEmpty(v, f); ok {
			if loc, err := time.LoadLocation(s); err != nil {
				r.add(f, "unknown time zone %q (use an IANA name such as Europe/Berlin, or UTC or Local)", s)
			} else {
				d.Timezone, d.Location = s, loc
			}
		}
	}
	if v, f, ok := value("max_concurrent"); ok {
		if n, ok := r.integer(v, f, 1, math.MaxInt32); ok {
			d.MaxConcurrent = int(n)
		}
	}
	if v, f, ok := value("shutdown_timeout"); ok {
		if t, ok := r.positiveDuration(v, f); ok {
			d.ShutdownTimeout = t
		}
	}
	if v, f, ok := value("log.level"); ok {
		if s, ok := r.enum(v, f, string(LogDebug), string(LogInfo), string(LogWarn), string(LogError)); ok {
			d.Log.Level = LogLevel(s)
		}
	}
	if v, f, ok := value("log.format"); ok {
		if s, ok := r.enum(v, f, string(LogJSON), string(LogConsole)); ok {
			d.Log.Format = LogFormat(s)
		}
	}
	if v, f, ok := value("control_socket"); ok {
		if p, ok := r.path(v, f); ok {
			d.ControlSocket = p
		}
	}
	if len(d.ControlSocket) > maxSocketPath {
		// Blame the setting the path came from.
		key := "control_socket"
		if !env.Exists("daemon.control_socket") && !hasKey(m, "control_socket") {
			key = "state_dir"
		}
		_, f, _ := value(key)
		r.add(f, "control socket path %s is %d bytes long, more than a unix socket allows (%d); set a shorter daemon.control_socket", d.ControlSocket, len(d.ControlSocket), maxSocketPath)
	}
	return d
}

func hasKey(m map[string]any, k string) bool {
	_, ok := get(m, k)
	return ok
}

// checkListen validates a host:port listen address; "" disables.
func checkListen(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:9464; \"\" disables metrics)", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	return nil
}

// validName matches store names: they become parts of file names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func nameOK(s string) bool { return validName.MatchString(s) && s != "." && s != ".." }

// storeField is the field of stores[i], labelled with its name when the
// name is usable.
func storeField(i int, m map[string]any) field {
	label := fmt.Sprintf("stores[%d]", i)
	if n, ok := m["name"].(string); ok && nameOK(n) {
		label += " (" + n + ")"
	}
	return field{path: []string{"stores", strconv.Itoa(i)}, from: 2, label: label}
}

// stores decodes the store list and checks the stores against each other.
func (r *reader) stores(raw any, defaults *layer, d *Daemon) []Store {
	f := field{path: []string{"stores"}}
	if raw == nil {
		r.add(f, "at least one store is required")
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		r.add(f, "must be a list of stores, not %s", describe(raw))
		return nil
	}
	if len(list) == 0 {
		r.add(f, "at least one store is required")
		return nil
	}
	var out []Store
	var fields []field
	for i, item := range list {
		m, ok := asMap(item)
		if !ok {
			r.add(f.index(i), "must be a mapping with name, backend and the store's settings, not %s", describe(item))
			continue
		}
		sf := storeField(i, m)
		if s, ok := r.store(m, sf, defaults, d); ok {
			out = append(out, s)
			fields = append(fields, sf)
		}
	}
	r.crossCheck(out, fields)
	return out
}

// crossCheck reports stores that collide: same name, same file, files
// that another store's set reads, the same Redis streams (on the same
// server and database, however the URL spells them).
func (r *reader) crossCheck(stores []Store, fields []field) {
	names := map[string]int{}
	paths := map[string]int{}
	streams := map[string]int{}
	for i, s := range stores {
		if j, ok := names[s.Name]; ok {
			r.add(fields[i].key("name"), "%q is already the name of %s", s.Name, fields[j].label)
		} else {
			names[s.Name] = i
		}
		if s.Path != "" {
			if j, ok := paths[s.Path]; ok {
				r.add(fields[i].key("path"), "%s is also the path of %s", s.Path, fields[j].label)
			} else {
				paths[s.Path] = i
			}
		}
		if s.Backend == BackendRedis && s.Redis.URL != "" {
			key := streamsKey(s.Redis.URL) + "\x00" + s.Redis.Prefix + "\x00" + s.Redis.SystemID
			if j, ok := streams[key]; ok {
				r.add(fields[i].key("redis"), "same streams as %s (same server and database, prefix and system_id)", fields[j].label)
			} else {
				streams[key] = i
			}
		}
	}
	r.checkFiles(stores, fields)
}

// store decodes one store and merges the defaults into it. ok is false if
// the store is too broken to compare with the others.
func (r *reader) store(m map[string]any, f field, defaults *layer, d *Daemon) (Store, bool) {
	var s Store
	ok := true
	if v, has := get(m, "name"); !has {
		r.add(f.key("name"), "required")
		ok = false
	} else if n, good := r.nonEmpty(v, f.key("name")); !good {
		ok = false
	} else if !nameOK(n) {
		r.add(f.key("name"), "%q may only contain letters, digits, '_', '.' and '-' (and is not . or ..)", n)
		ok = false
	} else {
		s.Name = n
	}
	if v, has := get(m, "backend"); !has {
		r.add(f.key("backend"), "required (json, rotating, redis or memory)")
		ok = false
	} else if b, good := r.enum(v, f.key("backend"), string(BackendJSON), string(BackendRotating), string(BackendRedis), string(BackendMemory)); good {
		s.Backend = Backend(b)
	} else {
		ok = false
	}

	r.settings(m, f, &s, defaults, d)
	return s, ok
}

// settings decodes every key of store m but name and backend into s, whose
// Backend is set (or "" when invalid), and merges the defaults into it.
func (r *reader) settings(m map[string]any, f field, s *Store, defaults *layer, d *Daemon) {
	l := r.layer(m, f)
	if s.Backend != "" {
		r.backendKeys(m, f, s, d)
	}

	s.Schedule = DefaultSchedule
	s.Cron = mustDefaultCron()
	if sc := pick(l.schedule, defaults.schedule, schedule{}); sc.cron != nil {
		s.Schedule, s.Cron = sc.spec, sc.cron
	}
	w := pick(l.windows, defaults.windows, windows{specs: []string{}, set: window.Set{}})
	s.Windows, s.WindowSpecs = slices.Clone(w.set), slices.Clone(w.specs)
	s.MaxDeferral = pick(l.maxDeferral, defaults.maxDeferral, DefaultMaxDeferral)
	s.Jitter = pick(l.jitter, defaults.jitter, DefaultJitter)
	s.MinInterval = pick(l.minInterval, defaults.minInterval, DefaultMinInterval)
	s.Traffic = Traffic{
		Sample:              pick(l.trafficSample, defaults.trafficSample, DefaultTrafficSample),
		MaxRecordsPerSecond: pick(l.maxRecordsPerSecond, defaults.maxRecordsPerSecond, 0),
		MaxBytesPerSecond:   pick(l.maxBytesPerSecond, defaults.maxBytesPerSecond, 0),
	}
	s.Disk = Disk{
		Reserve: pick(l.diskReserve, defaults.diskReserve, DefaultDiskReserve),
		Factor:  pick(l.diskFactor, defaults.diskFactor, DefaultDiskFactor),
	}
	s.QuarantineDir = pick(l.quarantineDir, defaults.quarantineDir, filepath.Join(d.StateDir, quarantineDirName))
	s.PartialLineGrace = pick(l.partialLineGrace, defaults.partialLineGrace, DefaultPartialLineGrace)
	s.DrainTimeout = pick(l.drainTimeout, defaults.drainTimeout, DefaultDrainTimeout)
	s.ConsumerGroups = pick(l.consumerGroups, defaults.consumerGroups, DefaultConsumerGroups)
	s.ConsumerGroupMaxAge = pick(l.consumerGroupMaxAge, defaults.consumerGroupMaxAge, DefaultConsumerGroupMaxAge)
	s.AgeBasis = pick(l.ageBasis, defaults.ageBasis, DefaultAgeBasis)
	s.TrimStep = pick(l.trimStep, defaults.trimStep, DefaultTrimStep)

	r.mergeRetention(s, l.retention, defaults.retention, f)
	r.mergeArchive(s, l.archive, defaults.archive, f, d)
}

// Keys that only some backends use, when set on a store.
var (
	redisOnlyKeys = []string{"consumer_groups", "consumer_group_max_age", "age_basis", "trim_step"}
	fileOnlyKeys  = []string{"partial_line_grace", "drain_timeout"}
)

// backendKeys decodes path, rotation and redis, and rejects keys the
// store's backend does not use.
func (r *reader) backendKeys(m map[string]any, f field, s *Store, d *Daemon) {
	b := s.Backend
	if v, has := get(m, "path"); b.IsFile() {
		if !has {
			r.required(f.key("path"), "for backend "+string(b))
		} else if p, ok := r.path(v, f.key("path")); ok {
			s.Path = p
			if rel, err := filepath.Rel(d.StateDir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				r.add(f.key("path"), "%s is inside daemon.state_dir (%s), which papyrad owns; keep stores elsewhere", p, d.StateDir)
			}
		}
	} else if has {
		r.add(f.key("path"), "not used by backend %s (only json and rotating stores have a path)", b)
	}

	if v, has := get(m, "allow_hard_links"); b.IsFile() {
		if has {
			if x, ok := r.boolean(v, f.key("allow_hard_links")); ok {
				s.AllowHardLinks = x
			}
		}
	} else if has {
		r.add(f.key("allow_hard_links"), "only for file backends (json, rotating)")
	}

	if v, has := get(m, "missing_ok"); b.IsFile() {
		if has {
			if x, ok := r.boolean(v, f.key("missing_ok")); ok {
				s.MissingOK = x
			}
		}
	} else if has {
		r.add(f.key("missing_ok"), "only for file backends (json, rotating)")
	}

	if v, has := get(m, "rotation"); b == BackendRotating {
		s.Rotation = Rotation{MaxFiles: DefaultMaxFiles, Naming: DefaultNaming}
		rf := f.key("rotation")
		if rm, ok := r.mapping(v, rf); ok {
			if v, ok := get(rm, "max_files"); ok {
				if n, ok := r.integer(v, rf.key("max_files"), 2, math.MaxInt32); ok {
					s.Rotation.MaxFiles = int(n)
				}
			}
			if v, ok := get(rm, "naming"); ok {
				if n, ok := r.enum(v, rf.key("naming"), string(NamingSuffix), string(NamingSequence)); ok {
					s.Rotation.Naming = Naming(n)
				}
			}
		}
	} else if has {
		r.add(f.key("rotation"), "only for backend rotating")
	}

	if v, has := get(m, "redis"); b == BackendRedis {
		s.Redis = Redis{Prefix: DefaultRedisPrefix, SystemID: DefaultRedisSystemID}
		rf := f.key("redis")
		rm, ok := r.mapping(v, rf)
		if !ok {
			rm = nil
		}
		if v, has := get(rm, "url"); !has {
			if ok {
				r.required(rf.key("url"), "for backend redis")
			}
		} else if u, ok := r.nonEmpty(v, rf.key("url")); ok {
			if err := checkRedisURL(u); err != nil {
				r.add(rf.key("url"), "%v", err)
			} else {
				s.Redis.URL = u
			}
		}
		if v, ok := get(rm, "prefix"); ok {
			if p, ok := r.nonEmpty(v, rf.key("prefix")); ok {
				s.Redis.Prefix = p
			}
		}
		if v, ok := get(rm, "system_id"); ok {
			if id, ok := r.nonEmpty(v, rf.key("system_id")); ok {
				s.Redis.SystemID = id
			}
		}
		if v, ok := get(rm, "password_file"); ok {
			if p, ok := r.path(v, rf.key("password_file")); ok {
				s.Redis.PasswordFile = p
			}
		}
	} else if has {
		r.add(f.key("redis"), "only for backend redis")
	}

	if b != BackendRedis {
		for _, k := range redisOnlyKeys {
			if hasKey(m, k) {
				r.add(f.key(k), "only for backend redis (set it in defaults to apply it to every redis store)")
			}
		}
	}
	if !b.IsFile() {
		for _, k := range fileOnlyKeys {
			if hasKey(m, k) {
				r.add(f.key(k), "only for file backends (json, rotating)")
			}
		}
	}
}

// checkRedisURL accepts redis://, rediss:// and unix:// URLs. Its errors never show a
// password the URL carries.
func checkRedisURL(s string) error {
	u, err := url.Parse(s)
	shown := fmt.Sprintf("%q", redactURL(s))
	if err != nil {
		shown = "the redis URL"
	}
	if err != nil || u.Scheme == "" || !strings.Contains(s, "://") {
		return fmt.Errorf("%s is not a URL (want redis://host:port/db, rediss://host:port/db or unix:///path/to/socket)", shown)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			return fmt.Errorf("%s has no host (want %s://host:port/db)", shown, u.Scheme)
		}
	case "unix":
		if u.Path == "" {
			return fmt.Errorf("%s has no socket path (want unix:///path/to/socket)", shown)
		}
	default:
		return fmt.Errorf("%s: scheme %q is not redis, rediss or unix", shown, u.Scheme)
	}
	if q := u.Query(); q.Has("password") || q.Has("username") {
		return fmt.Errorf("%s: user and password go in the URL's user info (redis://user:password@host:port/db) or in redis.password_file, not in parameters", shown)
	}
	return nil
}

// mergeRetention resolves a store's retention: the store's mapping merges
// per key over the defaults section's; "none" in the store clears it all.
func (r *reader) mergeRetention(s *Store, st, def retentionLayer, f field) {
	if st.none || (!st.present && def.none) {
		s.Retention = Retention{None: true, SizeBasis: DefaultSizeBasis}
		return
	}
	base := def
	if def.none {
		base = retentionLayer{}
	}
	s.Retention = Retention{
		MaxAge:        st.maxAge.over(base.maxAge).value(),
		MaxRecords:    st.maxRecords.over(base.maxRecords).value(),
		MaxTotalBytes: st.maxTotalBytes.over(base.maxTotalBytes).value(),
		SizeBasis:     pick(st.sizeBasis, base.sizeBasis, DefaultSizeBasis),
	}
	if !s.Retention.HasLimit() && !st.invalid && !def.invalid {
		r.add(f.key("retention"), `no limit set (max_age, max_records or max_total_bytes); write "retention: none" to keep every record`)
	}
}

// mergeArchive resolves a store's archive: the store's mapping merges per
// key over the defaults section's; "none" in the store turns it off.
func (r *reader) mergeArchive(s *Store, st, def archiveLayer, f field, d *Daemon) {
	if st.none {
		return
	}
	base := def
	if def.none {
		base = archiveLayer{}
	}
	if !st.present && !base.present {
		return
	}
	a := &Archive{
		Dir:      pick(st.dir, base.dir, ""),
		Compress: pick(st.compress, base.compress, DefaultCompress),
		MaxAge:   pick(st.maxAge, base.maxAge, 0),
	}
	if st.invalid || def.invalid {
		return
	}
	if !r.mergeRemote(a, st, base, f.key("archive"), d) {
		return
	}
	if a.Dir == "" {
		r.add(f.key("archive").key("dir"), "required when the store has an archive (or archive.url for an object store)")
		return
	}
	s.Archive = a
}
