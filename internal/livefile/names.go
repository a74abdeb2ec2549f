package livefile

import (
	"path/filepath"
	"strings"

	"github.com/papyrad/papyrad/internal/atomicfile"
)

// Kinds of hidden files papyrad keeps beside a store.
const (
	suffixTemp       = ".tmp"
	suffixOld        = ".old"
	suffixJournal    = ".journal"
	suffixJournalTmp = ".journal.tmp" // left by versions before atomicfile.WriteFile
	suffixLock       = "lock"
)

func hiddenName(path, id, suffix string) string {
	return filepath.Join(filepath.Dir(path), atomicfile.HiddenPrefix(path)+id+suffix)
}

// parseOwn splits a hidden name of the store at path into its run id and suffix.
func parseOwn(path, name string) (id, suffix string, ok bool) {
	rest, found := strings.CutPrefix(name, atomicfile.HiddenPrefix(path))
	if !found {
		return "", "", false
	}
	for _, s := range []string{suffixJournalTmp, suffixJournal, suffixTemp, suffixOld} {
		if cut, ok := strings.CutSuffix(rest, s); ok && cut != "" && !strings.Contains(cut, ".") {
			return cut, s, true
		}
	}
	return "", "", false
}
