package rotating

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/retention"
)

// TestLinksRefused: a set with a symbolic link under one of its names (the active file, a
// rotated segment, a numbered file) is refused with an error naming the link; the link stays a
// link, the file it points to and every other file of the set are not touched.
func TestLinksRefused(t *testing.T) {
	expired := `{"kind": "event", "timestamp": 1000000000.0}` + "\n"
	for _, tc := range []struct {
		name   string
		naming Naming
		files  []string // regular files of the set, all expired
		link   string   // the name that is a link to a file elsewhere
	}{
		{"active file", Suffix, []string{"events.ndjson.1"}, "events.ndjson"},
		{"rotated segment", Suffix, []string{"events.ndjson", "events.ndjson.1", "events.ndjson.3"}, "events.ndjson.2"},
		{"newest numbered file", Sequence, []string{"events-0001.ndjson"}, "events-0002.ndjson"},
		{"older numbered file", Sequence, []string{"events-0002.ndjson"}, "events-0001.ndjson"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hour := now.Add(-time.Hour)
			for _, n := range tc.files {
				p := filepath.Join(dir, n)
				os.WriteFile(p, []byte(expired), 0o644)
				os.Chtimes(p, hour, hour)
			}
			target := filepath.Join(t.TempDir(), "elsewhere.ndjson")
			os.WriteFile(target, []byte(expired), 0o644)
			link := filepath.Join(dir, tc.link)
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			s := newStore(dir, tc.naming, retention.Policy{MaxAge: time.Hour})
			for _, dry := range []bool{true, false} {
				_, err := s.Compact(context.Background(), backends.Options{DryRun: dry})
				if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symbolic link") {
					t.Fatalf("dry run %v: error %v, want one naming the link %s", dry, err, link)
				}
				if tc.name != "active file" && !errors.Is(err, ErrLink) {
					t.Errorf("error %v does not match ErrLink", err)
				}
			}
			if after := snapshot(t, dir); !equalSnapshots(before, after) {
				t.Errorf("the set changed:\nbefore %v\nafter  %v", before, after)
			}
			if b, _ := os.ReadFile(target); string(b) != expired {
				t.Errorf("the link's target changed: %q", b)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s is no longer a link", link)
			}
		})
	}
}

// snapshot maps each name in dir (papyrad's lock file aside) to its content, or to "->target"
// for a link.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		if e.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			out[e.Name()] = "->" + target
			continue
		}
		b, _ := os.ReadFile(p)
		out[e.Name()] = string(b)
	}
	return out
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
