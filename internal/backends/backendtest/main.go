package backendtest

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// Parallel is how many of a backend package's tests run at once unless -parallel says
// otherwise. The suite's cases spend most of their time waiting (for writers, drains, kills,
// child processes), so go test's default (GOMAXPROCS: 2 on a 2-core machine) would leave the
// machine idle for most of the package's run.
const Parallel = 8

// Main is a backend package's TestMain: it runs the tests Parallel at a time unless
// -parallel is given or PAPYRAD_TORTURE is set (`make torture` keeps go test's default: its
// kill loops aim at phases of runs timed on a machine they share with few others).
func Main(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit && os.Getenv("PAPYRAD_TORTURE") == "" {
		_ = flag.Set("test.parallel", strconv.Itoa(max(Parallel, runtime.GOMAXPROCS(0))))
	}
	os.Exit(m.Run())
}
