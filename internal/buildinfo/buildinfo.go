// Package buildinfo says what papyrad was built from: its version, the commit, the build date
// and the Go release, as `papyrad version` prints them and the papyrad_build_info gauge
// labels them.
//
// The values live in github.com/prometheus/common/version, which the Makefile sets at link
// time:
//
//	-X github.com/prometheus/common/version.Version=$(VERSION)
//	-X github.com/prometheus/common/version.Revision=$(REVISION)
//	-X github.com/prometheus/common/version.BuildDate=$(BUILD_DATE)
//
// A binary built without them (go build, go install) falls back on what the Go toolchain
// recorded in it (runtime/debug.ReadBuildInfo): the module version `go install ...@vX.Y.Z`
// fetched, and the VCS commit and its time when the build stamped them; "dev" and "unknown"
// when there is nothing to go by.
package buildinfo

import (
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
)

// Program is the name the version line and the metric's namespace use.
const Program = "papyrad"

// Info is what a binary was built from.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

func init() {
	bi, _ := debug.ReadBuildInfo()
	fill(bi)
}

// fill completes, from what the toolchain recorded in the binary, the values the linker did
// not set.
func fill(bi *debug.BuildInfo) {
	var vcsRevision, vcsTime, modified string
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	if version.Version == "" {
		version.Version = "dev"
		if bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version.Version = bi.Main.Version
		}
	}
	if version.Revision == "" {
		version.Revision = "unknown"
		if vcsRevision != "" {
			version.Revision = vcsRevision
			if modified == "true" {
				version.Revision += "-modified"
			}
		}
	}
	if version.BuildDate == "" {
		version.BuildDate = "unknown"
		if vcsTime != "" {
			version.BuildDate = vcsTime
		}
	}
}

// Get returns what this binary was built from.
func Get() Info {
	return Info{
		Version:   version.Version,
		Revision:  version.Revision,
		BuildDate: version.BuildDate,
		GoVersion: version.GoVersion,
		Platform:  version.GoOS + "/" + version.GoArch,
	}
}

// String is what `papyrad version` prints.
func (i Info) String() string {
	return fmt.Sprintf("%s version %s\n  commit:     %s\n  build date: %s\n  go version: %s\n  platform:   %s\n",
		Program, i.Version, i.Revision, i.BuildDate, i.GoVersion, i.Platform)
}

// NewCollector returns the papyrad_build_info gauge: always 1, labelled as Prometheus' own
// build_info gauges are (version, revision, branch, goversion, goos, goarch, tags) and with
// the build date (builddate).
func NewCollector() prometheus.Collector {
	return versioncollector.NewCollector(Program, versioncollector.WithExtraConstLabels(prometheus.Labels{"builddate": version.BuildDate}))
}
