package stores

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends/jsonfile"
	"github.com/papyrad/papyrad/internal/backends/memory"
	"github.com/papyrad/papyrad/internal/backends/redis"
	"github.com/papyrad/papyrad/internal/backends/rotating"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/retention"
)

// TestOpenEveryBackend: every backend a config names opens as its own kind; an unknown one is
// refused naming the store.
func TestOpenEveryBackend(t *testing.T) {
	for _, tc := range []struct {
		backend config.Backend
		check   func(Store) bool
	}{
		{config.BackendJSON, func(s Store) bool { _, ok := s.(*jsonfile.Store); return ok }},
		{config.BackendRotating, func(s Store) bool { _, ok := s.(*rotating.Store); return ok }},
		{config.BackendRedis, func(s Store) bool { _, ok := s.(*redis.Store); return ok }},
		{config.BackendMemory, func(s Store) bool { _, ok := s.(*memory.Store); return ok }},
	} {
		st := config.DefaultStore(config.DefaultDaemon(), "s", tc.backend)
		st.Path = "/srv/s/events.ndjson"
		got, err := Open(&st, t.TempDir(), zap.NewNop(), nil)
		if err != nil || !tc.check(got) {
			t.Errorf("%s: %T, %v", tc.backend, got, err)
		}
	}
	st := config.DefaultStore(config.DefaultDaemon(), "s", "xml")
	if _, err := Open(&st, t.TempDir(), zap.NewNop(), nil); err == nil || !strings.Contains(err.Error(), "store s") {
		t.Errorf("unknown backend: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   config.Retention
		want retention.Policy
	}{
		{config.Retention{MaxAge: time.Hour, MaxRecords: 3, MaxTotalBytes: 10, SizeBasis: config.SizeBasisPapyra},
			retention.Policy{MaxAge: time.Hour, MaxRecords: 3, MaxTotalBytes: 10, SizeBasis: retention.SizeBasisPapyra}},
		{config.Retention{MaxTotalBytes: 10, SizeBasis: config.SizeBasisStored},
			retention.Policy{MaxTotalBytes: 10, SizeBasis: retention.SizeBasisStored}},
		{config.Retention{None: true, SizeBasis: config.SizeBasisStored}, retention.Policy{}},
	} {
		if got := policy(tc.in); got != tc.want {
			t.Errorf("policy(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestCheckDirs: a missing directory is fine (or made, 0750, with create); one anyone may
// write to, or a file where a directory should be, is refused as invalid configuration.
func TestCheckDirs(t *testing.T) {
	dir := t.TempDir()
	st := config.DefaultStore(config.Daemon{StateDir: filepath.Join(dir, "state")}, "s", config.BackendMemory)
	if err := CheckDirs(filepath.Join(dir, "state"), []config.Store{st}, false); err != nil {
		t.Fatalf("missing directories: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("made the state directory without create: %v", err)
	}
	if err := CheckDirs(filepath.Join(dir, "state"), []config.Store{st}, true); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "state")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("state directory: %v %v", fi.Mode(), err)
	}

	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	st.QuarantineDir = open
	err := CheckDirs(filepath.Join(dir, "state"), []config.Store{st}, false)
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "store s: quarantine directory "+open+" can be written by anyone (mode 0777)") {
		t.Errorf("open quarantine directory: %v", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckDirs(file, nil, true); err == nil || errors.Is(err, errs.ErrInvalid) {
		t.Errorf("state directory over a file, with create: %v", err)
	}
	if err := CheckDirs(file, []config.Store{}, false); err != nil {
		t.Errorf("no stores, nothing checked: %v", err)
	}
}
