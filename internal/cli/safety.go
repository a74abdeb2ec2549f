package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/config"
)

// checkPrivateDir refuses a directory papyrad keeps its state or quarantine in when anyone may
// write to it: anyone could then plant files there, links above all, that papyrad would read
// (segment summaries, run times) or write through. With create, a missing directory is made,
// mode 0750; without, a missing one is left for whatever needs it to make.
func checkPrivateDir(what, dir string, create bool) error {
	if create {
		if err := atomicfile.MkdirAll(dir, 0o750); err != nil {
			return withCode(ExitFailed, fmt.Errorf("%s %s: %w", what, dir, err))
		}
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil
	}
	if err != nil {
		return withCode(ExitFailed, fmt.Errorf("%s %s: %w", what, dir, err))
	}
	if !fi.IsDir() {
		return withCode(ExitConfig, fmt.Errorf("%s %s is not a directory", what, dir))
	}
	if perm := fi.Mode().Perm(); perm&0o002 != 0 {
		return withCode(ExitConfig, fmt.Errorf("%s %s can be written by anyone (mode %04o); papyrad refuses to keep its files there: give it to papyrad's user and make it writable by its owner and group only (chmod 750)", what, dir, perm))
	}
	return nil
}

// checkStoreDirs checks the state and quarantine directories of the stores a command runs.
func checkStoreDirs(specs []storeSpec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		for _, d := range []struct{ what, dir string }{{"state directory", s.StateDir}, {"quarantine directory", s.QuarantineDir}} {
			if d.dir == "" || seen[d.dir] {
				continue
			}
			seen[d.dir] = true
			if err := checkPrivateDir(d.what, d.dir, false); err != nil {
				return fmt.Errorf("store %s: %w", s.Name, err)
			}
		}
	}
	return nil
}

// checkDaemonDirs makes the daemon's state directory (0750) if it is missing and checks it and
// every store's quarantine directory.
func checkDaemonDirs(cfg *config.Config) error {
	if err := checkPrivateDir("state directory", cfg.Daemon.StateDir, true); err != nil {
		return err
	}
	specs := make([]storeSpec, len(cfg.Stores))
	for i := range cfg.Stores {
		specs[i] = specFromConfig(&cfg.Stores[i], cfg.Daemon.StateDir)
	}
	return checkStoreDirs(specs)
}

// printWarnings shows a config file's warnings on stderr.
func printWarnings(e *env, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		fmt.Fprintln(e.stderr, "papyrad: warning:", w)
	}
}

// logWarnings logs a config file's warnings.
func logWarnings(log *zap.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warn("configuration: "+w, zap.String("config", cfg.Path))
	}
}
