package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/errs"
)

// sameStore compares two resolved stores, their cron schedules by their next run.
func sameStore(t *testing.T, got, want Store) {
	t.Helper()
	from := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	if !got.Cron.Next(from).Equal(want.Cron.Next(from)) {
		t.Errorf("schedules differ: %s, want %s", got.Schedule, want.Schedule)
	}
	got.Cron, want.Cron = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("store from flags:\n%+v\nwant the same store from a file:\n%+v", got, want)
	}
}

// TestFlagsResolveLikeAFile: a store described by flags gets the same defaults as the same
// store written in a file, whatever its backend.
func TestFlagsResolveLikeAFile(t *testing.T) {
	state := t.TempDir()
	env := []string{"PAPYRAD_STATE_DIR=" + state}
	for _, tc := range []struct {
		name  string
		flags Flags
		yaml  string
	}{
		{"json", Flags{Backend: "json", Path: "/srv/a/events.ndjson", MaxAge: "7d"},
			`{name: events.ndjson, backend: json, path: /srv/a/events.ndjson, retention: {max_age: 7d}}`},
		{"rotating", Flags{Backend: "rotating", Path: "/srv/a/events.ndjson", MaxFiles: 4, Naming: "sequence", MaxRecords: 10, SizeBasis: "stored", PartialLineGrace: "2s"},
			`{name: events.ndjson, backend: rotating, path: /srv/a/events.ndjson, rotation: {max_files: 4, naming: sequence}, retention: {max_records: 10, size_basis: stored}, partial_line_grace: 2s}`},
		{"redis", Flags{Backend: "redis", Name: "cluster", RedisURL: "redis://127.0.0.1:6379/0", Prefix: "app", MaxTotalBytes: "1MiB"},
			`{name: cluster, backend: redis, redis: {url: "redis://127.0.0.1:6379/0", prefix: app}, retention: {max_total_bytes: 1MiB}}`},
		{"memory", Flags{Backend: "memory", Name: "memory", NoRetention: true},
			`{name: memory, backend: memory, retention: none}`},
		{"archive", Flags{Backend: "json", Path: "/srv/a/events.ndjson", MaxAge: "1d", ArchiveDir: "/srv/archive", ArchiveCompress: "gzip", ArchiveMaxAge: "30d", QuarantineDir: "/srv/q"},
			`{name: events.ndjson, backend: json, path: /srv/a/events.ndjson, retention: {max_age: 1d}, archive: {dir: /srv/archive, compress: gzip, max_age: 30d}, quarantine_dir: /srv/q}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromFlags(tc.flags, env)
			if err != nil {
				t.Fatal(err)
			}
			want := mustParse(t, []byte("daemon: {state_dir: "+state+"}\nstores:\n  - "+tc.yaml+"\n"))
			if got.Daemon.StateDir != state || len(got.Stores) != 1 {
				t.Fatalf("state dir %s, %d stores", got.Daemon.StateDir, len(got.Stores))
			}
			sameStore(t, got.Stores[0], want.Stores[0])
		})
	}
}

// TestFlagsDefaultName: without --name a store is named after its file, its streams or its
// kind, whatever characters those hold.
func TestFlagsDefaultName(t *testing.T) {
	env := []string{"PAPYRAD_STATE_DIR=" + t.TempDir()}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags      Flags
		name, path string
	}{
		{Flags{Backend: "json", Path: "my events.ndjson", NoRetention: true}, "my events.ndjson", filepath.Join(wd, "my events.ndjson")},
		{Flags{Backend: "redis", RedisURL: "redis://h:6379", NoRetention: true}, DefaultRedisPrefix + ":" + DefaultRedisSystemID, ""},
		{Flags{Backend: "memory", NoRetention: true}, "memory", ""},
	} {
		cfg, err := FromFlags(tc.flags, env)
		if err != nil {
			t.Fatalf("%+v: %v", tc.flags, err)
		}
		if s := cfg.Stores[0]; s.Name != tc.name || s.Path != tc.path {
			t.Errorf("%+v: name %q path %q, want %q %q", tc.flags, s.Name, s.Path, tc.name, tc.path)
		}
	}
}

// TestFlagsProblems: each problem names the flag it came from, all problems are reported,
// and every one matches errs.ErrInvalid.
func TestFlagsProblems(t *testing.T) {
	state := t.TempDir()
	env := []string{"PAPYRAD_STATE_DIR=" + state}
	ok := Flags{Backend: "json", Path: "/srv/a/events.ndjson", MaxAge: "1d"}
	with := func(change func(*Flags)) Flags {
		f := ok
		change(&f)
		return f
	}
	for _, tc := range []struct {
		name  string
		flags Flags
		want  []string
	}{
		{"no backend", with(func(f *Flags) { f.Backend = "" }), []string{"--backend is required"}},
		{"unknown backend", with(func(f *Flags) { f.Backend = "xml" }), []string{`--backend: unknown backend "xml"`}},
		{"no path", with(func(f *Flags) { f.Path = "" }), []string{"--path is required for backend json"}},
		{"no redis url", Flags{Backend: "redis", MaxAge: "1d"}, []string{"--redis-url is required for backend redis"}},
		{"bad redis url", Flags{Backend: "redis", RedisURL: "localhost", MaxAge: "1d"}, []string{"--redis-url: ", "is not a URL"}},
		{"no limit", with(func(f *Flags) { f.MaxAge = "" }), []string{"no retention limit given"}},
		{"every limit none", with(func(f *Flags) { f.MaxAge, f.MaxTotalBytes = "none", "none" }), []string{"no retention limit given"}},
		{"limit and none", with(func(f *Flags) { f.NoRetention = true }), []string{"--no-retention contradicts"}},
		{"bad max-age", with(func(f *Flags) { f.MaxAge = "soon" }), []string{"--max-age: "}},
		{"zero max-age", with(func(f *Flags) { f.MaxAge = "0s" }), []string{"--max-age: must be greater than 0"}},
		{"negative max-records", with(func(f *Flags) { f.MaxRecords = -1 }), []string{"--max-records: must be at least 1"}},
		{"bad size", with(func(f *Flags) { f.MaxTotalBytes = "lots" }), []string{"--max-total-bytes: "}},
		{"bad size basis", with(func(f *Flags) { f.SizeBasis = "repr" }), []string{`--size-basis: "repr" is not one of papyra, stored`}},
		{"one file", with(func(f *Flags) { f.Backend, f.MaxFiles = "rotating", 1 }), []string{"--max-files: must be at least 2"}},
		{"no file", with(func(f *Flags) { f.Backend, f.MaxFiles = "rotating", 0 }), []string{"--max-files: must be at least 2"}},
		{"bad naming", with(func(f *Flags) { f.Backend, f.Naming = "rotating", "numbered" }), []string{`--naming: "numbered" is not one of suffix, sequence`}},
		{"bad compress", with(func(f *Flags) { f.ArchiveDir, f.ArchiveCompress = "/srv/arch", "xz" }), []string{"--archive-compress: "}},
		{"archive age without dir", with(func(f *Flags) { f.ArchiveMaxAge = "30d" }), []string{"--archive-max-age needs --archive-dir"}},
		{"bad archive age", with(func(f *Flags) { f.ArchiveDir, f.ArchiveMaxAge = "/srv/arch", "soon" }), []string{"--archive-max-age: "}},
		{"bad grace", with(func(f *Flags) { f.PartialLineGrace = "-1s" }), []string{"--partial-line-grace: must not be negative"}},
		{"bad name", with(func(f *Flags) { f.Name = "a/b" }), []string{`--name: "a/b" may only contain`}},
		{"store in the state dir", with(func(f *Flags) { f.Path = filepath.Join(state, "events.ndjson") }), []string{"--path: ", "inside daemon.state_dir"}},
		{"two problems", with(func(f *Flags) { f.MaxAge, f.Path = "soon", "" }), []string{"--path is required", "--max-age: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromFlags(tc.flags, env)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("%v does not match errs.ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

// TestFlagsStateDir: --state-dir wins over PAPYRAD_STATE_DIR, which wins over the user's
// state directory; quarantine goes under the state directory unless given.
func TestFlagsStateDir(t *testing.T) {
	dir := t.TempDir()
	base := Flags{Backend: "memory", NoRetention: true}
	for _, tc := range []struct {
		stateFlag string
		environ   []string
		want      string
	}{
		{filepath.Join(dir, "flag"), []string{"PAPYRAD_STATE_DIR=" + filepath.Join(dir, "env")}, filepath.Join(dir, "flag")},
		{"", []string{"PAPYRAD_STATE_DIR=" + filepath.Join(dir, "env")}, filepath.Join(dir, "env")},
	} {
		f := base
		f.StateDir = tc.stateFlag
		cfg, err := FromFlags(f, tc.environ)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Daemon.StateDir != tc.want || cfg.Stores[0].QuarantineDir != filepath.Join(tc.want, "quarantine") {
			t.Errorf("state %s, quarantine %s, want %s", cfg.Daemon.StateDir, cfg.Stores[0].QuarantineDir, tc.want)
		}
	}
	if os.Geteuid() != 0 {
		cfg, err := FromFlags(base, []string{"XDG_STATE_HOME=" + dir})
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "papyrad"); cfg.Daemon.StateDir != want {
			t.Errorf("state %s, want %s", cfg.Daemon.StateDir, want)
		}
	}
}
