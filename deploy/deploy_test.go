// Package deploy holds the files operators install (systemd units, Prometheus alert rules,
// a Grafana dashboard, Kubernetes manifests); its tests check them with the tools and types
// that read them.
package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

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

// dashboard is the part of the Grafana dashboard the tests read.
type dashboard struct {
	Templating struct {
		List []struct {
			Name       string
			Query      string
			Multi      bool
			IncludeAll bool
		}
	}
	Panels []struct {
		ID      int
		Type    string
		Title   string
		Repeat  string
		Targets []struct {
			RefID        string
			Expr         string
			LegendFormat string
		}
	}
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana/papyrad-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	return dash
}

// TestDashboardQueriesUseRealSeries: the dashboard is valid JSON and every metric its queries
// name is one papyrad exports.
func TestDashboardQueriesUseRealSeries(t *testing.T) {
	dash := readDashboard(t)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.Store("s", "json")
	m.Limits("s", "json", time.Hour, 10, 10)
	oldest := float64(time.Now().Add(-time.Hour).Unix())
	m.Run("json", report.Report{Store: "s", Result: report.ResultOK, OldestRecordTimestamp: &oldest}, nil, time.Now())
	m.Run("json", report.Report{Store: "s", Result: report.ResultError}, errors.New("x"), time.Now())
	m.Deferred("s", "json", "window")
	m.NextRun("s", "json", time.Now())
	m.Reload(true, time.Now())
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
	for _, v := range dash.Templating.List {
		for _, n := range name.FindAllString(v.Query, -1) {
			if !known[n] {
				t.Errorf("variable %s queries %s, which papyrad does not export", v.Name, n)
			}
		}
	}
}

var (
	// grouping is a PromQL clause that names the labels a join or an aggregation keeps.
	grouping = regexp.MustCompile(`\b(on|by|ignoring|without)\s*\(([^)]*)\)`)
	// bareAggregation is an aggregation written without by (...): it merges instances.
	bareAggregation = regexp.MustCompile(`\b(sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*\(`)
	// selector is the label matchers of a papyrad series.
	selector = regexp.MustCompile(`papyrad_[a-z_]+(\{[^}]*\})?`)
)

// fleetProblems lists what in expr could mix up papyrad instances that one Prometheus scrapes:
// a join or aggregation that does not keep job and instance.
func fleetProblems(expr string) []string {
	var out []string
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		labels := map[string]bool{}
		for _, l := range strings.Split(g[2], ",") {
			labels[strings.TrimSpace(l)] = true
		}
		switch g[1] {
		case "on", "by":
			if !labels["job"] || !labels["instance"] {
				out = append(out, g[0]+" leaves out job or instance")
			}
		default:
			if labels["job"] || labels["instance"] {
				out = append(out, g[0]+" drops job or instance")
			}
		}
	}
	for _, a := range bareAggregation.FindAllString(expr, -1) {
		out = append(out, a+" aggregates without by (job, instance, ...)")
	}
	return out
}

func TestFleetProblemsFindsEveryKind(t *testing.T) {
	for _, expr := range []string{
		`a > on(store, backend) b`,
		`sum by (store) (a)`,
		`a unless on(instance, store) b`,
		`sum without (instance) (a)`,
		`sum(a)`,
		`max (a)`,
	} {
		if len(fleetProblems(expr)) == 0 {
			t.Errorf("%s: no problem found", expr)
		}
	}
	for _, expr := range []string{
		`a > on(job, instance, store) b`,
		`sum by (job, instance, store) (a)`,
		`max_over_time(a[1h]) + histogram_quantile(0.9, sum by (job, instance, le) (rate(b[5m])))`,
	} {
		if p := fleetProblems(expr); len(p) > 0 {
			t.Errorf("%s: %v", expr, p)
		}
	}
}

// TestAlertsAreFleetSafe: every join and aggregation of the alert rules keeps job and
// instance (the promtool tests run the rules on two instances; this catches a rule added
// without such a case), and every alert links to its section of the runbook.
func TestAlertsAreFleetSafe(t *testing.T) {
	b, err := os.ReadFile("prometheus/papyrad-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	sections := runbookSections(t)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			for _, p := range fleetProblems(r.Expr) {
				t.Errorf("%s: %s", r.Alert, p)
			}
			const base = "https://github.com/papyrad/papyrad/blob/main/docs/runbook.md#"
			u := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(u, base)
			if !ok {
				t.Errorf("%s: runbook_url %q is not a section of %s", r.Alert, u, strings.TrimSuffix(base, "#"))
				continue
			}
			if sections[anchor] != r.Alert {
				t.Errorf("%s: runbook_url %s: docs/runbook.md has no section %q for it", r.Alert, u, anchor)
			}
		}
	}
	if len(alerts) < 7 {
		t.Errorf("%d alerts", len(alerts))
	}
	for anchor, title := range sections {
		if !alerts[title] {
			t.Errorf("docs/runbook.md: section %q (#%s) is about no alert", title, anchor)
		}
	}
}

// runbookSections maps the anchors of docs/runbook.md's second-level headings, as GitHub
// makes them, to their titles.
func runbookSections(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		title, ok := strings.CutPrefix(line, "## ")
		if !ok {
			continue
		}
		anchor := strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				return r
			case r >= 'A' && r <= 'Z':
				return r - 'A' + 'a'
			case r == ' ':
				return '-'
			}
			return -1
		}, title)
		out[anchor] = title
	}
	return out
}

// TestDashboardIsPerInstance: the dashboard chooses job and instance, filters every series
// by both, keeps both in every aggregation, names the instance in every legend, and repeats
// a row of panels per instance.
func TestDashboardIsPerInstance(t *testing.T) {
	dash := readDashboard(t)
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = v.Multi && v.IncludeAll
	}
	for _, v := range []string{"job", "instance", "store"} {
		if !vars[v] {
			t.Errorf("no multi-value variable %s with All", v)
		}
	}
	repeated := false
	for _, p := range dash.Panels {
		if p.Type == "row" && p.Repeat == "instance" {
			repeated = true
		}
		for _, tg := range p.Targets {
			for _, pr := range fleetProblems(tg.Expr) {
				t.Errorf("panel %q: %s", p.Title, pr)
			}
			for _, sel := range selector.FindAllStringSubmatch(tg.Expr, -1) {
				if !strings.Contains(sel[1], `job=~"$job"`) || !strings.Contains(sel[1], `instance=~"$instance"`) {
					t.Errorf("panel %q: %s is not filtered by $job and $instance", p.Title, sel[0])
				}
			}
			if !strings.Contains(tg.LegendFormat, "{{instance}}") {
				t.Errorf("panel %q: legend %q does not name the instance", p.Title, tg.LegendFormat)
			}
		}
	}
	if !repeated {
		t.Error("no row repeats per instance")
	}
}

// TestDashboardQueriesParse: promtool accepts every query of the dashboard, with Grafana's
// variables filled in, as a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := testutil.Tool(t, "promtool")
	dash := readDashboard(t)
	fill := strings.NewReplacer(`$__rate_interval`, "5m", `$__range`, "1d", `$job`, ".*", `$instance`, ".*", `$store`, ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			q, err := json.Marshal(fill.Replace(tg.Expr))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "      - record: dashboard:panel%d_%s\n        expr: %s\n", p.ID, tg.RefID, q)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no queries")
	}
	f := filepath.Join(t.TempDir(), "dashboard.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, b.String())
	}
}
