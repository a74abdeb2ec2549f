// Package deploy holds the files operators install (systemd units, Prometheus alert rules,
// a Grafana dashboard); its tests check them with the tools that read them.
package deploy

import (
	"os"
	"os/exec"
	"testing"
)

// tool returns the path of a checker, skipping the test when it is missing outside CI; CI
// installs it, so there a missing tool is a failure.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func TestAlertRules(t *testing.T) {
	promtool := tool(t, "promtool")
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
