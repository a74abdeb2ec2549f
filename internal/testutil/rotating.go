package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Namings of a rotating set, as papyrad's --naming flag spells them.
const (
	// SuffixNaming is path (active), path.1 (newest rotated) … path.{maxFiles-1} (oldest).
	SuffixNaming = "suffix"
	// SequenceNaming is stem-0001.ext, stem-0002.ext, …: the highest number is the active file.
	SequenceNaming = "sequence"
)

// SetFiles lists the files of the rotating set at path as Papyra reads them, oldest first,
// missing names skipped. It knows the naming on its own, without papyrad's code: suffix names
// are looked up one by one from path.{maxFiles-1} down to path.1, then path; sequence names
// are the files "<stem>-<digits><ext>" of the directory, by number.
func SetFiles(path, naming string, maxFiles int) ([]string, error) {
	switch naming {
	case SuffixNaming:
		var out []string
		for i := maxFiles - 1; i >= 0; i-- {
			name := path
			if i > 0 {
				name = path + "." + strconv.Itoa(i)
			}
			if _, err := os.Lstat(name); err == nil {
				out = append(out, name)
			} else if !os.IsNotExist(err) {
				return nil, err
			}
		}
		return out, nil
	case SequenceNaming:
		dir := filepath.Dir(path)
		ext := filepath.Ext(path)
		stem := strings.TrimSuffix(filepath.Base(path), ext)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		type numbered struct {
			n    int
			name string
		}
		var files []numbered
		for _, e := range entries {
			mid, ok := strings.CutPrefix(e.Name(), stem+"-")
			if !ok {
				continue
			}
			if mid, ok = strings.CutSuffix(mid, ext); !ok || mid == "" || strings.Trim(mid, "0123456789") != "" {
				continue
			}
			n, err := strconv.Atoi(mid)
			if err != nil {
				continue
			}
			files = append(files, numbered{n, filepath.Join(dir, e.Name())})
		}
		sort.Slice(files, func(i, j int) bool { return files[i].n < files[j].n })
		out := make([]string, len(files))
		for i, f := range files {
			out[i] = f.name
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown naming %q", naming)
}

// SetContents is a rotating set read oldest file first, every line checked as ReadContents
// checks a single store: Bad offsets count from the start of the set's files put end to end.
type SetContents struct {
	*Contents
	Files []string // the set's files, oldest first, as they were read
	Order []Key    // every record in read order
}

// ReadSet reads the rotating set at path. Each file is split into lines on its own, so that an
// unterminated last line of one file is reported rather than joined with the next file's first.
// The set must not change while it is read (pause its writers).
func ReadSet(path, naming string, maxFiles int) (*SetContents, error) {
	files, err := SetFiles(path, naming, maxFiles)
	if err != nil {
		return nil, err
	}
	return ReadFiles(files...)
}

// ReadFiles reads a store made of files, oldest first (a single json store is one file), the
// way ReadSet reads a rotating set.
func ReadFiles(files ...string) (*SetContents, error) {
	sc := &SetContents{Contents: &Contents{Count: map[Key]int{}, Stamp: map[Key]float64{}}, Files: files}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		c := ParseContents(b)
		for _, l := range SplitLines(b) {
			if k, _, ok := ParseRecord(l.Data); ok {
				sc.Order = append(sc.Order, k)
			}
		}
		for _, l := range c.Bad {
			l.Off += sc.Size
			sc.Bad = append(sc.Bad, l)
		}
		for k, n := range c.Count {
			sc.Count[k] += n
			sc.Stamp[k] = c.Stamp[k]
		}
		sc.Size += c.Size
		sc.Lines += c.Lines
		sc.Unterminated = sc.Unterminated || c.Unterminated
	}
	return sc, nil
}
