package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
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
	found, err := ScanLines(ctx, f, s.cfg.Path)
	return append(out, found...), err
}

// ScanLines reports the line anomalies of one NDJSON file (shared with the rotating backend).
func ScanLines(ctx context.Context, r io.Reader, path string) ([]report.Anomaly, error) {
	var out []report.Anomaly
	sc := ndjson.NewScanner(r, 0, 1<<20, ndjson.DefaultMaxLine)
	sc.FinalCR = true
	for idx := 1; ; idx++ {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read %s: %w", path, err)
		}
		if !line.Terminated {
			out = append(out, report.Anomaly{Type: report.TruncatedLine, Path: path,
				Detail: fmt.Sprintf("Line %d missing newline", idx)})
			return out, nil
		}
		sl := fromLine(line)
		l := classifyScanned(&sl, false)
		switch l.Kind {
		case retention.NonRecord:
			out = append(out, report.Anomaly{Type: report.CorruptedLine, Path: path,
				Detail: fmt.Sprintf("Invalid JSON at line %d: %s", idx, l.Reason)})
		case retention.Blank:
			out = append(out, report.Anomaly{Type: report.CorruptedLine, Path: path,
				Detail: fmt.Sprintf("Invalid JSON at line %d: blank line", idx)})
		}
		if idx%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
	}
}
