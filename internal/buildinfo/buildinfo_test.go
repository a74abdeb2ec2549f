package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/common/version"
)

// TestFallbacks: without values from the linker, the version, commit and date come from what
// the toolchain recorded, and say "dev"/"unknown" when it recorded nothing; values the linker
// set are kept.
func TestFallbacks(t *testing.T) {
	saved := [3]string{version.Version, version.Revision, version.BuildDate}
	t.Cleanup(func() { version.Version, version.Revision, version.BuildDate = saved[0], saved[1], saved[2] })
	stamped := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		name   string
		linked [3]string
		bi     *debug.BuildInfo
		want   [3]string
	}{
		{"nothing recorded", [3]string{}, nil, [3]string{"dev", "unknown", "unknown"}},
		{"a devel build", [3]string{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, [3]string{"dev", "unknown", "unknown"}},
		{"go install at a version, VCS stamped", [3]string{}, stamped, [3]string{"v1.4.0", "0123abcd-modified", "2026-11-30T10:00:00Z"}},
		{"set by the linker", [3]string{"v2.0.0", "feedface", "2026-12-01T00:00:00Z"}, stamped, [3]string{"v2.0.0", "feedface", "2026-12-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version.Version, version.Revision, version.BuildDate = tt.linked[0], tt.linked[1], tt.linked[2]
			fill(tt.bi)
			i := Get()
			if got := [3]string{i.Version, i.Revision, i.BuildDate}; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !strings.HasPrefix(i.String(), "papyrad version "+tt.want[0]+"\n") || !strings.Contains(i.String(), "go version: go") {
				t.Errorf("printed:\n%s", i)
			}
		})
	}
}
