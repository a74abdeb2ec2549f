package app

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/papyrad/papyrad/internal/config"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/report"
)

// TestReplacedRunIsADeferral: a run abandoned because another program replaced the store is
// logged as a deferral and counted as skipped, never as a failed run or an error.
func TestReplacedRunIsADeferral(t *testing.T) {
	core, logs := zapobserver.New(zapcore.DebugLevel)
	err := fmt.Errorf("compact /srv/orders/events.ndjson: %w", errs.ErrReplaced)
	rep := report.Report{Store: "orders", Backend: "json", Result: report.ResultSkipped, Reason: "replaced", Error: err.Error()}
	logRun(zap.New(core), rep, err)
	entries := logs.All()
	if len(entries) != 1 || entries[0].Level != zapcore.WarnLevel || entries[0].Message == "compaction failed" {
		t.Fatalf("log %+v, want one warning that the run was deferred", entries)
	}

	obs := newObserver(prometheus.NewRegistry())
	obs.setStores(&config.Config{Stores: []config.Store{{Name: "orders", Backend: config.BackendJSON}}})
	obs.run("orders", rep, err)
	tot := obs.tot["orders"]
	if tot.Runs[report.ResultSkipped] != 1 || tot.Runs[report.ResultError] != 0 {
		t.Errorf("runs %v, want one skipped", tot.Runs)
	}
	for cause, n := range tot.Errors {
		if n != 0 {
			t.Errorf("counted as an error (%s)", cause)
		}
	}
}
