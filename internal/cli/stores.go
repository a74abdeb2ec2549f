package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/backends/jsonfile"
	"github.com/papyrad/papyrad/internal/backends/memory"
	"github.com/papyrad/papyrad/internal/backends/redis"
	"github.com/papyrad/papyrad/internal/backends/rotating"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// store is what the one-shot commands need from a backend.
type store interface {
	Compact(ctx context.Context, opts backends.Options) (report.Report, error)
	Scan(ctx context.Context) ([]report.Anomaly, error)
}

var (
	_ store = (*jsonfile.Store)(nil)
	_ store = (*memory.Store)(nil)
	_ store = (*rotating.Store)(nil)
	_ store = (*redis.Store)(nil)
)

// storeSpec is one store as the commands see it, whether it came from a config file or from
// the ad-hoc flags.
type storeSpec struct {
	Name          string
	Backend       string
	Path          string
	Policy        retention.Policy
	Grace         time.Duration
	DrainTimeout  time.Duration
	QuarantineDir string
	// StateDir is where papyrad keeps what it learns between runs.
	StateDir string
	// MaxFiles and Naming describe a rotating set.
	MaxFiles int
	Naming   string
	// Archive, if set, is where dropped records are archived before they leave the store.
	Archive *archive.Config
	// RedisURL, RedisPrefix, RedisSystemID and RedisPasswordFile locate a redis store's
	// streams; ConsumerGroups, ConsumerGroupMaxAge, AgeBasis and TrimStep tune its runs.
	RedisURL, RedisPrefix, RedisSystemID, RedisPasswordFile string
	ConsumerGroups                                          string
	ConsumerGroupMaxAge                                     time.Duration
	AgeBasis                                                string
	TrimStep                                                int
}

// build returns the backend for spec. Backends this build cannot compact yet are refused
// with an error naming the store.
func (s storeSpec) build(log *zap.Logger) (store, error) {
	switch s.Backend {
	case jsonfile.Backend:
		return jsonfile.New(jsonfile.Config{
			Name:       s.Name,
			Path:       s.Path,
			Policy:     s.Policy,
			Grace:      s.Grace,
			Drain:      livefile.DrainOptions{Timeout: s.DrainTimeout},
			Quarantine: s.QuarantineDir,
			Archive:    s.Archive,
		}, log, time.Now), nil
	case rotating.Backend:
		return rotating.New(rotating.Config{
			Name:       s.Name,
			Path:       s.Path,
			Naming:     rotating.Naming(s.Naming),
			MaxFiles:   s.MaxFiles,
			Policy:     s.Policy,
			Grace:      s.Grace,
			Drain:      livefile.DrainOptions{Timeout: s.DrainTimeout},
			Quarantine: s.QuarantineDir,
			Summaries:  filepath.Join(s.StateDir, "segments", s.Name+".json"),
			Archive:    s.Archive,
		}, log, time.Now), nil
	case memory.Backend:
		return memory.New(s.Name), nil
	case redis.Backend:
		return redis.New(redis.Config{
			Name:                s.Name,
			URL:                 s.RedisURL,
			PasswordFile:        s.RedisPasswordFile,
			Prefix:              s.RedisPrefix,
			SystemID:            s.RedisSystemID,
			Policy:              s.Policy,
			AgeBasis:            redis.AgeBasis(s.AgeBasis),
			ConsumerGroups:      redis.GroupMode(s.ConsumerGroups),
			ConsumerGroupMaxAge: s.ConsumerGroupMaxAge,
			TrimStep:            s.TrimStep,
			Quarantine:          s.QuarantineDir,
			Archive:             s.Archive,
		}, log, time.Now), nil
	}
	return nil, fmt.Errorf("store %s: backend %q is not supported by this version of papyrad", s.Name, s.Backend)
}

// defaultStateDir is where papyrad keeps its state when no config says otherwise: the system
// location for root, the user's state directory for everyone else.
func defaultStateDir(environ []string) string {
	if v := lookupEnv(environ, "PAPYRAD_STATE_DIR"); v != "" {
		return v
	}
	if os.Geteuid() == 0 {
		return "/var/lib/papyrad"
	}
	if v := lookupEnv(environ, "XDG_STATE_HOME"); v != "" {
		return filepath.Join(v, "papyrad")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "papyrad")
	}
	return filepath.Join(os.TempDir(), "papyrad")
}

func lookupEnv(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
