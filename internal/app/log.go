package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/metrics"
	"github.com/papyrad/papyrad/internal/report"
)

// newLogger builds the daemon's logger on w from the config's log section.
func newLogger(w io.Writer, l config.Log) *zap.Logger {
	lvl, err := zapcore.ParseLevel(string(l.Level))
	if err != nil {
		lvl = zapcore.InfoLevel
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder = zapcore.NewJSONEncoder(ec)
	if l.Format == config.LogConsole {
		enc = zapcore.NewConsoleEncoder(ec)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl))
}

// logWarnings logs a config file's warnings.
func logWarnings(log *zap.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warn("configuration: "+w, zap.String("config", cfg.Path))
	}
}

// logRun writes the one summary line of a run: the report's fields under their JSON names,
// at info, or at error with the store, the error and its cause as papyrad_errors_total counts
// it when the run failed.
func logRun(log *zap.Logger, r report.Report, err error) {
	fields := []zap.Field{zap.Inline(reportFields(r))}
	switch {
	case errors.Is(err, errs.ErrDiskRefused):
		log.Warn("compaction deferred: not enough disk space", append(fields, zap.Error(err))...)
	case errors.Is(err, context.Canceled):
		log.Warn("compaction interrupted by shutdown; the store is whole", append(fields, zap.Error(err))...)
	case errors.Is(err, errs.ErrReplaced):
		log.Warn("compaction deferred: another program replaced the store during the run; nothing changed, it is tried again later", append(fields, zap.Error(err))...)
	case err != nil && r.Result != report.ResultSkipped:
		log.Error("compaction failed", append(fields, zap.String("cause", metrics.Cause(err)), zap.Error(err))...)
	case err != nil:
		log.Info("compaction skipped", append(fields, zap.Error(err))...)
	default:
		log.Info("compaction done", fields...)
	}
}

// reportFields puts a report into a log line as `compact --json` prints it, field by field
// in the same order, so that the summary line carries every figure a report has, the ones
// added later included. Its "error" is left to the zap.Error the line carries.
type reportFields report.Report

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (r reportFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	b, err := json.Marshal(report.Report(r))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("report field %s: %w", key, err)
		}
		if key == "error" {
			continue
		}
		switch v := v.(type) {
		case json.Number:
			if i, err := v.Int64(); err == nil && !strings.ContainsAny(v.String(), ".eE") {
				enc.AddInt64(key, i)
			} else {
				f, _ := v.Float64()
				enc.AddFloat64(key, f)
			}
		case string:
			enc.AddString(key, v)
		case bool:
			enc.AddBool(key, v)
		default:
			if err := enc.AddReflected(key, v); err != nil {
				return fmt.Errorf("report field %s: %w", key, err)
			}
		}
	}
	return nil
}
