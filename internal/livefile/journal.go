package livefile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

// journal is the durable record of one run's replacement of a store file, kept beside the
// store from just before the commit until the old inode has been drained.
type journal struct {
	Version int    `json:"version"`
	Store   string `json:"store"`
	RunID   string `json:"run_id"`
	Dev     uint64 `json:"dev"`
	OldIno  uint64 `json:"old_ino"`
	NewIno  uint64 `json:"new_ino"`
	// Copied is the offset in the old inode up to which its content is in the store.
	Copied int64 `json:"copied"`
	// Forward is set while a block of the old inode is being appended to the store.
	Forward *forwardStep `json:"forward,omitempty"`
	// Final, while set, says the commit's last catch-up may have put lines of the old file
	// from Copied on into the new file from Final.DestSize, not yet known to be durable.
	Final    *finalStep `json:"final,omitempty"`
	Sidecars []Sidecar  `json:"sidecars,omitempty"`
	// Finalized records that the sidecars have been renamed to their final names.
	Finalized bool `json:"finalized,omitempty"`
}

type forwardStep struct {
	From     int64  `json:"from"`
	To       int64  `json:"to"`
	DestIno  uint64 `json:"dest_ino"`
	DestSize int64  `json:"dest_size"`
	// AddNewline marks the forward of an unterminated remnant, moved with a newline added.
	AddNewline bool `json:"add_newline,omitempty"`
	// Torn, when the forward was cut short and papyrad lived to see it, is where its bytes
	// went: recovery then knows the cut exactly instead of inferring it.
	Torn *tornWrite `json:"torn,omitempty"`
}

// finalStep is where the commit's last catch-up started in the new file.
type finalStep struct {
	DestSize int64 `json:"dest_size"`
}

// tornWrite is the part of a forwarded block that reached the store: Written bytes from At.
type tornWrite struct {
	At      int64 `json:"at"`
	Written int64 `json:"written"`
}

// Sidecar is a file written for a run in another directory (quarantine, archive) that must
// appear if and only if the run commits: it is written under Pending and renamed to Final once
// the store has been replaced.
type Sidecar struct {
	Pending string `json:"pending"`
	Final   string `json:"final"`
}

func journalPath(store, id string) string { return hiddenName(store, id, suffixJournal) }

// save writes the journal atomically and durably.
func (j *journal) save() error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(journalPath(j.Store, j.RunID), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save journal: %w", err)
	}
	return nil
}

func loadJournal(name string) (*journal, error) { return loadJournalOf(name, os.Geteuid()) }

// loadJournalOf is loadJournal for the journal of a papyrad that runs as uid.
func loadJournalOf(name string, uid int) (*journal, error) {
	b, err := readOwnedBy(name, uid)
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, errs.Wrap("journal", name, err)
	}
	if j.Version != 1 || j.RunID == "" || j.Store == "" {
		return nil, fmt.Errorf("journal %s: not a papyrad journal of version 1", name)
	}
	return &j, nil
}

func (j *journal) remove() error {
	err := atomicfile.Remove(journalPath(j.Store, j.RunID))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(j.Store))
}

// finalizeSidecars renames every pending sidecar to its final name. It is idempotent: a
// sidecar already renamed is skipped.
func (j *journal) finalizeSidecars() error {
	if j.Finalized {
		return nil
	}
	dirs := map[string]bool{}
	for _, s := range j.Sidecars {
		if err := atomicfile.Rename(s.Pending, s.Final); err != nil {
			if os.IsNotExist(err) {
				if _, serr := os.Stat(s.Final); serr == nil {
					continue
				}
			}
			return errs.Wrap("finalise", s.Final, err)
		}
		dirs[filepath.Dir(s.Final)] = true
	}
	for d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return errs.Wrap("fsync", d, err)
		}
	}
	j.Finalized = true
	return nil
}

// discardSidecars removes the pending sidecars of a run that did not commit.
func discardSidecars(sc []Sidecar) {
	for _, s := range sc {
		_ = atomicfile.Remove(s.Pending)
	}
}
