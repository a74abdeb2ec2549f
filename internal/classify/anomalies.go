package classify

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/papyrad/papyrad/internal/bufpool"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/ndjson"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Anomalies reports the line anomalies of one NDJSON file with Papyra's names: a last line
// without a newline is TRUNCATED_LINE, a line that is not a record (or a blank line, which
// json.loads also rejects) is CORRUPTED_LINE.
func Anomalies(ctx context.Context, r io.Reader, path string) ([]report.Anomaly, error) {
	var out []report.Anomaly
	sc := ndjson.NewScannerBuffer(r, 0, bufpool.Get(), ndjson.DefaultMaxLine)
	defer func() { bufpool.Put(sc.Buffer()) }()
	sc.FinalCR = true
	for idx := 1; ; idx++ {
		line, err := sc.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, errs.Wrap("read", path, err)
		}
		if !line.Terminated {
			out = append(out, report.Anomaly{Type: report.TruncatedLine, Path: path,
				Detail: fmt.Sprintf("Line %d missing newline", idx)})
			return out, nil
		}
		l := Line(&line, false)
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
