package jsonfile

import (
	"context"
	"fmt"
	"os"

	"github.com/papyrad/papyrad/internal/classify"
	"github.com/papyrad/papyrad/internal/report"
)

// Scan reports the store's anomalies with Papyra's names, read-only: a last line without a
// newline is TRUNCATED_LINE, a line json.loads would reject (or a blank line, which it also
// rejects) is CORRUPTED_LINE, a leftover Papyra compaction or recovery temp file is
// UNEXPECTED_FILE. Lines that parse but are not objects are reported as CORRUPTED_LINE too:
// they are not records and compaction quarantines them.
func (s *Store) Scan(ctx context.Context) ([]report.Anomaly, error) {
	var out []report.Anomaly
	for _, suffix := range []string{".compact.tmp", ".recovered.tmp"} {
		name := s.cfg.Path + suffix
		if _, err := os.Lstat(name); err == nil {
			out = append(out, report.Anomaly{Type: report.UnexpectedFile, Path: name,
				Detail: "temp file of a Papyra compaction or recovery that did not finish"})
		}
	}
	fi, err := os.Lstat(s.cfg.Path)
	switch {
	case os.IsNotExist(err):
		return out, nil
	case err != nil:
		return out, fmt.Errorf("stat %s: %w", s.cfg.Path, err)
	case fi.Mode()&os.ModeSymlink != 0:
		return out, fmt.Errorf("%s is a symbolic link: %w", s.cfg.Path, ErrNotRegular)
	case !fi.Mode().IsRegular():
		return out, fmt.Errorf("%s is a %s: %w", s.cfg.Path, kindOf(fi.Mode()), ErrNotRegular)
	}
	f, err := os.OpenFile(s.cfg.Path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return out, fmt.Errorf("open %s: %w", s.cfg.Path, err)
	}
	defer f.Close()
	found, err := classify.Anomalies(ctx, f, s.cfg.Path)
	return append(out, found...), err
}
