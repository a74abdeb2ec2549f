package rotating

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

// Naming is how a set names its files.
type Naming string

// The namings.
const (
	// Suffix is Papyra's RotatingFilePersistence and Python logging's RotatingFileHandler:
	// path is the active file, path.1 the newest rotated segment, path.{MaxFiles-1} the oldest.
	Suffix Naming = "suffix"
	// Sequence is events-0001.ndjson, events-0002.ndjson, ...: the highest number is the
	// active file. Names never move.
	Sequence Naming = "sequence"
)

// layout knows a set's names.
type layout struct {
	path     string
	naming   Naming
	maxFiles int
	// anySlotMayGo lets a segment in any slot be deleted. Only the tests of the delete step
	// set it, to land Papyra-style rotations on a deletion and exercise its repairs, which in
	// use serve the oldest slot under a logging-style writer's rollovers.
	anySlotMayGo bool
}

// slotName is the name of slot k: for Suffix, 0 is the active file and k>0 is path.k; for
// Sequence, k is the file's number.
func (l layout) slotName(k int) string {
	if l.naming == Sequence {
		stem, ext := l.stemExt()
		return filepath.Join(filepath.Dir(l.path), fmt.Sprintf("%s-%04d%s", stem, k, ext))
	}
	if k == 0 {
		return l.path
	}
	return l.path + "." + strconv.Itoa(k)
}

func (l layout) stemExt() (string, string) {
	base := filepath.Base(l.path)
	ext := filepath.Ext(base)
	return strings.TrimSuffix(base, ext), ext
}

// slotOf parses a base name of the set's directory into its slot.
func (l layout) slotOf(name string) (int, bool) {
	if l.naming == Sequence {
		stem, ext := l.stemExt()
		mid, ok := strings.CutPrefix(name, stem+"-")
		if !ok {
			return 0, false
		}
		mid, ok = strings.CutSuffix(mid, ext)
		if !ok || mid == "" || strings.Trim(mid, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.Atoi(mid)
		return n, err == nil
	}
	base := filepath.Base(l.path)
	if name == base {
		return 0, true
	}
	rest, ok := strings.CutPrefix(name, base+".")
	if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || rest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 || n >= l.maxFiles {
		return 0, false
	}
	return n, true
}

// segment is one file of the set, identified by its inode: names move under a rotating writer.
type segment struct {
	slot   int
	name   string
	active bool
	ino    uint64
	size   int64
	fi     os.FileInfo
	born   int64 // birth time, 0 where the filesystem keeps none (see birth)
	f      *os.File
}

// member is a name of the set and the inode it holds right now.
type member struct {
	slot int
	name string
	ino  uint64
}

// members lists the set's names as they are now, oldest first; orphans are the other files
// whose names start with the store's base name (Papyra's scan reports them).
//
// With suffix naming, the members are not taken from the directory listing: a rotation
// renames files while the set is listed, and a file listed as path.k and renamed to path.k+1
// before it is looked up would be missed, since the listing does not have path.k+1 or has
// already been looked up there. The slots are looked up one by one instead, from the newest
// (the active file) to the oldest, the way rotations move files: a file that only ever moves
// towards older slots is met on the way (see suffixMembers).
func (l layout) members() (ms []member, orphans []string, err error) {
	dir := filepath.Dir(l.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list the set's directory: %w", err) // the PathError names it
	}
	stem, _ := l.stemExt()
	prefix := filepath.Base(l.path)
	if l.naming == Sequence {
		prefix = stem + "-"
	}
	for _, e := range entries {
		name := e.Name()
		if atomicfile.IsOwn(name) || !strings.HasPrefix(name, prefix) {
			continue
		}
		slot, ok := l.slotOf(name)
		full := filepath.Join(dir, name)
		if !ok {
			orphans = append(orphans, full)
			continue
		}
		if l.naming == Suffix {
			continue // looked up by slot below
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(full, &st); err != nil {
			continue // moved or removed since the listing
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			orphans = append(orphans, full)
			continue
		}
		ms = append(ms, member{slot: slot, name: full, ino: st.Ino})
	}
	if l.naming == Suffix {
		ms, orphans = l.suffixMembers(orphans)
	}
	sort.Slice(ms, func(i, j int) bool { return l.older(ms[i].slot, ms[j].slot) })
	return ms, orphans, nil
}

// present reports whether any file of the set is there: false, not an error, when its
// directory is missing too.
func (l layout) present() (bool, error) {
	ms, _, err := l.members()
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return len(ms) > 0, err
}

// suffixMembers looks the slots up from the newest to the oldest. A file that a rotation moves
// from slot k to an older one after slot k was looked up is met again further on: the lookup
// and the file both move towards the oldest slot, the lookup one slot at a time, so the file
// cannot jump past it. Such a file is found twice and kept where it was found last, which also
// keeps the set's order. Files that are not regular are orphans.
func (l layout) suffixMembers(orphans []string) ([]member, []string) {
	var ms []member
	at := map[uint64]int{} // inode → index in ms
	for k := 0; k < l.maxFiles; k++ {
		name := l.slotName(k)
		var st syscall.Stat_t
		if err := syscall.Lstat(name, &st); err != nil {
			continue // a free slot
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			orphans = append(orphans, name)
			continue
		}
		m := member{slot: k, name: name, ino: st.Ino}
		if i, seen := at[st.Ino]; seen {
			ms[i] = m // moved to an older slot since it was found
			continue
		}
		at[st.Ino] = len(ms)
		ms = append(ms, m)
	}
	return ms, orphans
}

// Papyra's own compaction and recovery of a file of the set write <file>.compact.tmp and
// <file>.recovered.tmp beside it (events.ndjson.compact.tmp, events.ndjson.1.compact.tmp).
var papyraTempSuffixes = []string{".compact.tmp", ".recovered.tmp"}

// papyraTemps lists the temp files of Papyra's own compaction or recovery that are beside the
// set now, for any of its names: with suffix naming any numbered slot, even past maxFiles
// (Papyra's own limit may be larger); with sequence naming any numbered file. The active
// file's are always listed, so that the guard still holds if the directory cannot be read
// (the run then fails listing the set).
func (l layout) papyraTemps() []string {
	var out []string
	for _, suf := range papyraTempSuffixes {
		out = append(out, l.path+suf)
	}
	entries, err := os.ReadDir(filepath.Dir(l.path))
	if err != nil {
		return out
	}
	for _, e := range entries {
		for _, suf := range papyraTempSuffixes {
			stem, ok := strings.CutSuffix(e.Name(), suf)
			if ok && stem != filepath.Base(l.path) && l.isSetName(stem) {
				out = append(out, filepath.Join(filepath.Dir(l.path), e.Name()))
			}
		}
	}
	return out
}

// isSetName reports whether base is a name a file of the set may have, in any slot.
func (l layout) isSetName(base string) bool {
	if l.naming == Sequence {
		_, ok := l.slotOf(base)
		return ok
	}
	rest, ok := strings.CutPrefix(base, filepath.Base(l.path)+".")
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// mayVanish reports whether the name of slot k may be taken out of the set. A Papyra-style
// writer rotates with `if exists(path.i): rename(path.i, path.i+1)` for every rotated slot but
// the oldest, which it only ever checks (and rotates only while it is free): a name taken out
// between those two calls makes the rename raise FileNotFoundError in the application. So,
// with suffix naming, only the oldest slot's name may go. Numbered names are never renamed.
func (l layout) mayVanish(k int) bool {
	return l.naming == Sequence || k == l.maxFiles-1 || l.anySlotMayGo
}

// keepNames adjusts the action planned for seg so that no name a rotating writer may be
// renaming goes: a segment whose lines all go is emptied instead of deleted unless its name
// may vanish. And an empty rotated segment in the oldest slot, which is what emptying leaves
// there after rotations, is deleted: while that slot is taken, a Papyra-style writer does not
// rotate, and its active file grows past its size limit.
func (l layout) keepNames(seg *segment, act action) action {
	switch {
	case act == remove && !l.mayVanish(seg.slot):
		return empty
	case act == untouched && !seg.active && seg.size == 0 && l.naming == Suffix && l.mayVanish(seg.slot):
		return remove
	}
	return act
}

// older reports whether slot a holds older records than slot b.
func (l layout) older(a, b int) bool {
	if l.naming == Sequence {
		return a < b
	}
	// Suffix: higher is older, 0 (the active file) is the newest.
	if a == 0 || b == 0 {
		return b == 0 && a != 0
	}
	return a > b
}

// nameOf returns the name that holds inode ino now, if any.
func (l layout) nameOf(ino uint64) (member, bool, error) {
	ms, _, err := l.members()
	if err != nil {
		return member{}, false, err
	}
	for _, m := range ms {
		if m.ino == ino {
			return m, true, nil
		}
	}
	return member{}, false, nil
}

// open lists the set and opens every file, oldest first. Each file opened is checked to be
// the inode listed; one that a rotation moved between the listing and the open is followed to
// its new slot (see openMember), and the listing is taken again only if a file left the set.
func (l layout) open() ([]*segment, []string, error) {
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			backoff(attempt)
		}
		ms, orphans, err := l.members()
		if err != nil {
			return nil, nil, err
		}
		if err := l.refuseLinks(orphans); err != nil {
			return nil, nil, err
		}
		segs, ok, err := l.openAll(ms)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			return segs, orphans, nil
		}
	}
	return nil, nil, fmt.Errorf("the set at %s kept changing while it was being opened", l.path)
}

// A name of the set that is a symbolic link is refused (errs.ErrNotRegular): papyrad would
// delete or replace the link, not the file it points to, as with a store file that is a link.

// refuseLinks fails if one of names (files that are not regular) holds a slot of the set as a
// symbolic link.
func (l layout) refuseLinks(names []string) error {
	for _, n := range names {
		if _, ok := l.slotOf(filepath.Base(n)); !ok {
			continue
		}
		if fi, err := os.Lstat(n); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("rotating set %s: %s is a symbolic link; configure the set where its files are, papyrad never replaces a link: %w", l.path, n, errs.ErrNotRegular)
		}
	}
	return nil
}

func (l layout) openAll(ms []member) ([]*segment, bool, error) {
	var segs []*segment
	closeAll := func() {
		for _, s := range segs {
			s.f.Close()
		}
	}
	newest := len(ms) - 1
	for i, m := range ms {
		f, at, err := l.openMember(m)
		if err != nil || f == nil {
			closeAll()
			return nil, false, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			closeAll()
			return nil, false, errs.Wrap("stat", at.name, err)
		}
		active := (l.naming == Suffix && m.slot == 0) || (l.naming == Sequence && i == newest)
		if active {
			// Still the store's active file for this run, even if a rotation has just moved
			// it: its replacement at the end notices that and leaves it for the next run.
			at = m
		}
		segs = append(segs, &segment{slot: at.slot, name: at.name, active: active, ino: m.ino, size: fi.Size(), fi: fi,
			born: birth(f), f: f})
	}
	return segs, true, nil
}

// openMember opens the file the listing found as m. With suffix naming a rotation may have
// moved it to an older slot since the listing: it is followed there, slot by slot in the
// direction rotations move files, so that it cannot be passed by, and a rotation while a large
// set is opened does not make the whole set be listed again. It returns no file (and no
// error) when the file is nowhere any more: the set must be listed again.
func (l layout) openMember(m member) (*os.File, member, error) {
	last := m.slot
	if l.naming == Suffix {
		last = l.maxFiles - 1
	}
	for k := m.slot; k <= last; k++ {
		at := member{slot: k, name: l.slotName(k), ino: m.ino}
		if l.naming == Sequence {
			at.name = m.name
		}
		f, err := os.OpenFile(at.name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, member{}, errs.Wrap("open", at.name, err)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			f.Close()
			return nil, member{}, errs.Wrap("stat", at.name, err)
		}
		if st.Ino == m.ino {
			return f, at, nil
		}
		f.Close()
	}
	return nil, member{}, nil
}
