package livefile

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// Kinds of hidden files papyrad keeps beside a store.
const (
	suffixTemp       = ".tmp"
	suffixOld        = ".old"
	suffixJournal    = ".journal"
	suffixJournalTmp = ".journal.tmp"
	suffixLock       = "lock"
)

// HiddenPrefix returns the prefix of every file papyrad creates beside the store at path.
func HiddenPrefix(path string) string {
	return ".papyrad." + filepath.Base(path) + "."
}

// IsOwn reports whether name (a base name in a store's directory) is a file papyrad creates
// beside some store. Scans use it so that papyrad's own files are never reported as orphans.
func IsOwn(name string) bool {
	return strings.HasPrefix(name, ".papyrad.")
}

func hiddenName(path, id, suffix string) string {
	return filepath.Join(filepath.Dir(path), HiddenPrefix(path)+id+suffix)
}

// NewRunID returns a random run identifier: 16 hex digits.
func NewRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("livefile: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// parseOwn splits a hidden name of the store at path into its run id and suffix.
func parseOwn(path, name string) (id, suffix string, ok bool) {
	rest, found := strings.CutPrefix(name, HiddenPrefix(path))
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
