package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // time zones below, whatever the host has installed

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/units"
	"github.com/papyrad/papyrad/internal/window"
)

// doc builds a configuration with an absolute state_dir (so that tests do
// not depend on the host) around the given store list and extra sections.
func doc(sections ...string) []byte {
	return []byte("daemon:\n  state_dir: /srv/papyrad\n" + strings.Join(sections, "\n") + "\n")
}

func mustParse(t *testing.T, data []byte, environ ...string) *Config {
	t.Helper()
	c, err := Parse(data, environ)
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror:\n%v", data, err)
	}
	return c
}

func mustStore(t *testing.T, c *Config, name string) *Store {
	t.Helper()
	s, ok := c.Store(name)
	if !ok {
		t.Fatalf("no store %q", name)
	}
	return s
}

// wantProblem checks that one line of err contains every one of want.
func wantProblem(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("error does not match errs.ErrInvalid: %v", err)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		ok := true
		for _, w := range want {
			if !strings.Contains(line, w) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
	}
	t.Fatalf("no problem line contains all of %q; got:\n%v", want, err)
}

func TestSpecExample(t *testing.T) {
	c, err := Load("testdata/spec-example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/spec-example.yaml")
	if c.Path != abs {
		t.Errorf("Path = %q, want %q", c.Path, abs)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	wantDaemon := Daemon{
		StateDir:        "/var/lib/papyrad",
		MetricsListen:   "127.0.0.1:9464",
		Timezone:        "Europe/Berlin",
		Location:        berlin,
		MaxConcurrent:   1,
		ShutdownTimeout: time.Minute,
		Log:             Log{Level: LogInfo, Format: LogJSON},
		ControlSocket:   "/var/lib/papyrad/papyrad.sock",
	}
	if c.Daemon.Location.String() != "Europe/Berlin" {
		t.Errorf("Location = %v", c.Daemon.Location)
	}
	c.Daemon.Location = berlin
	if !reflect.DeepEqual(c.Daemon, wantDaemon) {
		t.Errorf("Daemon = %+v\nwant %+v", c.Daemon, wantDaemon)
	}
	if got := len(c.Stores); got != 3 {
		t.Fatalf("%d stores", got)
	}

	orders := mustStore(t, c, "orders")
	if orders.Backend != BackendJSON || orders.Path != "/var/lib/orders/events.ndjson" {
		t.Errorf("orders: %s %s", orders.Backend, orders.Path)
	}
	if want := (Retention{MaxAge: 7 * units.Day, MaxTotalBytes: 2 << 30, SizeBasis: SizeBasisPapyra}); orders.Retention != want {
		t.Errorf("orders retention = %+v, want %+v (store keys merge over max_age: 30d)", orders.Retention, want)
	}
	if want := (&Archive{Dir: "/var/lib/papyrad/archive", Compress: CompressZstd}); !reflect.DeepEqual(orders.Archive, want) {
		t.Errorf("orders archive = %+v", orders.Archive)
	}
	if !slices.Equal(orders.WindowSpecs, []string{"01:00-05:00"}) || !reflect.DeepEqual(orders.Windows, window.Set{{Start: 60, End: 300}}) {
		t.Errorf("orders windows = %v %v", orders.WindowSpecs, orders.Windows)
	}
	if orders.Schedule != "15 2 * * *" || orders.Cron == nil {
		t.Errorf("orders schedule = %q", orders.Schedule)
	}
	if orders.Traffic != (Traffic{Sample: 30 * time.Second, MaxRecordsPerSecond: 50}) {
		t.Errorf("orders traffic = %+v", orders.Traffic)
	}
	if orders.Disk != (Disk{Reserve: 1 << 30, Factor: 1.1}) {
		t.Errorf("orders disk = %+v", orders.Disk)
	}
	if orders.MaxDeferral != 72*time.Hour || orders.QuarantineDir != "/var/lib/papyrad/quarantine" {
		t.Errorf("orders: max_deferral %v, quarantine %s", orders.MaxDeferral, orders.QuarantineDir)
	}

	edge := mustStore(t, c, "edge")
	if edge.Rotation != (Rotation{MaxFiles: 5, Naming: NamingSuffix}) {
		t.Errorf("edge rotation = %+v", edge.Rotation)
	}
	if want := (Retention{MaxAge: 30 * units.Day, MaxRecords: 1000000, SizeBasis: SizeBasisPapyra}); edge.Retention != want {
		t.Errorf("edge retention = %+v, want %+v", edge.Retention, want)
	}
	if edge.Archive != nil {
		t.Errorf("edge archive = %+v, want none", edge.Archive)
	}

	cluster := mustStore(t, c, "cluster")
	if cluster.Redis != (Redis{URL: "redis://127.0.0.1:6379/0", Prefix: "papyra", SystemID: "local"}) {
		t.Errorf("cluster redis = %+v", cluster.Redis)
	}
	if cluster.Path != "" {
		t.Errorf("cluster path = %q", cluster.Path)
	}
	if len(cluster.Windows) != 0 || cluster.WindowSpecs == nil || len(cluster.WindowSpecs) != 0 {
		t.Errorf("cluster windows = %#v %#v, want explicitly empty", cluster.Windows, cluster.WindowSpecs)
	}
	if cluster.Schedule != "@every 1h" {
		t.Errorf("cluster schedule = %q", cluster.Schedule)
	}
	from := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	if got := cluster.Cron.Next(from); !got.Equal(from.Add(time.Hour)) {
		t.Errorf("cluster next run = %v", got)
	}
	if cluster.ConsumerGroups != ConsumerGroupsAcked || cluster.TrimStep != DefaultTrimStep || cluster.AgeBasis != AgeBasisTimestamp {
		t.Errorf("cluster: %s %d %s", cluster.ConsumerGroups, cluster.TrimStep, cluster.AgeBasis)
	}
}

func TestBuiltinDefaults(t *testing.T) {
	c := mustParse(t, []byte(`
stores:
  - name: s
    backend: json
    path: /srv/s/events.ndjson
    retention: {max_records: 10}
`))
	want := DefaultDaemon()
	if c.Daemon.Location != time.Local {
		t.Errorf("Location = %v, want Local", c.Daemon.Location)
	}
	if !reflect.DeepEqual(c.Daemon, want) {
		t.Errorf("Daemon = %+v\nwant %+v", c.Daemon, want)
	}
	if c.Daemon.ControlSocket != "/var/lib/papyrad/papyrad.sock" || c.Daemon.MetricsListen != "127.0.0.1:9464" || c.Daemon.ShutdownTimeout != 60*time.Second {
		t.Errorf("daemon defaults: %+v", c.Daemon)
	}
	s := mustStore(t, c, "s")
	d := DefaultStore(c.Daemon, "s", BackendJSON)
	d.Path = "/srv/s/events.ndjson"
	d.Retention.MaxRecords = 10
	// Cron schedules are pointers: compare them by their next run.
	from := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	if !s.Cron.Next(from).Equal(d.Cron.Next(from)) {
		t.Errorf("default cron differs")
	}
	if got := s.Cron.Next(from); !got.Equal(time.Date(2024, 6, 2, 2, 15, 0, 0, time.UTC)) {
		t.Errorf("default schedule next = %v", got)
	}
	s.Cron, d.Cron = nil, nil
	d.Windows, d.WindowSpecs = window.Set{}, []string{}
	if !reflect.DeepEqual(*s, d) {
		t.Errorf("store = %+v\nwant   %+v", *s, d)
	}
	checks := map[string]bool{
		"schedule":           s.Schedule == "15 2 * * *",
		"windows":            len(s.Windows) == 0,
		"max_deferral":       s.MaxDeferral == 72*time.Hour,
		"jitter":             s.Jitter == 0,
		"min_interval":       s.MinInterval == time.Minute,
		"traffic":            s.Traffic == Traffic{Sample: 30 * time.Second},
		"disk":               s.Disk == Disk{Reserve: 1 << 30, Factor: 1.1},
		"size_basis":         s.Retention.SizeBasis == SizeBasisPapyra,
		"archive":            s.Archive == nil,
		"quarantine_dir":     s.QuarantineDir == "/var/lib/papyrad/quarantine",
		"partial_line_grace": s.PartialLineGrace == 10*time.Second,
		"drain_timeout":      s.DrainTimeout == 5*time.Second,
		"allow_hard_links":   !s.AllowHardLinks,
		"missing_ok":         !s.MissingOK,
		"consumer_groups":    s.ConsumerGroups == ConsumerGroupsAcked,
		"consumer_group_age": s.ConsumerGroupMaxAge == 7*units.Day,
		"age_basis":          s.AgeBasis == AgeBasisTimestamp,
		"trim_step":          s.TrimStep == 10000,
	}
	for k, ok := range checks {
		if !ok {
			t.Errorf("default %s wrong: %+v", k, s)
		}
	}
}

func TestBackendDefaults(t *testing.T) {
	c := mustParse(t, doc(`
defaults: {retention: none}
stores:
  - {name: r, backend: rotating, path: /srv/r/events.ndjson}
  - {name: q, backend: rotating, path: /srv/q/events.ndjson, rotation: {naming: sequence}}
  - {name: c, backend: redis, redis: {url: "redis://h:6379/0"}}
  - {name: m, backend: memory}
`))
	if r := mustStore(t, c, "r"); r.Rotation != (Rotation{MaxFiles: 5, Naming: NamingSuffix}) {
		t.Errorf("rotation defaults = %+v", r.Rotation)
	}
	if q := mustStore(t, c, "q"); q.Rotation != (Rotation{MaxFiles: 5, Naming: NamingSequence}) {
		t.Errorf("rotation = %+v", q.Rotation)
	}
	if r := mustStore(t, c, "c"); r.Redis != (Redis{URL: "redis://h:6379/0", Prefix: "papyra", SystemID: "local"}) {
		t.Errorf("redis defaults = %+v", r.Redis)
	}
	if m := mustStore(t, c, "m"); m.Path != "" || m.Rotation != (Rotation{}) || m.Redis != (Redis{}) || !m.Retention.None {
		t.Errorf("memory store = %+v", m)
	}
	if c.Stores[0].QuarantineDir != "/srv/papyrad/quarantine" {
		t.Errorf("quarantine under state_dir: %s", c.Stores[0].QuarantineDir)
	}
}

func TestMerge(t *testing.T) {
	c := mustParse(t, doc(`
defaults:
  schedule: "0 3 * * *"
  windows: ["01:00-05:00", "22:00-23:00"]
  jitter: 5m
  traffic: {sample: 30s, max_records_per_second: 50, max_bytes_per_second: 10MiB/s}
  disk: {reserve: 2GiB, factor: 1.5}
  retention: {max_age: 30d, max_records: 1000, size_basis: stored}
  archive: {dir: /srv/archive, compress: gzip, max_age: 90d}
  quarantine_dir: /srv/quarantine
  consumer_groups: delivered
  trim_step: 500
stores:
  - name: inherit
    backend: json
    path: /srv/a/events.ndjson
  - name: override
    backend: json
    path: /srv/b/events.ndjson
    schedule: "@daily"
    windows: ["02:00-03:00"]
    jitter: 0
    traffic: {sample: 10s}
    disk: {factor: 2}
    retention: {max_age: 7d}
    archive: {compress: none}
  - name: anytime
    backend: json
    path: /srv/c/events.ndjson
    windows: []
    retention: none
    archive: none
  - name: nullwindows
    backend: json
    path: /srv/d/events.ndjson
    windows: ~
    retention: {max_age: none, max_total_bytes: 1GB}
  - name: cluster
    backend: redis
    redis: {url: "redis://h/0"}
    consumer_groups: acked
`))
	inherit := mustStore(t, c, "inherit")
	if inherit.Schedule != "0 3 * * *" || !slices.Equal(inherit.WindowSpecs, []string{"01:00-05:00", "22:00-23:00"}) || inherit.Jitter != 5*time.Minute {
		t.Errorf("inherit: %q %v %v", inherit.Schedule, inherit.WindowSpecs, inherit.Jitter)
	}
	if inherit.Traffic != (Traffic{Sample: 30 * time.Second, MaxRecordsPerSecond: 50, MaxBytesPerSecond: 10 << 20}) {
		t.Errorf("inherit traffic = %+v", inherit.Traffic)
	}
	if inherit.Retention != (Retention{MaxAge: 30 * units.Day, MaxRecords: 1000, SizeBasis: SizeBasisStored}) {
		t.Errorf("inherit retention = %+v", inherit.Retention)
	}
	if !reflect.DeepEqual(inherit.Archive, &Archive{Dir: "/srv/archive", Compress: CompressGzip, MaxAge: 90 * units.Day}) {
		t.Errorf("inherit archive = %+v", inherit.Archive)
	}
	if inherit.QuarantineDir != "/srv/quarantine" {
		t.Errorf("inherit quarantine = %s", inherit.QuarantineDir)
	}

	o := mustStore(t, c, "override")
	if o.Schedule != "@daily" || !slices.Equal(o.WindowSpecs, []string{"02:00-03:00"}) || o.Jitter != 0 {
		t.Errorf("override: %q %v %v", o.Schedule, o.WindowSpecs, o.Jitter)
	}
	if o.Traffic != (Traffic{Sample: 10 * time.Second, MaxRecordsPerSecond: 50, MaxBytesPerSecond: 10 << 20}) {
		t.Errorf("nested maps merge per key: traffic = %+v", o.Traffic)
	}
	if o.Disk != (Disk{Reserve: 2 << 30, Factor: 2}) {
		t.Errorf("disk = %+v", o.Disk)
	}
	if o.Retention != (Retention{MaxAge: 7 * units.Day, MaxRecords: 1000, SizeBasis: SizeBasisStored}) {
		t.Errorf("retention merges per key: %+v", o.Retention)
	}
	if !reflect.DeepEqual(o.Archive, &Archive{Dir: "/srv/archive", Compress: CompressNone, MaxAge: 90 * units.Day}) {
		t.Errorf("archive merges per key: %+v", o.Archive)
	}

	a := mustStore(t, c, "anytime")
	if len(a.Windows) != 0 || len(a.WindowSpecs) != 0 {
		t.Errorf("windows: [] must override the default list: %v", a.WindowSpecs)
	}
	if !a.Retention.None || a.Retention.HasLimit() {
		t.Errorf("retention: none must clear the defaults: %+v", a.Retention)
	}
	if a.Archive != nil {
		t.Errorf("archive: none must clear the default archive: %+v", a.Archive)
	}

	n := mustStore(t, c, "nullwindows")
	if len(n.WindowSpecs) != 2 {
		t.Errorf("windows: ~ must inherit: %v", n.WindowSpecs)
	}
	if n.Retention != (Retention{MaxRecords: 1000, MaxTotalBytes: 1e9, SizeBasis: SizeBasisStored}) {
		t.Errorf("max_age: none clears one limit: %+v", n.Retention)
	}

	cl := mustStore(t, c, "cluster")
	if cl.ConsumerGroups != ConsumerGroupsAcked || cl.TrimStep != 500 {
		t.Errorf("cluster: %s %d", cl.ConsumerGroups, cl.TrimStep)
	}
	if inherit.ConsumerGroups != ConsumerGroupsDelivered {
		t.Errorf("redis-only settings in defaults apply to every store: %s", inherit.ConsumerGroups)
	}
}

func TestRetentionNoneInDefaults(t *testing.T) {
	c := mustParse(t, doc(`
defaults: {retention: none}
stores:
  - {name: keep, backend: json, path: /srv/a/x.ndjson}
  - {name: limited, backend: json, path: /srv/b/x.ndjson, retention: {max_records: 5}}
`))
	if !mustStore(t, c, "keep").Retention.None {
		t.Error("store without retention inherits none")
	}
	if r := mustStore(t, c, "limited").Retention; r.None || r.MaxRecords != 5 {
		t.Errorf("a store's mapping replaces a default none: %+v", r)
	}
	_, err := Parse(doc(`
defaults: {retention: none}
stores:
  - {name: basis, backend: json, path: /srv/a/x.ndjson, retention: {size_basis: stored}}
`), nil)
	wantProblem(t, err, "stores[0] (basis): retention: no limit set")
}

func TestEnvironment(t *testing.T) {
	c := mustParse(t, doc(`
  timezone: UTC
  max_concurrent: 2
  log: {level: info}
stores:
  - {name: s, backend: json, path: /srv/s/x.ndjson, retention: none}
`),
		"HOME=/root",
		"PAPYRAD_STATE_DIR=/srv/state",
		"PAPYRAD_METRICS_LISTEN=",
		"PAPYRAD_TIMEZONE=America/New_York",
		"PAPYRAD_MAX_CONCURRENT=4",
		"PAPYRAD_SHUTDOWN_TIMEOUT=2m",
		"PAPYRAD_LOG_LEVEL=debug",
		"PAPYRAD_LOG_FORMAT=console",
	)
	d := c.Daemon
	if d.StateDir != "/srv/state" || d.MetricsListen != "" || d.Timezone != "America/New_York" || d.MaxConcurrent != 4 ||
		d.ShutdownTimeout != 2*time.Minute || d.Log != (Log{Level: LogDebug, Format: LogConsole}) {
		t.Errorf("environment must win over the file: %+v", d)
	}
	if d.ControlSocket != "/srv/state/papyrad.sock" {
		t.Errorf("control socket follows the overridden state_dir: %s", d.ControlSocket)
	}
	if s := mustStore(t, c, "s"); s.QuarantineDir != "/srv/state/quarantine" {
		t.Errorf("quarantine follows the overridden state_dir: %s", s.QuarantineDir)
	}
	c = mustParse(t, doc(`stores: [{name: s, backend: memory, retention: none}]`), "PAPYRAD_CONTROL_SOCKET=/run/papyrad.sock")
	if c.Daemon.ControlSocket != "/run/papyrad.sock" {
		t.Errorf("control socket = %s", c.Daemon.ControlSocket)
	}
	// PAPYRAD_CONFIG names the file the commands read: known, and no setting.
	mustParse(t, doc(`stores: [{name: s, backend: memory, retention: none}]`), EnvConfig+"=/etc/elsewhere.yaml")
	wd, _ := os.Getwd()
	c = mustParse(t, doc(`stores: [{name: s, backend: memory, retention: none}]`), "PAPYRAD_STATE_DIR=rel/state")
	if want := filepath.Join(wd, "rel/state"); c.Daemon.StateDir != want {
		t.Errorf("relative state_dir from the environment = %s, want %s", c.Daemon.StateDir, want)
	}

	tests := []struct {
		env  string
		want []string
	}{
		{"PAPYRAD_STATEDIR=/x", []string{"PAPYRAD_STATEDIR: unknown environment variable (did you mean PAPYRAD_STATE_DIR?)"}},
		{"PAPYRAD_CONFIGURATION=/x", []string{"PAPYRAD_CONFIGURATION: unknown environment variable (known: PAPYRAD_CONTROL_SOCKET,"}},
		{"PAPYRAD_MAX_CONCURRENT=0", []string{"daemon.max_concurrent (from PAPYRAD_MAX_CONCURRENT): must be at least 1, not 0"}},
		{"PAPYRAD_MAX_CONCURRENT=two", []string{"daemon.max_concurrent (from PAPYRAD_MAX_CONCURRENT): must be a whole number"}},
		{"PAPYRAD_SHUTDOWN_TIMEOUT=60", []string{`daemon.shutdown_timeout (from PAPYRAD_SHUTDOWN_TIMEOUT): invalid duration "60": missing unit`}},
		{"PAPYRAD_TIMEZONE=Mars/Olympus", []string{"daemon.timezone (from PAPYRAD_TIMEZONE)", `unknown time zone "Mars/Olympus"`}},
		{"PAPYRAD_LOG_LEVEL=loud", []string{"daemon.log.level (from PAPYRAD_LOG_LEVEL)", `"loud" is not one of debug, info, warn, error`}},
		{"PAPYRAD_STATE_DIR=", []string{"daemon.state_dir (from PAPYRAD_STATE_DIR): must not be empty"}},
		{"PAPYRAD_METRICS_LISTEN=9464", []string{"daemon.metrics_listen (from PAPYRAD_METRICS_LISTEN)", "is not host:port"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, err := Parse(doc(`stores: [{name: s, backend: memory, retention: none}]`), []string{tt.env})
			wantProblem(t, err, tt.want...)
			var e *Error
			if errors.As(err, &e) && e.Line != 0 {
				t.Errorf("an environment problem has no line: %+v", e)
			}
		})
	}
}

func TestRelativePaths(t *testing.T) {
	c, err := Load("testdata/relative.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	local := mustStore(t, c, "local")
	cache := mustStore(t, c, "cache")
	got := map[string]string{
		"state_dir":      c.Daemon.StateDir,
		"control_socket": c.Daemon.ControlSocket,
		"path":           local.Path,
		"archive.dir":    local.Archive.Dir,
		"quarantine_dir": local.QuarantineDir,
		"password_file":  cache.Redis.PasswordFile,
	}
	want := map[string]string{
		"state_dir":      filepath.Join(dir, "state"),
		"control_socket": filepath.Join(dir, "state", "papyrad.sock"),
		"path":           filepath.Join(dir, "data", "events.ndjson"),
		"archive.dir":    filepath.Join(dir, "archive"),
		"quarantine_dir": filepath.Join(filepath.Dir(dir), "quarantine"),
		"password_file":  filepath.Join(dir, "secrets", "redis.pass"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %v\nwant %v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", nil)
	if err == nil || errors.Is(err, errs.ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}

	_, err = Load("testdata/errors.yaml", nil)
	if err == nil {
		t.Fatal("no error")
	}
	abs, _ := filepath.Abs("testdata/errors.yaml")
	want := []string{
		abs + `:1: unknown key "deamon" (did you mean "daemon"?)`,
		abs + `:13: stores[1] (edge): unknown key "rotaton" (did you mean "rotation"?)`,
		abs + `:16: stores[2] (cluster): redis.url: required for backend redis`,
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Fatalf("errors:\n%s\nwant (all of them, in file order):\n%s", err, strings.Join(want, "\n"))
	}
	var list []*Error
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not an *Error", e)
		}
		list = append(list, ce)
	}
	if list[2].Field != "stores[2] (cluster): redis.url" || list[2].Line != 16 || list[2].File != abs || list[2].Msg != "required for backend redis" {
		t.Errorf("structured error = %+v", list[2])
	}
}

// TestProblems checks one message per rule. Each case names the store and
// field that must appear in the message.
func TestProblems(t *testing.T) {
	const okStore = "  - {name: ok, backend: json, path: /srv/ok/x.ndjson, retention: none}\n"
	tests := []struct {
		name string
		yaml string // whole document unless it starts with "stores:" or "defaults:"
		want []string
	}{
		// The document.
		{"yaml syntax", "stores: [", []string{"invalid YAML"}},
		{"two documents", "stores: []\n---\nstores: []\n", []string{"more than one YAML document"}},
		{"not a mapping", "- a\n- b\n", []string{"the document must be a mapping"}},
		{"unknown top-level key", "deamon: {}\nstores:\n" + okStore, []string{`line 1: unknown key "deamon" (did you mean "daemon"?)`}},
		{"daemon key at top level", "state_dir: /x\nstores:\n" + okStore, []string{`unknown key "state_dir" (did you mean "daemon.state_dir"?)`}},
		{"store key at top level", "backend: json\nstores:\n" + okStore, []string{`unknown key "backend" (store settings go in a store`}},
		{"no stores", "daemon: {}\n", []string{"stores: at least one store is required"}},
		{"empty stores", "stores: []\n", []string{"stores: at least one store is required"}},
		{"stores not a list", "stores: {a: 1}\n", []string{"stores: must be a list of stores, not a mapping"}},
		{"store not a mapping", "stores: [json]\n", []string{`stores[0]: must be a mapping`}},

		// daemon.
		{"daemon not a mapping", "daemon: 5\nstores:\n" + okStore, []string{"daemon: must be a mapping"}},
		{"daemon unknown key", "daemon: {state_dri: /x}\nstores:\n" + okStore, []string{`daemon: unknown key "state_dri" (did you mean "state_dir"?)`}},
		{"daemon nested unknown", "daemon: {log: {levle: info}}\nstores:\n" + okStore, []string{`daemon.log: unknown key "levle" (did you mean "level"?)`}},
		{"daemon misplaced level", "daemon: {level: info}\nstores:\n" + okStore, []string{`daemon: unknown key "level" (did you mean "log.level"?)`}},
		{"state_dir empty", "daemon: {state_dir: ''}\nstores:\n" + okStore, []string{"daemon.state_dir: must not be empty"}},
		{"metrics_listen", "daemon: {metrics_listen: localhost}\nstores:\n" + okStore, []string{`daemon.metrics_listen: "localhost" is not host:port`}},
		{"metrics port", "daemon: {metrics_listen: 'localhost:http'}\nstores:\n" + okStore, []string{`daemon.metrics_listen: "localhost:http": port "http" is not a number`}},
		{"timezone", "daemon: {timezone: Mars/Olympus}\nstores:\n" + okStore, []string{`daemon.timezone: unknown time zone "Mars/Olympus"`}},
		{"timezone empty", "daemon: {timezone: ''}\nstores:\n" + okStore, []string{"daemon.timezone: must not be empty"}},
		{"max_concurrent 0", "daemon: {max_concurrent: 0}\nstores:\n" + okStore, []string{"daemon.max_concurrent: must be at least 1, not 0"}},
		{"max_concurrent fraction", "daemon: {max_concurrent: 1.5}\nstores:\n" + okStore, []string{"daemon.max_concurrent: must be a whole number, not 1.5"}},
		{"shutdown_timeout unit", "daemon: {shutdown_timeout: 60}\nstores:\n" + okStore, []string{"daemon.shutdown_timeout: 60 has no unit"}},
		{"shutdown_timeout zero", "daemon: {shutdown_timeout: 0s}\nstores:\n" + okStore, []string{"daemon.shutdown_timeout: must be greater than 0"}},
		{"log level", "daemon: {log: {level: verbose}}\nstores:\n" + okStore, []string{`daemon.log.level: "verbose" is not one of debug, info, warn, error`}},
		{"log format", "daemon: {log: {format: text}}\nstores:\n" + okStore, []string{`daemon.log.format: "text" is not one of json, console`}},
		{"socket too long", "daemon: {state_dir: /" + strings.Repeat("d", 100) + "}\nstores:\n" + okStore, []string{"daemon.state_dir: control socket path", "more than a unix socket allows"}},

		// defaults.
		{"defaults store-only key", "defaults: {path: /x}\nstores:\n" + okStore, []string{`defaults: unknown key "path" (path can only be set per store)`}},
		{"defaults schedule", "defaults: {schedule: '61 * * * *'}\nstores:\n" + okStore, []string{"defaults.schedule: invalid schedule", "above maximum"}},
		{"defaults window", "defaults: {windows: ['25:00-02:00']}\nstores:\n" + okStore, []string{`defaults.windows[0]: window "25:00-02:00": hour 25 out of range`}},
		{"defaults sample", "defaults: {traffic: {sample: 0s}}\nstores:\n" + okStore, []string{"defaults.traffic.sample: must be greater than 0"}},
		{"defaults factor", "defaults: {disk: {factor: 0.9}}\nstores:\n" + okStore, []string{"defaults.disk.factor: must be at least 1, not 0.9"}},
		{"defaults max_records", "defaults: {retention: {max_records: 0}}\nstores:\n" + okStore, []string{"defaults.retention.max_records: must be at least 1, not 0"}},
		{"defaults unknown nested", "defaults: {traffic: {max_record_per_second: 5}}\nstores:\n" + okStore, []string{`defaults.traffic: unknown key "max_record_per_second" (did you mean "max_records_per_second"?)`}},

		// Store identity.
		{"name missing", "stores:\n  - {backend: memory, retention: none}\n", []string{"stores[0]: name: required"}},
		{"name invalid", "stores:\n  - {name: 'my store', backend: memory, retention: none}\n", []string{`stores[0]: name: "my store" may only contain letters`}},
		{"name dotdot", "stores:\n  - {name: '..', backend: memory, retention: none}\n", []string{`stores[0]: name: ".." may only contain`}},
		{"name duplicate", "stores:\n" + okStore + okStore, []string{`stores[1] (ok): name: "ok" is already the name of stores[0] (ok)`}},
		{"backend missing", "stores:\n  - {name: a, retention: none}\n", []string{"stores[0] (a): backend: required"}},
		{"backend unknown", "stores:\n  - {name: a, backend: jsonl, retention: none}\n", []string{`stores[0] (a): backend: "jsonl" is not one of json, rotating, redis, memory (did you mean "json"?)`}},
		{"unknown store key", "stores:\n  - {name: edge, backend: rotating, path: /srv/e/x, retention: none, rotaton: {}}\n", []string{`stores[0] (edge): unknown key "rotaton" (did you mean "rotation"?)`}},
		{"misplaced limit", "stores:\n  - {name: a, backend: memory, retention: none, max_records: 5}\n", []string{`stores[0] (a): unknown key "max_records" (did you mean "retention.max_records"?)`}},
		{"misplaced url", "stores:\n  - {name: a, backend: redis, retention: none, url: 'redis://h'}\n", []string{`stores[0] (a): unknown key "url" (did you mean "archive.url" or "redis.url"?)`}},
		{"nested unknown", "stores:\n  - {name: a, backend: memory, retention: {max_agee: 7d}}\n", []string{`stores[0] (a): retention: unknown key "max_agee" (did you mean "max_age"?)`}},

		// Backend-specific keys.
		{"path missing", "stores:\n  - {name: a, backend: json, retention: none}\n", []string{"stores[0] (a): path: required for backend json"}},
		{"path on redis", "stores:\n  - {name: c, backend: redis, path: /x, redis: {url: 'redis://h'}, retention: none}\n", []string{"stores[0] (c): path: not used by backend redis"}},
		{"path on memory", "stores:\n  - {name: m, backend: memory, path: /x, retention: none}\n", []string{"stores[0] (m): path: not used by backend memory"}},
		{"rotation on json", "stores:\n  - {name: a, backend: json, path: /srv/x, rotation: {max_files: 3}, retention: none}\n", []string{"stores[0] (a): rotation: only for backend rotating"}},
		{"redis on json", "stores:\n  - {name: a, backend: json, path: /srv/x, redis: {url: 'redis://h'}, retention: none}\n", []string{"stores[0] (a): redis: only for backend redis"}},
		{"max_files", "stores:\n  - {name: edge, backend: rotating, path: /srv/x, rotation: {max_files: 1}, retention: none}\n", []string{"stores[0] (edge): rotation.max_files: must be at least 2, not 1"}},
		{"naming", "stores:\n  - {name: edge, backend: rotating, path: /srv/x, rotation: {naming: numbered}, retention: none}\n", []string{`stores[0] (edge): rotation.naming: "numbered" is not one of suffix, sequence`}},
		{"redis url missing", "stores:\n  - {name: cluster, backend: redis, redis: {prefix: p}, retention: none}\n", []string{"stores[0] (cluster): redis.url: required for backend redis"}},
		{"redis section missing", "stores:\n  - {name: cluster, backend: redis, retention: none}\n", []string{"stores[0] (cluster): redis.url: required for backend redis"}},
		{"redis url scheme", "stores:\n  - {name: cluster, backend: redis, redis: {url: 'http://h'}, retention: none}\n", []string{`stores[0] (cluster): redis.url: "http://h": scheme "http" is not redis, rediss or unix`}},
		{"redis url bare", "stores:\n  - {name: cluster, backend: redis, redis: {url: 'localhost'}, retention: none}\n", []string{`stores[0] (cluster): redis.url: "localhost" is not a URL`}},
		{"redis url host:port", "stores:\n  - {name: cluster, backend: redis, redis: {url: 'localhost:6379'}, retention: none}\n", []string{`stores[0] (cluster): redis.url: "localhost:6379" is not a URL (want redis://host:port/db`}},
		{"redis url unix", "stores:\n  - {name: cluster, backend: redis, redis: {url: 'unix://'}, retention: none}\n", []string{`stores[0] (cluster): redis.url: "unix://" has no socket path`}},
		{"redis prefix empty", "stores:\n  - {name: cluster, backend: redis, redis: {url: 'redis://h', prefix: ''}, retention: none}\n", []string{"stores[0] (cluster): redis.prefix: must not be empty"}},
		{"trim_step on json", "stores:\n  - {name: a, backend: json, path: /srv/x, trim_step: 5, retention: none}\n", []string{"stores[0] (a): trim_step: only for backend redis"}},
		{"consumer_groups on rotating", "stores:\n  - {name: a, backend: rotating, path: /srv/x, consumer_groups: acked, retention: none}\n", []string{"stores[0] (a): consumer_groups: only for backend redis"}},
		{"drain_timeout on redis", "stores:\n  - {name: c, backend: redis, redis: {url: 'redis://h'}, drain_timeout: 1s, retention: none}\n", []string{"stores[0] (c): drain_timeout: only for file backends (json, rotating)"}},
		{"allow_hard_links on redis", "stores:\n  - {name: c, backend: redis, redis: {url: 'redis://h'}, allow_hard_links: true, retention: none}\n", []string{"stores[0] (c): allow_hard_links: only for file backends (json, rotating)"}},
		{"allow_hard_links type", "stores:\n  - {name: a, backend: json, path: /srv/x, allow_hard_links: 1, retention: none}\n", []string{"stores[0] (a): allow_hard_links: must be true or false, not "}},
		{"allow_hard_links in defaults", "defaults:\n  allow_hard_links: true\nstores:\n  - {name: a, backend: json, path: /srv/x, retention: none}\n", []string{"defaults: unknown key \"allow_hard_links\""}},
		{"missing_ok on redis", "stores:\n  - {name: c, backend: redis, redis: {url: 'redis://h'}, missing_ok: true, retention: none}\n", []string{"stores[0] (c): missing_ok: only for file backends (json, rotating)"}},
		{"missing_ok type", "stores:\n  - {name: a, backend: json, path: /srv/x, missing_ok: yes please, retention: none}\n", []string{"stores[0] (a): missing_ok: must be true or false, not "}},
		{"missing_ok in defaults", "defaults:\n  missing_ok: true\nstores:\n  - {name: a, backend: json, path: /srv/x, retention: none}\n", []string{"defaults: unknown key \"missing_ok\" (missing_ok can only be set per store)"}},

		// Store conflicts.
		{"same path", "stores:\n  - {name: a, backend: json, path: /srv/x/events.ndjson, retention: none}\n  - {name: b, backend: rotating, path: /srv/x/../x/events.ndjson/, retention: none}\n", []string{"stores[1] (b): path: /srv/x/events.ndjson is also the path of stores[0] (a)"}},
		{"rotated segment", "stores:\n  - {name: a, backend: rotating, path: /srv/x/events.ndjson, retention: none}\n  - {name: b, backend: json, path: /srv/x/events.ndjson.2, retention: none}\n", []string{"stores[1] (b): path: /srv/x/events.ndjson.2 is a rotated segment of stores[0] (a)"}},
		{"inside state_dir", "stores:\n  - {name: a, backend: json, path: /srv/papyrad/events.ndjson, retention: none}\n", []string{"stores[0] (a): path: /srv/papyrad/events.ndjson is inside daemon.state_dir (/srv/papyrad)"}},
		{"same streams", "stores:\n  - {name: a, backend: redis, redis: {url: 'redis://h/0'}, retention: none}\n  - {name: b, backend: redis, redis: {url: 'redis://h/0', prefix: papyra}, retention: none}\n", []string{"stores[1] (b): redis: same streams as stores[0] (a)"}},

		// Store settings.
		{"retention missing", "stores:\n  - {name: orders, backend: json, path: /srv/o/x}\n", []string{`stores[0] (orders): retention: no limit set (max_age, max_records or max_total_bytes); write "retention: none" to keep every record`}},
		{"retention empty", "stores:\n  - {name: orders, backend: json, path: /srv/o/x, retention: {}}\n", []string{`stores[0] (orders): retention: no limit set`}},
		{"retention word", "stores:\n  - {name: a, backend: memory, retention: forever}\n", []string{`stores[0] (a): retention: must be a mapping (max_age, max_records, max_total_bytes, size_basis) or "none"`}},
		{"retention max_age", "stores:\n  - {name: a, backend: memory, retention: {max_age: 7x}}\n", []string{`stores[0] (a): retention.max_age: invalid duration "7x": unknown unit "x" (use ms, s, m, h, d, w)`}},
		{"retention max_age zero", "stores:\n  - {name: a, backend: memory, retention: {max_age: 0s}}\n", []string{`stores[0] (a): retention.max_age: must be greater than 0`}},
		{"retention bytes zero", "stores:\n  - {name: a, backend: memory, retention: {max_total_bytes: 0}}\n", []string{`stores[0] (a): retention.max_total_bytes: must be at least 1 byte`}},
		{"retention bytes unit", "stores:\n  - {name: a, backend: memory, retention: {max_total_bytes: 2gb}}\n", []string{`stores[0] (a): retention.max_total_bytes: invalid size "2gb": unknown unit "gb" (did you mean "GB"?)`}},
		{"retention basis", "stores:\n  - {name: a, backend: memory, retention: {max_records: 1, size_basis: repr}}\n", []string{`stores[0] (a): retention.size_basis: "repr" is not one of papyra, stored`}},
		{"archive dir", "stores:\n  - {name: a, backend: json, path: /srv/x, retention: none, archive: {compress: gzip}}\n", []string{"stores[0] (a): archive.dir: required when the store has an archive"}},
		{"archive compress", "stores:\n  - {name: a, backend: json, path: /srv/x, retention: none, archive: {dir: /a, compress: lz4}}\n", []string{`stores[0] (a): archive.compress: "lz4" is not one of zstd, gzip, none`}},
		{"archive word", "stores:\n  - {name: a, backend: json, path: /srv/x, retention: none, archive: yes}\n", []string{`stores[0] (a): archive: must be a mapping (dir or url, compress, max_age, ...) or "none"`}},
		{"schedule", "stores:\n  - {name: a, backend: memory, retention: none, schedule: 'every day'}\n", []string{`stores[0] (a): schedule: invalid schedule "every day"`}},
		{"schedule never", "stores:\n  - {name: a, backend: memory, retention: none, schedule: '0 0 30 2 *'}\n", []string{`stores[0] (a): schedule: invalid schedule "0 0 30 2 *": never fires`}},
		{"windows not a list", "stores:\n  - {name: a, backend: memory, retention: none, windows: '01:00-05:00'}\n", []string{`stores[0] (a): windows: must be a list of windows`}},
		{"window bad", "stores:\n  - {name: a, backend: memory, retention: none, windows: ['01:00-05:00', '1-5']}\n", []string{`stores[0] (a): windows[1]: window "1-5"`}},
		{"max_deferral zero", "stores:\n  - {name: a, backend: memory, retention: none, max_deferral: 0}\n", []string{`stores[0] (a): max_deferral: must be greater than 0`}},
		{"jitter negative", "stores:\n  - {name: a, backend: memory, retention: none, jitter: -1s}\n", []string{`stores[0] (a): jitter: must not be negative, not -1s`}},
		{"min_interval type", "stores:\n  - {name: a, backend: memory, retention: none, min_interval: [1m]}\n", []string{`stores[0] (a): min_interval: must be a duration such as 90s, 12h or 7d, not a list`}},
		{"traffic type", "stores:\n  - {name: a, backend: memory, retention: none, traffic: 5}\n", []string{`stores[0] (a): traffic: must be a mapping`}},
		{"traffic rate", "stores:\n  - {name: a, backend: memory, retention: none, traffic: {max_records_per_second: -1}}\n", []string{`stores[0] (a): traffic.max_records_per_second: must be at least 0, not -1`}},
		{"traffic rate nan", "stores:\n  - {name: a, backend: memory, retention: none, traffic: {max_records_per_second: .nan}}\n", []string{`stores[0] (a): traffic.max_records_per_second: must be a finite number`}},
		{"traffic bytes", "stores:\n  - {name: a, backend: memory, retention: none, traffic: {max_bytes_per_second: 10M}}\n", []string{`stores[0] (a): traffic.max_bytes_per_second: invalid size "10M"`, "ambiguous"}},
		{"disk reserve", "stores:\n  - {name: a, backend: memory, retention: none, disk: {reserve: -5}}\n", []string{`stores[0] (a): disk.reserve: must not be negative`}},
		{"consumer_groups", "stores:\n  - {name: c, backend: redis, redis: {url: 'redis://h'}, retention: none, consumer_groups: acknowledged}\n", []string{`stores[0] (c): consumer_groups: "acknowledged" is not one of ignore, delivered, acked`}},
		{"age_basis", "stores:\n  - {name: c, backend: redis, redis: {url: 'redis://h'}, retention: none, age_basis: time}\n", []string{`stores[0] (c): age_basis: "time" is not one of timestamp, id`}},
		{"trim_step", "stores:\n  - {name: c, backend: redis, redis: {url: 'redis://h'}, retention: none, trim_step: 0}\n", []string{`stores[0] (c): trim_step: must be at least 1, not 0`}},
		{"quarantine_dir", "stores:\n  - {name: a, backend: memory, retention: none, quarantine_dir: ''}\n", []string{`stores[0] (a): quarantine_dir: must not be empty`}},
		{"boolean name", "stores:\n  - {name: true, backend: memory, retention: none}\n", []string{`stores[0]: name: must be a string, not true (a boolean) (quote it)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.yaml)
			if strings.HasPrefix(tt.yaml, "stores:") || strings.HasPrefix(tt.yaml, "defaults:") {
				data = doc(tt.yaml)
			}
			_, err := Parse(data, nil)
			wantProblem(t, err, tt.want...)
		})
	}
}

func TestAllProblemsInOrder(t *testing.T) {
	_, err := Parse([]byte(`daemon:
  max_concurrent: 0
stores:
  - name: a
    backend: json
    path: /srv/a/x
    retention: {max_age: 7x}
    rotation: {}
  - name: b
    backend: redis
    retention: none
    windows: ["25:00-01:00"]
`), []string{"PAPYRAD_NOPE=1"})
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"PAPYRAD_NOPE: unknown environment variable",
		"line 2: daemon.max_concurrent: must be at least 1",
		"line 7: stores[0] (a): retention.max_age: invalid duration",
		"line 8: stores[0] (a): rotation: only for backend rotating",
		"line 9: stores[1] (b): redis.url: required for backend redis", // no redis key: the store's line
		"line 12: stores[1] (b): windows[0]: window \"25:00-01:00\": hour 25 out of range",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
}

func TestNoSecondaryProblems(t *testing.T) {
	// A bad limit must not also report "no limit set"; a bad archive
	// setting must not also report a missing dir.
	_, err := Parse(doc(`stores:
  - {name: a, backend: json, path: /srv/x, retention: {max_age: 7x}, archive: {dir: '', compress: zstd}}
`), nil)
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Fatalf("want 2 problems, got %d:\n%v", n, err)
	}
}

func TestSchedules(t *testing.T) {
	good := []string{
		"15 2 * * *",
		"0 15 2 * * *",
		"*/5 * * * *",
		"0 2 * * MON-FRI",
		"@daily",
		"@every 6h",
		"@every 1d",
		"@every 1w2d",
		"@every 90s",
		"CRON_TZ=Europe/Berlin 15 2 * * *",
		"TZ=UTC @hourly",
		"CRON_TZ=America/New_York @every 2h",
		"0 0 29 2 *",
	}
	for _, spec := range good {
		if _, err := parseSchedule(spec); err != nil {
			t.Errorf("parseSchedule(%q): %v", spec, err)
		}
	}
	bad := map[string]string{
		"":                            "empty",
		"* * *":                       "expected 5 to 6 fields",
		"61 * * * *":                  "above maximum",
		"@fortnightly":                "unrecognized descriptor",
		"@every":                      "@every: invalid duration",
		"@every 7x":                   `@every: invalid duration " 7x": unknown unit "x"`,
		"@every 500ms":                "at least 1s",
		"@every 1.5s":                 "whole number of seconds",
		"@every -1h":                  "at least 1s",
		"TZ=Europe/Berlin":            "nothing after TZ=Europe/Berlin",
		"CRON_TZ=":                    "nothing after CRON_TZ=",
		"CRON_TZ= 1 * * * *":          "empty time zone",
		"CRON_TZ=Mars/Base * * * * *": `unknown time zone "Mars/Base"`,
		"0 0 31 4 *":                  "never fires",
		"*/0 * * * *":                 "step of range should be a positive number",
	}
	for spec, want := range bad {
		_, err := parseSchedule(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSchedule(%q) = %v, want error containing %q", spec, err, want)
		}
	}
	// Every 1d is a constant delay of 24h.
	s, _ := parseSchedule("@every 1d")
	from := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	if got := s.Next(from); !got.Equal(from.Add(24 * time.Hour)) {
		t.Errorf("@every 1d next = %v", got)
	}
}

func TestEffectiveRoundTrip(t *testing.T) {
	for _, file := range []string{"testdata/spec-example.yaml", "testdata/relative.yaml"} {
		t.Run(file, func(t *testing.T) {
			c, err := Load(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Effective()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out, nil)
			if err != nil {
				t.Fatalf("effective config does not parse:\n%s\n%v", out, err)
			}
			back.Path = c.Path
			if !sameConfig(c, back) {
				t.Fatalf("round trip differs:\n%s", out)
			}
			again, _ := back.Effective()
			if string(again) != string(out) {
				t.Fatalf("Effective is not stable:\n%s\n---\n%s", out, again)
			}
		})
	}
}

// sameConfig compares configurations, cron schedules by their next runs
// and zones by name.
func sameConfig(a, b *Config) bool {
	a, b = clone(a), clone(b)
	if a.Daemon.Location.String() != b.Daemon.Location.String() || len(a.Stores) != len(b.Stores) {
		return false
	}
	a.Daemon.Location, b.Daemon.Location = nil, nil
	from := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	for i := range a.Stores {
		a.Stores[i].Redis.URL = redactURL(a.Stores[i].Redis.URL)
		b.Stores[i].Redis.URL = redactURL(b.Stores[i].Redis.URL)
		if !a.Stores[i].Cron.Next(from).Equal(b.Stores[i].Cron.Next(from)) {
			return false
		}
		a.Stores[i].Cron, b.Stores[i].Cron = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func clone(c *Config) *Config {
	out := *c
	out.Stores = slices.Clone(c.Stores)
	return &out
}

func TestEffectiveFormat(t *testing.T) {
	c := mustParse(t, doc(`
defaults:
  disk: {reserve: 1536MiB}
  traffic: {max_bytes_per_second: 0}
stores:
  - name: keep
    backend: json
    path: /srv/k/x.ndjson
    retention: none
  - name: linked
    backend: rotating
    path: /srv/l/x.ndjson
    allow_hard_links: true
    missing_ok: true
    retention: none
  - name: c
    backend: redis
    redis: {url: "redis://user:s3cret@h/0"}
    retention: {max_total_bytes: 1000000000, max_age: 36h}
`))
	out, err := c.Effective()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"reserve: 1.5 GiB",
		"max_bytes_per_second: \"0\"",
		"retention: none",
		"max_total_bytes: 1 GB",
		"max_age: 36h",
		"shutdown_timeout: 1m",
		"max_deferral: 3d",
		"windows: []",
		"partial_line_grace: 10s",
		"trim_step: 10000",
		"allow_hard_links: false",
		"allow_hard_links: true",
		"missing_ok: false",
		"missing_ok: true",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("effective config lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "s3cret") || !strings.Contains(s, "redis://user:xxxxx@h/0") {
		t.Errorf("password not redacted:\n%s", s)
	}
	if strings.Contains(s, "defaults") {
		t.Errorf("effective config has a defaults section:\n%s", s)
	}
	// Settings of other backends are left out.
	keep := s[strings.Index(s, "name: keep"):strings.Index(s, "name: linked\n")]
	if strings.Contains(keep, "trim_step") || strings.Contains(keep, "consumer_groups") {
		t.Errorf("json store shows redis settings:\n%s", keep)
	}
	if redis := s[strings.Index(s, "name: c\n"):]; strings.Contains(redis, "allow_hard_links") || strings.Contains(redis, "missing_ok") {
		t.Errorf("redis store shows allow_hard_links:\n%s", redis)
	}
}

func TestStoreLookup(t *testing.T) {
	c := mustParse(t, doc("stores:\n  - {name: a, backend: memory, retention: none}\n  - {name: b, backend: memory, retention: none}\n"))
	s, ok := c.Store("b")
	if !ok || s.Name != "b" || s != &c.Stores[1] {
		t.Errorf("Store(b) = %v, %v", s, ok)
	}
	if _, ok := c.Store("z"); ok {
		t.Error("Store(z) found")
	}
}

func TestNumbersAndStrings(t *testing.T) {
	c := mustParse(t, doc(`
stores:
  - name: 2024
    backend: rotating
    path: /srv/x
    rotation: {max_files: "7"}
    retention: {max_records: 1e6, max_total_bytes: 6000}
    traffic: {max_records_per_second: "2.5", max_bytes_per_second: 1.5KiB/s}
    disk: {reserve: 0, factor: 1}
    max_deferral: 1.5d
`))
	s := c.Stores[0]
	if s.Name != "2024" || s.Rotation.MaxFiles != 7 || s.Retention.MaxRecords != 1000000 || s.Retention.MaxTotalBytes != 6000 ||
		s.Traffic.MaxRecordsPerSecond != 2.5 || s.Traffic.MaxBytesPerSecond != 1536 || s.Disk != (Disk{Reserve: 0, Factor: 1}) || s.MaxDeferral != 36*time.Hour {
		t.Errorf("store = %+v", s)
	}
}

func TestYAMLFeatures(t *testing.T) {
	// Anchors and merge keys are plain YAML and work; problems in merged
	// keys are placed on the line of the mapping they were merged into,
	// or where the anchor defines them.
	c := mustParse(t, doc(`
stores:
  - &common
    name: a
    backend: json
    path: /srv/a/x
    retention: {max_age: 7d}
  - <<: *common
    name: b
    path: /srv/b/x
`))
	if b := mustStore(t, c, "b"); b.Backend != BackendJSON || b.Retention.MaxAge != 7*units.Day {
		t.Errorf("merged store = %+v", b)
	}
	_, err := Parse([]byte(`stores:
  - &common
    name: a
    backend: memory
    retention: {max_age: 7x}
  - <<: *common
    name: b
`), nil)
	wantProblem(t, err, "line 5: stores[0] (a): retention.max_age")
	wantProblem(t, err, "line 5: stores[1] (b): retention.max_age")
}

func TestRedisURLErrorsHideThePassword(t *testing.T) {
	for _, u := range []string{"redis://user:s3cret@", "ftp://user:s3cret@host/0"} {
		_, err := Parse([]byte("stores:\n  - {name: r, backend: redis, redis: {url: \""+u+"\"}, retention: {max_age: 1d}}\n"), nil)
		if err == nil {
			t.Fatalf("%s accepted", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestConsumerGroupDefaults: a redis store respects consumer groups unless told otherwise, for
// a week by default; "none" and 0 let groups always win; the effective config prints each;
// ignore and delivered are warned about, acked is not.
func TestConsumerGroupDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, keys string
		mode       ConsumerGroups
		maxAge     time.Duration
		printed    []string
		warn       string // "" for no warning
	}{
		{"defaults", "", ConsumerGroupsAcked, 7 * units.Day,
			[]string{"consumer_groups: acked", "consumer_group_max_age: 7d"}, ""},
		{"none", "consumer_group_max_age: none", ConsumerGroupsAcked, 0,
			[]string{"consumer_group_max_age: none"}, ""},
		{"zero", "consumer_group_max_age: 0", ConsumerGroupsAcked, 0,
			[]string{"consumer_group_max_age: none"}, ""},
		{"hours", "consumer_group_max_age: 36h", ConsumerGroupsAcked, 36 * time.Hour,
			[]string{"consumer_group_max_age: 36h"}, ""},
		{"ignore", "consumer_groups: ignore", ConsumerGroupsIgnore, 7 * units.Day,
			[]string{"consumer_groups: ignore"},
			"stores[0] (c): consumer_groups: ignore: entries a consumer group has not been delivered or has not acknowledged will be trimmed"},
		{"delivered", "consumer_groups: delivered", ConsumerGroupsDelivered, 7 * units.Day,
			[]string{"consumer_groups: delivered"},
			"stores[0] (c): consumer_groups: delivered: entries delivered to a consumer group that it has not acknowledged will be trimmed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, where := range []string{"store", "defaults"} {
				store := "stores:\n  - name: c\n    backend: redis\n    redis: {url: \"redis://h/0\"}\n    retention: {max_age: 1d}\n"
				var d string
				if tc.keys != "" {
					if where == "store" {
						store += "    " + tc.keys + "\n"
					} else {
						d = "defaults:\n  " + tc.keys + "\n"
					}
				}
				c := mustParse(t, doc(d, store, "  - {name: j, backend: json, path: /srv/j/events.ndjson, retention: none}"))
				s := mustStore(t, c, "c")
				if s.ConsumerGroups != tc.mode || s.ConsumerGroupMaxAge != tc.maxAge {
					t.Errorf("%s: consumer_groups %s, consumer_group_max_age %v; want %s, %v", where, s.ConsumerGroups, s.ConsumerGroupMaxAge, tc.mode, tc.maxAge)
				}
				out, err := c.Effective()
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range tc.printed {
					if !strings.Contains(string(out), want) {
						t.Errorf("%s: effective config lacks %q:\n%s", where, want, out)
					}
				}
				back, err := Parse(out, nil)
				if err != nil {
					t.Fatalf("%s: effective config does not parse: %v\n%s", where, err, out)
				}
				if b := mustStore(t, back, "c"); b.ConsumerGroups != s.ConsumerGroups || b.ConsumerGroupMaxAge != s.ConsumerGroupMaxAge {
					t.Errorf("%s: effective config parses back as %s, %v:\n%s", where, b.ConsumerGroups, b.ConsumerGroupMaxAge, out)
				}
				switch {
				case tc.warn == "" && len(c.Warnings) > 0:
					t.Errorf("%s: warnings %q, want none", where, c.Warnings)
				case tc.warn != "" && (len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], tc.warn)):
					t.Errorf("%s: warnings %q, want one starting %q", where, c.Warnings, tc.warn)
				}
			}
		})
	}

	// Load keeps them beside the file's own warnings.
	path := filepath.Join(t.TempDir(), "papyrad.yaml")
	if err := os.WriteFile(path, doc("stores:\n  - {name: c, backend: redis, redis: {url: \"redis://h/0\"}, retention: none, consumer_groups: ignore}"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "consumer_groups: ignore") {
		t.Errorf("Load warnings %q", c.Warnings)
	}
}
