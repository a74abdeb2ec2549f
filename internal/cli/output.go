package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dustin/go-humanize"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/papyrad/papyrad/internal/report"
)

// printJSON writes v as the indented JSON document a --json flag promises.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return withCode(ExitFailed, fmt.Errorf("write JSON: %w", err))
	}
	return nil
}

// printReport writes the human summary of one run: a headline and the details that matter.
func printReport(w io.Writer, r report.Report) {
	verb := "compacted"
	if r.DryRun {
		verb = "would compact"
	}
	switch {
	case r.Result == report.ResultError:
		fmt.Fprintf(w, "%s: FAILED: %s\n", r.Store, r.Error)
	case r.Result == report.ResultSkipped:
		fmt.Fprintf(w, "%s: skipped (%s): %s\n", r.Store, r.Reason, r.Error)
	case r.FilesRewritten == 0 && r.FilesDeleted == 0 && r.RecordsDropped == 0 && r.RecordsQuarantined == 0:
		fmt.Fprintf(w, "%s: nothing to do (%d records, %s)\n", r.Store, r.RecordsBefore, humanSize(r.BytesBefore))
	default:
		fmt.Fprintf(w, "%s: %s in %.2fs\n", r.Store, verb, r.Duration)
		fmt.Fprintf(w, "  records  %d -> %d kept, %d dropped%s, %d quarantined\n",
			r.RecordsBefore, r.RecordsAfter, r.RecordsDropped, dropDetail(r), r.RecordsQuarantined)
		fmt.Fprintf(w, "  bytes    %s -> %s (%s reclaimed)\n",
			humanSize(r.BytesBefore), humanSize(r.BytesAfter), humanSize(r.BytesReclaimed()))
		fmt.Fprintf(w, "  files    %d rewritten, %d deleted\n", r.FilesRewritten, r.FilesDeleted)
		if r.LinesAppended > 0 {
			fmt.Fprintf(w, "  appended during the run and carried over: %d lines\n", r.LinesAppended)
		}
		if r.QuarantineFile != "" {
			fmt.Fprintf(w, "  quarantine: %s\n", r.QuarantineFile)
		}
	}
	if r.Result == report.ResultPending {
		fmt.Fprintf(w, "  pending: %d replaced file(s) still forwarded from: a running papyrad daemon forwards them every second, else the next run does (see the warnings)\n", r.PendingFiles)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

// humanSize prints a byte count for a person: binary units, one decimal under ten ("1.2 GiB",
// "512 B"). The exact count is in --json and the metrics.
func humanSize(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}

func dropDetail(r report.Report) string {
	var parts []string
	for _, p := range []struct {
		n    int64
		rule string
	}{{r.DroppedByAge, "age"}, {r.DroppedByCount, "count"}, {r.DroppedByBytes, "size"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d by %s", p.n, p.rule))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// logLevels are the levels --log-level takes.
var logLevels = map[string]zapcore.Level{"debug": zapcore.DebugLevel, "info": zapcore.InfoLevel, "warn": zapcore.WarnLevel, "error": zapcore.ErrorLevel}

// parseLogLevel reads a --log-level value; anything else is a usage error.
func parseLogLevel(s string) (zapcore.Level, error) {
	if lvl, ok := logLevels[s]; ok {
		return lvl, nil
	}
	return 0, usageErrorf("--log-level: %q is not one of debug, info, warn, error", s)
}

// newLogger returns a console logger on w for the one-shot commands.
func newLogger(w io.Writer, lvl zapcore.Level) *zap.Logger {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	ws := zapcore.AddSync(w)
	if f, ok := w.(*os.File); ok {
		ws = zapcore.Lock(f)
	}
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), ws, lvl))
}
