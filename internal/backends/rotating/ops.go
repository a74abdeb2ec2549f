package rotating

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/livefile"
)

// ErrNoSlot means a segment taken out of the set by mistake (a rotation moved another file
// under the name in the same instant) could not be put back: every name it could go to is
// taken. It is kept, whole, under a hidden name the error gives.
var ErrNoSlot = errors.New("no free name to put a segment back")

// opJournal records one destructive step on a rotated segment before it happens, so that a
// crash in the middle is finished or undone by recovery.
type opJournal struct {
	Op     string `json:"op"`   // "delete" or "replace"
	Slot   int    `json:"slot"` // where the segment was when the step began
	SegIno uint64 `json:"seg_ino"`
	// Hidden is where a deleted segment is moved before it is unlinked; Temp holds the new
	// content of a replaced one, and NewIno is its inode.
	Hidden string `json:"hidden,omitempty"`
	Temp   string `json:"temp,omitempty"`
	NewIno uint64 `json:"new_ino,omitempty"`
}

const opSuffix = ".seg"

func (l layout) opPath(id string) string {
	return filepath.Join(filepath.Dir(l.path), livefile.HiddenPrefix(l.path)+id+opSuffix)
}

func (l layout) saveOp(id string, j opJournal) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	name := l.opPath(id)
	tmp := name + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("write step journal: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = livefile.SyncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err == nil {
		err = livefile.SyncDir(filepath.Dir(name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write step journal %s: %w", name, err)
	}
	return nil
}

func (l layout) dropOp(id string) error {
	if err := os.Remove(l.opPath(id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return livefile.SyncDir(filepath.Dir(l.path))
}

func inodeOf(name string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(name, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// restore puts a file taken out of the set by mistake back where it belongs. Rotations only
// ever move files to older slots, so the hole its absence left has moved up with them: the
// first free slot from where it was taken, towards the oldest, is its place.
func (l layout) restore(hidden string, slot int) error {
	if l.naming == Sequence {
		return renameNoReplace(hidden, l.slotName(slot))
	}
	for k := max(slot, 1); k < l.maxFiles; k++ {
		err := renameNoReplace(hidden, l.slotName(k))
		if err == nil {
			return livefile.SyncDir(filepath.Dir(l.path))
		}
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return fmt.Errorf("%w: kept as %s", ErrNoSlot, hidden)
}

func renameNoReplace(from, to string) error {
	return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
}

// remove deletes the rotated segment seg, wherever rotations have moved it: it is renamed to a
// hidden name, which is atomic, and only unlinked if it turns out to be seg; a file a rotation
// slid under the name in that instant is put back.
func (l layout) remove(seg *segment, id string) (bool, error) {
	hidden := filepath.Join(filepath.Dir(l.path), livefile.HiddenPrefix(l.path)+id+".del")
	for attempt := 0; attempt < 10; attempt++ {
		m, found, err := l.nameOf(seg.ino)
		if err != nil {
			return false, err
		}
		if !found {
			return false, nil // the writer deleted it itself (logging-style rollover)
		}
		if m.slot == 0 && l.naming == Suffix {
			return false, fmt.Errorf("segment %s became the active file", seg.name)
		}
		j := opJournal{Op: "delete", Slot: m.slot, SegIno: seg.ino, Hidden: hidden}
		if err := l.saveOp(id, j); err != nil {
			return false, err
		}
		if ino, err := inodeOf(m.name); err != nil || ino != seg.ino {
			backoff(attempt) // moved while the journal was written: look again
			continue
		}
		if err := livefile.Step("segment-take-out"); err != nil {
			return false, err
		}
		if err := os.Rename(m.name, hidden); err != nil {
			if os.IsNotExist(err) {
				continue // moved again: look it up anew
			}
			return false, fmt.Errorf("move %s aside: %w", m.name, err)
		}
		deleted, err := l.settleDelete(j)
		if err != nil {
			return false, err
		}
		if err := l.dropOp(id); err != nil {
			return false, err
		}
		if deleted {
			return true, nil
		}
		backoff(attempt)
	}
	return false, fmt.Errorf("segment %s kept moving under a rotating writer; left for the next run", seg.name)
}

// settleDelete finishes a delete step whose rename may have happened: the hidden file is
// unlinked if it is the segment (deleted is true), put back otherwise.
func (l layout) settleDelete(j opJournal) (deleted bool, err error) {
	ino, err := inodeOf(j.Hidden)
	if os.IsNotExist(err) {
		return false, nil // the rename never happened
	}
	if err != nil {
		return false, err
	}
	if ino != j.SegIno {
		return false, l.restore(j.Hidden, j.Slot)
	}
	if err := livefile.Step("segment-unlink"); err != nil {
		return false, err
	}
	if err := os.Remove(j.Hidden); err != nil {
		return false, fmt.Errorf("remove %s: %w", j.Hidden, err)
	}
	return true, livefile.SyncDir(filepath.Dir(j.Hidden))
}

// replace puts the fsynced temp file tmp (inode newIno) in place of the rotated segment seg,
// wherever rotations have moved it: the two names are exchanged atomically and, if what came
// out is not seg, exchanged back and tried again.
func (l layout) replace(seg *segment, tmp string, newIno uint64, id string) (bool, error) {
	for attempt := 0; attempt < 10; attempt++ {
		m, found, err := l.nameOf(seg.ino)
		if err != nil {
			return false, err
		}
		if !found {
			// The writer deleted the segment itself; the rewrite is moot.
			return false, os.Remove(tmp)
		}
		if m.slot == 0 && l.naming == Suffix {
			return false, fmt.Errorf("segment %s became the active file", seg.name)
		}
		j := opJournal{Op: "replace", Slot: m.slot, SegIno: seg.ino, Temp: tmp, NewIno: newIno}
		if err := l.saveOp(id, j); err != nil {
			return false, err
		}
		// Writing the journal took milliseconds: look again right before the exchange, so that
		// a rotation in that time is noticed here rather than undone afterwards.
		if ino, err := inodeOf(m.name); err != nil || ino != seg.ino {
			backoff(attempt)
			continue
		}
		if err := livefile.Step("segment-exchange"); err != nil {
			return false, err
		}
		err = livefile.Exchange(tmp, m.name)
		if livefile.IsUnsupported(err) {
			// No atomic exchange here: check, then rename. A rotation in between could be
			// clobbered; this is the best such a filesystem allows.
			if ino, _ := inodeOf(m.name); ino != seg.ino {
				continue
			}
			err = os.Rename(tmp, m.name)
			if err == nil {
				return true, l.dropOp(id)
			}
		}
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("exchange %s and %s: %w", tmp, m.name, err)
		}
		done, err := l.settleReplace(j, true)
		if err != nil {
			return false, err
		}
		if err := l.dropOp(id); err != nil {
			return false, err
		}
		if done {
			return true, nil
		}
		backoff(attempt)
	}
	_ = os.Remove(tmp)
	return false, fmt.Errorf("segment %s kept moving under a rotating writer; left for the next run", seg.name)
}

// settleReplace finishes a replace step whose exchange may have happened. It reports whether
// the segment now holds the new content. When the exchange took another file out (a rotation
// slid it under the name), that file is swapped back into the place the new content holds now:
// rotations move every file the same way, so that place is exactly where the other file would
// be. keepTemp keeps the new content for another attempt; recovery, which will not retry,
// removes it.
func (l layout) settleReplace(j opJournal, keepTemp bool) (bool, error) {
	for attempt := 0; attempt < 10; attempt++ {
		ino, err := inodeOf(j.Temp)
		if os.IsNotExist(err) {
			return true, nil // the old content was already removed after a good exchange
		}
		if err != nil {
			return false, err
		}
		switch ino {
		case j.NewIno:
			// Not exchanged, or exchanged back.
			if keepTemp {
				return false, nil
			}
			return false, os.Remove(j.Temp)
		case j.SegIno:
			if err := livefile.Step("segment-drop-old"); err != nil {
				return false, err
			}
			if err := os.Remove(j.Temp); err != nil {
				return false, err
			}
			return true, livefile.SyncDir(filepath.Dir(j.Temp))
		}
		m, found, err := l.nameOf(j.NewIno)
		if err != nil {
			return false, err
		}
		if !found {
			return false, fmt.Errorf("%s holds a segment taken out by mistake and the place to put it back is unknown; left in place", j.Temp)
		}
		if err := livefile.Exchange(j.Temp, m.name); err != nil && !os.IsNotExist(err) {
			return false, fmt.Errorf("put back the segment exchanged by mistake: %w", err)
		}
	}
	return false, fmt.Errorf("%s: a segment taken out by mistake could not be put back under a rotating writer; left in place", j.Temp)
}

// recoverOps finishes or undoes the segment steps that crashed runs left journaled.
func (l layout) recoverOps() error {
	dir := filepath.Dir(l.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	prefix := livefile.HiddenPrefix(l.path)
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if strings.HasSuffix(rest, opSuffix+".new") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		id, ok := strings.CutSuffix(rest, opSuffix)
		if !ok {
			continue
		}
		b, err := livefile.ReadOwn(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var j opJournal
		if err := json.Unmarshal(b, &j); err != nil {
			errs = append(errs, fmt.Errorf("step journal %s: %w", e.Name(), err))
			continue
		}
		switch j.Op {
		case "delete":
			_, err = l.settleDelete(j)
		case "replace":
			_, err = l.settleReplace(j, false)
		default:
			err = fmt.Errorf("step journal %s: unknown step %q", e.Name(), j.Op)
		}
		if err == nil {
			err = l.dropOp(id)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Deleted segments moved aside without a journal cannot exist: the journal is written
	// first. Leftover ".del" files are therefore only ever journaled ones, settled above.
	return errors.Join(errs...)
}

// backoff waits a little longer after each attempt that a rotation got in the way of, so that a
// writer renaming many segments can finish.
func backoff(attempt int) {
	time.Sleep(time.Duration(attempt+1) * 2 * time.Millisecond)
}
