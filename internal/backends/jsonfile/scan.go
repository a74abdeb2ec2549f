package jsonfile

import (
	"context"
	"fmt"
	"os"

	"github.com/papyrad/papyrad/internal/backends/filerun"
	"github.com/papyrad/papyrad/internal/classify"
	"github.com/papyrad/papyrad/internal/report"
)

// Scan reports the store's anomalies with Papyra's names, read-only: a last line without a
// newline is TRUNCATED_LINE, a line json.loads would reject (or a blank line, which it also
// rejects) is CORRUPTED_LINE, a leftover Papyra compaction or recovery temp file is
// UNEXPECTED_FILE. Lines that parse but are not objects are reported as CORRUPTED_LINE too:
// they are not records and compaction quarantines them. A missing file is an error wrapping
// errs.ErrMissing, whatever MissingOK says: the caller decides what absence means.
func (s *Store) Scan(ctx context.Context) ([]report.Anomaly, error) {
	var out []report.Anomaly
	for _, name := range papyraTemps(s.cfg.Path) {
		if _, err := os.Lstat(name); err == nil {
			out = append(out, report.Anomaly{Type: report.UnexpectedFile, Path: name,
				Detail: "temp file of a Papyra compaction or recovery that did not finish"})
		}
	}
	exists, err := filerun.RegularFile(s.cfg.Path)
	if err != nil {
		return out, err
	}
	if !exists {
		return out, filerun.Missing(s.cfg.Name, s.cfg.Path)
	}
	f, err := os.OpenFile(s.cfg.Path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return out, fmt.Errorf("scan: %w", err) // the PathError names the file
	}
	defer f.Close()
	found, err := classify.Anomalies(ctx, f, s.cfg.Path)
	return append(out, found...), err
}
