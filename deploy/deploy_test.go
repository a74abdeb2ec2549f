// Package deploy holds the files operators install (systemd units, Prometheus alert rules,
// a Grafana dashboard); its tests check them with the tools that read them.
package deploy

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/papyrad/papyrad/internal/metrics"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/testutil"
)

func TestAlertRules(t *testing.T) {
	promtool := testutil.Tool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "prometheus/papyrad-alerts.yml"},
		{"test", "rules", "prometheus/papyrad-alerts_test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// TestDashboardQueriesUseRealSeries: the dashboard is valid JSON and every metric its queries
// name is one papyrad exports.
func TestDashboardQueriesUseRealSeries(t *testing.T) {
	b, err := os.ReadFile("grafana/papyrad-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test")
	m.Store("s", "json")
	m.Limits("s", "json", time.Hour, 10, 10)
	oldest := float64(time.Now().Add(-time.Hour).Unix())
	m.Run("json", report.Report{Store: "s", Result: report.ResultOK, OldestRecordTimestamp: &oldest}, nil, time.Now())
	m.Run("json", report.Report{Store: "s", Result: report.ResultError}, errors.New("x"), time.Now())
	m.Deferred("s", "json", "window")
	m.NextRun("s", "json", time.Now())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[f.GetName()+s] = true
			}
		}
	}
	name := regexp.MustCompile(`papyrad_[a-z_]+`)
	if len(dash.Panels) < 6 {
		t.Errorf("%d panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				if !known[n] {
					t.Errorf("panel %q queries %s, which papyrad does not export", p.Title, n)
				}
			}
		}
	}
}
