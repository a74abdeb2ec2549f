package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
)

// writeConfig writes a config file with a private state directory in dir and the given store
// mappings, and returns its path.
func writeConfig(t *testing.T, dir string, stores ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("daemon: {state_dir: " + filepath.Join(dir, "state") + `, metrics_listen: "", shutdown_timeout: 10s}` + "\nstores:\n")
	for _, s := range stores {
		b.WriteString("  - " + s + "\n")
	}
	path := filepath.Join(dir, "papyrad.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testConfig loads a config of the given stores, kept in a temporary directory.
func testConfig(t *testing.T, stores ...string) *config.Config {
	t.Helper()
	cfg, err := config.Load(writeConfig(t, t.TempDir(), stores...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const memStore = `{name: a, backend: memory, retention: none}`

func newTestApp(t *testing.T, cfg *config.Config) (*App, *zapobserver.ObservedLogs) {
	t.Helper()
	core, logs := zapobserver.New(zapcore.DebugLevel)
	a, err := New(cfg, WithLogger(zap.New(core)), WithRegistry(prometheus.NewRegistry()), WithEnviron([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a, logs
}

// status asks the control socket for the status, as `papyrad status` does.
func status(socket string) (*http.Response, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}}}
	return c.Get("http://papyrad" + PathStatus)
}

func storeNames(a *App) []string {
	var out []string
	for _, st := range a.sched.Status() {
		out = append(out, st.Store)
	}
	slices.Sort(out)
	return out
}

// TestRunReturnsAfterCancel: Run serves until its context is done, then stops gracefully and
// returns nil; Close then removes the control socket, and a second Close does nothing.
func TestRunReturnsAfterCancel(t *testing.T) {
	cfg := testConfig(t, memStore)
	a, logs := newTestApp(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()

	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("papyrad started").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not start: %v", logs.All())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := status(cfg.Daemon.ControlSocket)
	if err != nil {
		t.Fatalf("control socket: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if logs.FilterMessage("papyrad stopped").Len() != 1 {
		t.Errorf("no stop logged: %v", logs.All())
	}
	// A reload or trigger signal that comes while the process ends does not kill it (here:
	// this test's process, by SIGHUP's default action).
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1} {
		if err := syscall.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(cfg.Daemon.ControlSocket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseWithoutRun: Close releases what New took even when Run never ran, so that another
// daemon can take the socket; Close twice is fine.
func TestCloseWithoutRun(t *testing.T) {
	cfg := testConfig(t, memStore)
	a, _ := newTestApp(t, cfg)
	_, err := New(cfg, WithLogger(zap.NewNop()), WithRegistry(prometheus.NewRegistry()))
	if !errors.Is(err, errs.ErrInUse) || !strings.Contains(err.Error(), cfg.Daemon.StateDir) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second daemon on the same state directory: %v", err)
	}
	// Another state directory, the same control socket: the socket is taken.
	other := *cfg
	other.Daemon.StateDir = filepath.Join(t.TempDir(), "state")
	if _, err := New(&other, WithLogger(zap.NewNop()), WithRegistry(prometheus.NewRegistry())); !errors.Is(err, errs.ErrInUse) || !strings.Contains(err.Error(), "control socket "+cfg.Daemon.ControlSocket) {
		t.Fatalf("second daemon on the same socket: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := a.Close(); err != nil {
			t.Fatalf("Close %d: %v", i+1, err)
		}
	}
	b, _ := newTestApp(t, cfg)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsConfigOnInvalidFile: an invalid file leaves the running stores and config as
// they were and sets papyrad_config_last_reload_successful to 0; a valid one is applied.
func TestReloadKeepsConfigOnInvalidFile(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, memStore)
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := zapobserver.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	a, err := New(cfg, WithLogger(zap.New(core)), WithRegistry(reg), WithEnviron([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	reloadOK := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "papyrad_config_last_reload_successful" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no papyrad_config_last_reload_successful")
		return 0
	}

	if err := os.WriteFile(path, []byte("stores:\n  - {name: a, backend: memory, retention: none, rotaton: 3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("Reload of an invalid file: %v", err)
	}
	if a.config() != cfg || !slices.Equal(storeNames(a), []string{"a"}) || reloadOK() != 0 {
		t.Errorf("after a failed reload: config kept %v, stores %v, reload gauge %v", a.config() == cfg, storeNames(a), reloadOK())
	}
	if logs.FilterMessage("reload failed: keeping the running configuration").Len() != 1 {
		t.Errorf("failed reload not logged: %v", logs.All())
	}

	writeConfig(t, dir, memStore, `{name: b, backend: memory, retention: none}`)
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload of a valid file: %v", err)
	}
	if got := storeNames(a); !slices.Equal(got, []string{"a", "b"}) || reloadOK() != 1 || len(a.config().Stores) != 2 {
		t.Errorf("after a reload: stores %v, reload gauge %v", got, reloadOK())
	}
	if n := testutil.CollectAndCount(reg, "papyrad_config_last_reload_success_timestamp_seconds"); n != 1 {
		t.Errorf("reload timestamp series: %d", n)
	}
}

// TestNewRefusesOpenStateDir: a state directory anyone may write to is a refused configuration
// (errs.ErrInvalid, exit 78), and nothing is made in it.
func TestNewRefusesOpenStateDir(t *testing.T) {
	cfg := testConfig(t, memStore)
	if err := os.MkdirAll(cfg.Daemon.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.Daemon.StateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg, WithLogger(zap.NewNop()), WithRegistry(prometheus.NewRegistry()))
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "can be written by anyone") {
		t.Fatalf("New: %v", err)
	}
	if _, err := os.Lstat(cfg.Daemon.ControlSocket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused daemon made its control socket: %v", err)
	}
}

// TestMissingStoreRunFails: a run of a store whose file does not exist is a failed run, in the
// log (compaction failed, cause missing) and the metrics (runs_total{result="error"},
// errors_total{reason="missing"}); with missing_ok it is a successful run with nothing to do.
func TestMissingStoreRunFails(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(writeConfig(t, dir,
		`{name: gone, backend: json, path: `+filepath.Join(dir, "gone", "events.ndjson")+`, retention: {max_age: 1d}}`,
		`{name: optional, backend: rotating, path: `+filepath.Join(dir, "optional", "events.ndjson")+`, retention: {max_age: 1d}, missing_ok: true}`,
	), nil)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := zapobserver.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	a, err := New(cfg, WithLogger(zap.New(core)), WithRegistry(reg), WithEnviron([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	for logs.FilterMessage("papyrad started").Len() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if logs.FilterMessage("recovering earlier runs failed").Len() != 0 {
		t.Errorf("recovery of missing stores warned: %v", logs.FilterMessage("recovering earlier runs failed").All())
	}
	if err := a.sched.Trigger(nil, true); err != nil {
		t.Fatal(err)
	}
	of := func(store, msg string) []zapobserver.LoggedEntry {
		return logs.FilterMessage(msg).Filter(func(e zapobserver.LoggedEntry) bool { return e.ContextMap()["store"] == store }).All()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(of("gone", "compaction failed")) == 0 || len(of("optional", "compaction done")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no failed run of gone and successful run of optional: %v", logs.All())
		}
		time.Sleep(10 * time.Millisecond)
	}
	failed := of("gone", "compaction failed")[0].ContextMap()
	if failed["cause"] != "missing" || !strings.Contains(fmt.Sprint(failed["error"]), filepath.Join(dir, "gone", "events.ndjson")) {
		t.Errorf("failed run logged %v, want cause missing and the path", failed)
	}
	for series, want := range map[string]float64{
		`papyrad_runs_total{backend="json",result="error",store="gone"}`:             1,
		`papyrad_errors_total{backend="json",reason="missing",store="gone"}`:         1,
		`papyrad_runs_total{backend="rotating",result="ok",store="optional"}`:        1,
		`papyrad_errors_total{backend="rotating",reason="missing",store="optional"}`: 0,
	} {
		if got := gathered(t, reg, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// gathered returns the value of one counter series, written as Prometheus prints it.
func gathered(t *testing.T, reg *prometheus.Registry, series string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if mf.GetName()+"{"+strings.Join(labels, ",")+"}" == series {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}
