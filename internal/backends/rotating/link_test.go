package rotating

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/papyrad/papyrad/internal/backends"
	"github.com/papyrad/papyrad/internal/errs"
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
				if tc.name != "active file" && !errors.Is(err, errs.ErrNotRegular) {
					t.Errorf("error %v does not match errs.ErrNotRegular", err)
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

// TestPlantedStepJournalRefused: a step journal beside the set that papyrad did not write (a
// link, or a file another user owns) is not acted on: the run fails naming it, and the file it
// names as a temp to remove stays.
func TestPlantedStepJournalRefused(t *testing.T) {
	for _, how := range []string{"link", "other user"} {
		t.Run(how, func(t *testing.T) {
			if how == "other user" && os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root")
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(`{"kind": "event", "timestamp": 4102444800.0}`+"\n"), 0o644)
			victim := filepath.Join(t.TempDir(), "precious")
			os.WriteFile(victim, []byte("keep"), 0o600)
			fi, _ := os.Stat(victim)
			b, _ := json.Marshal(opJournal{Op: "replace", Slot: 1, SegIno: statOf(fi).ino, Temp: victim, NewIno: 1})
			name := filepath.Join(dir, ".papyrad.events.ndjson.feed.seg")
			if how == "link" {
				elsewhere := filepath.Join(t.TempDir(), "j")
				os.WriteFile(elsewhere, b, 0o600)
				if err := os.Symlink(elsewhere, name); err != nil {
					t.Fatal(err)
				}
			} else {
				os.WriteFile(name, b, 0o600)
				if err := os.Chown(name, 1234, 1234); err != nil {
					t.Fatal(err)
				}
			}
			s := newStore(dir, Suffix, retention.Policy{MaxAge: time.Hour})
			_, err := s.Compact(context.Background(), backends.Options{})
			if !errors.Is(err, errs.ErrNotOwn) || !strings.Contains(err.Error(), name) {
				t.Fatalf("Compact: %v, want an error naming %s", err, name)
			}
			if got, _ := os.ReadFile(victim); string(got) != "keep" {
				t.Error("the file the planted journal named was removed")
			}
		})
	}
}
