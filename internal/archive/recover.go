package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
)

// Recovered is what Recover did with the leftovers of runs that died.
type Recovered struct {
	// Published lists the archive files of dead runs that were published.
	Published []string
	// Records is the number of records in them.
	Records int64
	// Removed is the number of leftover files removed (archives of runs that never changed
	// the store, and half-written manifests or copies).
	Removed int
}

// Recover finishes the archives that runs of store left when they died. keep is asked, for
// each part of a sealed archive, what the store has lost; it must see the store as it is after
// the backend's own recovery. The caller holds the store's lock, so no run of the store is
// writing an archive meanwhile.
//
// With a Remote, sealed archives are published there, and then the staged objects and
// incomplete uploads that runs which died before sealing left are removed.
func Recover(ctx context.Context, cfg Config, store string, keep func(Part) (Keep, error)) (Recovered, error) {
	var rec Recovered
	days, err := os.ReadDir(filepath.Join(cfg.Dir, store))
	if err != nil && !os.IsNotExist(err) {
		return rec, fmt.Errorf("archive: %w", err)
	}
	for _, day := range days {
		if !day.IsDir() {
			continue
		}
		dir := filepath.Join(cfg.Dir, store, day.Name())
		if err := recoverDir(ctx, cfg, store, dir, keep, &rec); err != nil {
			return rec, err
		}
	}
	if cfg.Remote != nil {
		n, err := cfg.Remote.Clean(ctx, store)
		rec.Removed += n
		if err != nil {
			return rec, fmt.Errorf("archive: remove what interrupted uploads left: %w", err)
		}
	}
	return rec, nil
}

func recoverDir(ctx context.Context, cfg Config, store, dir string, keep func(Part) (Keep, error), rec *Recovered) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	sealed := map[string]bool{} // pending names that a manifest covers
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".manifest") {
			continue
		}
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil || m.RunID == "" || m.Final == "" || strings.ContainsAny(m.Final, "/\x00") {
			// Manifests are written under a temporary name and renamed whole: this is not one
			// of ours, or it was damaged after the fact. Leave it for the operator.
			return fmt.Errorf("archive: %s is not a valid manifest; move it away to go on", path)
		}
		sealed[pendingName(dir, m.Final)] = true
		decisions, err := decide(m.Parts, keep)
		if err != nil {
			// Not knowing what the store lost, keep everything for the next run to decide.
			return fmt.Errorf("archive: recover %s: %w", path, err)
		}
		var final string
		var n int64
		if cfg.Remote != nil {
			final, n, err = publishRemote(ctx, cfg.Remote, store, dir, m, decisions)
		} else {
			final, n, err = publish(dir, m, decisions)
		}
		if err != nil {
			return err
		}
		if final != "" {
			rec.Published = append(rec.Published, final)
			rec.Records += n
		}
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		// ".manifest.tmp": a manifest's temp file before atomicfile.WriteFile, whose temps
		// IsTemp recognises.
		orphan := strings.HasPrefix(name, ".") &&
			(atomicfile.IsTemp(name) || strings.HasSuffix(name, ".manifest.tmp") || strings.HasSuffix(name, ".publish") ||
				(strings.HasSuffix(name, ".pending") && !sealed[path]))
		if !orphan {
			continue
		}
		if err := atomicfile.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("archive: %w", err)
		}
		rec.Removed++
	}
	return nil
}

// Prune removes store's archive files older than cfg.MaxAge (by modification time) and the
// day directories it leaves empty. It returns the number of files removed. A remote archive is
// left to the bucket's own lifecycle rules.
func Prune(cfg Config, store string, now time.Time) (int, error) {
	if cfg.MaxAge <= 0 || cfg.Remote != nil {
		return 0, nil
	}
	root := filepath.Join(cfg.Dir, store)
	days, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("archive: %w", err)
	}
	cutoff := now.Add(-cfg.MaxAge)
	removed := 0
	var errs []error
	for _, day := range days {
		if !day.IsDir() {
			continue
		}
		dir := filepath.Join(root, day.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		left := len(entries)
		for _, e := range entries {
			if !e.Type().IsRegular() || !isArchiveName(e.Name()) {
				continue
			}
			fi, err := e.Info()
			if err != nil || !fi.ModTime().Before(cutoff) {
				continue
			}
			if err := atomicfile.Remove(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
			left--
		}
		if left == 0 && day.Name() != now.UTC().Format("2006-01-02") {
			_ = atomicfile.Remove(dir) // fails harmlessly if a run created a file meanwhile
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("archive: prune %s: %w", root, err)
	}
	return removed, nil
}
