// Package stores opens the stores a configuration describes: it is the one place that turns a
// resolved config.Store into a backend and the only package besides cmd/papyrad that imports
// the concrete backends. It also refuses state and quarantine directories anyone may write to.
package stores

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/archive/s3"
	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/backends/jsonfile"
	"github.com/papyrad/papyrad/internal/backends/memory"
	"github.com/papyrad/papyrad/internal/backends/redis"
	"github.com/papyrad/papyrad/internal/backends/rotating"
	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Store is what every backend offers. Callers assert the optional parts they use
// (scheduler.Meter, Recover).
type Store interface {
	Compact(ctx context.Context, opts backends.Options) (report.Report, error)
	Scan(ctx context.Context) ([]report.Anomaly, error)
}

var (
	_ Store = (*jsonfile.Store)(nil)
	_ Store = (*memory.Store)(nil)
	_ Store = (*rotating.Store)(nil)
	_ Store = (*redis.Store)(nil)
)

// Open returns the backend for st, a store resolved by package config, keeping what it learns
// between runs under stateDir; obs, when not nil, is told about uploads to an object-store
// archive. A backend this build cannot compact is refused with an error naming the store.
func Open(st *config.Store, stateDir string, log *zap.Logger, obs s3.Observer) (Store, error) {
	pol := policy(st.Retention)
	arch, err := archiveConfig(st.Archive, obs)
	if err != nil {
		return nil, fmt.Errorf("store %s: archive: %w", st.Name, err)
	}
	drain := livefile.DrainOptions{Timeout: st.DrainTimeout}
	switch st.Backend {
	case config.BackendJSON:
		return jsonfile.New(jsonfile.Config{
			Name:           st.Name,
			Path:           st.Path,
			Policy:         pol,
			Grace:          st.PartialLineGrace,
			Drain:          drain,
			Quarantine:     st.QuarantineDir,
			Archive:        arch,
			AllowHardLinks: st.AllowHardLinks,
			MissingOK:      st.MissingOK,
		}, log, time.Now), nil
	case config.BackendRotating:
		return rotating.New(rotating.Config{
			Name:           st.Name,
			Path:           st.Path,
			Naming:         rotating.Naming(st.Rotation.Naming),
			MaxFiles:       st.Rotation.MaxFiles,
			Policy:         pol,
			Grace:          st.PartialLineGrace,
			Drain:          drain,
			Quarantine:     st.QuarantineDir,
			Summaries:      filepath.Join(stateDir, "segments", st.Name+".json"),
			Archive:        arch,
			AllowHardLinks: st.AllowHardLinks,
			MissingOK:      st.MissingOK,
		}, log, time.Now), nil
	case config.BackendMemory:
		return memory.New(st.Name), nil
	case config.BackendRedis:
		return redis.New(redis.Config{
			Name:                st.Name,
			URL:                 st.Redis.URL,
			PasswordFile:        st.Redis.PasswordFile,
			Prefix:              st.Redis.Prefix,
			SystemID:            st.Redis.SystemID,
			Policy:              pol,
			AgeBasis:            redis.AgeBasis(st.AgeBasis),
			ConsumerGroups:      redis.GroupMode(st.ConsumerGroups),
			ConsumerGroupMaxAge: st.ConsumerGroupMaxAge,
			TrimStep:            st.TrimStep,
			Quarantine:          st.QuarantineDir,
			Archive:             arch,
		}, log, time.Now), nil
	}
	return nil, fmt.Errorf("store %s: backend %q is not supported by this version of papyrad", st.Name, st.Backend)
}

// policy is a store's retention as the planner takes it.
func policy(r config.Retention) retention.Policy {
	if r.None {
		return retention.Policy{}
	}
	p := retention.Policy{MaxAge: r.MaxAge, MaxRecords: int64(r.MaxRecords), MaxTotalBytes: r.MaxTotalBytes}
	if r.SizeBasis == config.SizeBasisStored {
		p.SizeBasis = retention.SizeBasisStored
	}
	return p
}

// archiveConfig is a store's archive as the backends take it.
func archiveConfig(a *config.Archive, obs s3.Observer) (*archive.Config, error) {
	if a == nil {
		return nil, nil
	}
	cfg := &archive.Config{Dir: a.Dir, Compress: archive.Codec(a.Compress), MaxAge: a.MaxAge}
	if rem := a.Remote; rem != nil {
		r, err := s3.New(RemoteConfig(rem, obs))
		if err != nil {
			return nil, err
		}
		cfg.Remote = r
	}
	return cfg, nil
}

// RemoteConfig is an object-store archive as package s3 takes it.
func RemoteConfig(rem *config.ArchiveRemote, obs s3.Observer) s3.Config {
	return s3.Config{
		Bucket: rem.Bucket, Prefix: rem.Prefix, Endpoint: rem.Endpoint, Region: rem.Region, PathStyle: rem.PathStyle,
		InsecureSkipVerify: !rem.TLSVerify, CAFile: rem.CAFile, CredentialsFile: rem.CredentialsFile, Profile: rem.Profile,
		ObjectLock: s3.ObjectLock{Mode: rem.ObjectLock.Mode, RetainUntil: rem.ObjectLock.RetainUntil,
			RetainFor: rem.ObjectLock.RetainFor, LegalHold: rem.ObjectLock.LegalHold},
		SSE: rem.SSE, KMSKeyID: rem.KMSKeyID, PartSize: rem.PartSize, Observer: obs,
	}
}

// CheckDirs checks the state directory and the quarantine directories of sts. With create, a
// missing state directory is made (mode 0750), as the daemon needs it; otherwise a missing
// directory is left for whatever needs it to make. A directory anyone may write to is refused
// with an error that matches errs.ErrInvalid.
func CheckDirs(stateDir string, sts []config.Store, create bool) error {
	if create {
		if err := checkPrivateDir("state directory", stateDir, true); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, s := range sts {
		for _, d := range []struct{ what, dir string }{{"state directory", stateDir}, {"quarantine directory", s.QuarantineDir}} {
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

// checkPrivateDir refuses a directory papyrad keeps its state or quarantine in when anyone may
// write to it: anyone could then plant files there, links above all, that papyrad would read
// (segment summaries, run times) or write through. With create, a missing directory is made,
// mode 0750; without, a missing one is left for whatever needs it to make.
func checkPrivateDir(what, dir string, create bool) error {
	if create {
		if err := atomicfile.MkdirAll(dir, 0o750); err != nil {
			return errs.Wrap(what, dir, err)
		}
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil
	}
	if err != nil {
		return errs.Wrap(what, dir, err)
	}
	if !fi.IsDir() {
		return errs.Mark(fmt.Errorf("%s %s is not a directory", what, dir), errs.ErrInvalid)
	}
	if perm := fi.Mode().Perm(); perm&0o002 != 0 {
		return errs.Mark(fmt.Errorf("%s %s can be written by anyone (mode %04o); papyrad refuses to keep its files there: give it to papyrad's user and make it writable by its owner and group only (chmod 750)", what, dir, perm), errs.ErrInvalid)
	}
	return nil
}
