package livefile

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/papyrad/papyrad/internal/errs"
)

// TestPlantedJournalRefused: a journal beside a store that papyrad did not write (a link to a
// journal elsewhere, or a file of another user, as whoever else can write the store's
// directory could plant) is not acted on: recovery fails naming it, and the files it names are
// neither renamed nor deleted.
func TestPlantedJournalRefused(t *testing.T) {
	for _, how := range []string{"link", "other user"} {
		t.Run(how, func(t *testing.T) {
			if how == "other user" && os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root")
			}
			path, _ := setup(t, "a\n")
			victims := t.TempDir()
			pending, final := filepath.Join(victims, "papyrad-state.json"), filepath.Join(victims, "moved")
			if err := os.WriteFile(pending, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(journal{Version: 1, Store: path, RunID: "feed", Sidecars: []Sidecar{{Pending: pending, Final: final}}})
			name := journalPath(path, "feed")
			switch how {
			case "link":
				elsewhere := filepath.Join(t.TempDir(), "j")
				os.WriteFile(elsewhere, b, 0o600)
				if err := os.Symlink(elsewhere, name); err != nil {
					t.Fatal(err)
				}
			default:
				os.WriteFile(name, b, 0o600)
				if err := os.Chown(name, 1234, 1234); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Recover(context.Background(), path, fastDrain)
			if !errors.Is(err, errs.ErrNotOwn) || !strings.Contains(err.Error(), name) {
				t.Fatalf("Recover: %v, want errs.ErrNotOwn naming %s", err, name)
			}
			if got, _ := os.ReadFile(pending); string(got) != "precious" {
				t.Error("the file the planted journal named was moved")
			}
			if _, err := os.Lstat(final); !os.IsNotExist(err) {
				t.Error("the planted journal's rename happened")
			}
			if _, err := os.Lstat(name); err != nil {
				t.Errorf("the planted journal was removed: %v", err)
			}
			if read(t, path) != "a\n" {
				t.Error("store changed")
			}
		})
	}
}

// TestReadOwn: papyrad's own journal reads back; an oversized one does not.
func TestReadOwn(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "j")
	os.WriteFile(name, []byte(`{"version": 1}`), 0o600)
	if b, err := ReadOwn(name); err != nil || string(b) != `{"version": 1}` {
		t.Fatalf("ReadOwn = %q, %v", b, err)
	}
	os.WriteFile(name, make([]byte, maxJournal+1), 0o600)
	if _, err := ReadOwn(name); !errors.Is(err, errs.ErrNotOwn) {
		t.Fatalf("an oversized journal: %v", err)
	}
	if _, err := ReadOwn(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("a missing file: %v", err)
	}
}
