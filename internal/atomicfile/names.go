package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// ownPrefix starts the name of every file papyrad creates.
const ownPrefix = ".papyrad."

// tempSuffix ends the name of WriteFile's temp files, after a random run ID.
const tempSuffix = ".new"

// NewRunID returns a random run identifier: 16 hex digits.
func NewRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("atomicfile: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// HiddenPrefix returns the prefix of every file papyrad creates beside the file at path:
// ".papyrad.<base>.".
func HiddenPrefix(path string) string {
	return ownPrefix + filepath.Base(path) + "."
}

// IsOwn reports whether name (a base name) is a file papyrad creates beside some store. Scans
// use it so that papyrad's own files are never reported as orphans.
func IsOwn(name string) bool {
	return strings.HasPrefix(name, ownPrefix)
}

// tempName returns a new random temp name for WriteFile's replacement of name, in its
// directory: ".papyrad.<base>.<random>.new", or "<base>.<random>.new" when name is already
// one of papyrad's hidden files.
func tempName(name string) string {
	dir, base := filepath.Split(name)
	prefix := HiddenPrefix(name)
	if IsOwn(base) {
		prefix = base + "."
	}
	return filepath.Join(dir, prefix+NewRunID()+tempSuffix)
}

// IsTemp reports whether name (a base name) is a temp file of WriteFile, which a process
// killed in the middle of WriteFile leaves behind. Recovery, under the store's lock, removes
// those beside the store.
func IsTemp(name string) bool {
	rest, ok := strings.CutSuffix(name, tempSuffix)
	if !ok || !IsOwn(name) || len(rest) < 17 || rest[len(rest)-17] != '.' {
		return false
	}
	_, err := hex.DecodeString(rest[len(rest)-16:])
	return err == nil
}
