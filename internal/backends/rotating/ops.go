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

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/livefile"
)

// opJournal records one destructive step on a rotated segment before it happens, so that a
// crash in the middle is finished or undone by recovery.
type opJournal struct {
	Op string `json:"op"` // "delete" or "replace"
	// Slot is where the segment was when the step was journaled; rotations may have moved it
	// to older slots before the step ran.
	Slot   int    `json:"slot"`
	SegIno uint64 `json:"seg_ino"`
	// Hidden is where a deleted segment is moved before it is unlinked; Newer is the inode of
	// the file next to it on the newer side when the step began (0 if none): the only file a
	// single rotation can slide under its name. Temp holds the new content of a replaced
	// segment, and NewIno is its inode.
	Hidden string `json:"hidden,omitempty"`
	Newer  uint64 `json:"newer_ino,omitempty"`
	Temp   string `json:"temp,omitempty"`
	NewIno uint64 `json:"new_ino,omitempty"`
}

const opSuffix = ".seg"

func (l layout) opPath(id string) string {
	return filepath.Join(filepath.Dir(l.path), atomicfile.HiddenPrefix(l.path)+id+opSuffix)
}

func (l layout) saveOp(id string, j opJournal) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(l.opPath(id), b, 0o600); err != nil {
		return fmt.Errorf("write step journal: %w", err)
	}
	return nil
}

// dropOp removes the journal of a step that is settled. The removal is not fsynced: every
// change the step made to the directory was, by the step itself, and a journal that a crash
// brings back only makes recovery settle the step again, which finds it done (its hidden or
// temp name, unique to the run, is gone) and changes nothing. The next step's journal, or the
// end of the run, makes the removal durable.
func (l layout) dropOp(id string) error {
	if err := atomicfile.Remove(l.opPath(id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// dropOpSync removes the journal of a settled step and fsyncs the directory, for a step whose
// last change was not fsynced by the step itself.
func (l layout) dropOpSync(id string) error {
	if err := l.dropOp(id); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(l.path))
}

func inodeOf(name string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(name, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// restore puts a file taken out of the set by mistake back when the exchange that normally
// does it cannot (the segment it would trade places with is gone, or more than one rotation
// slid files along while the name was being taken). Rotations only ever move files to older
// slots, so the hole its absence left has moved up with them: the first free slot from where
// it was taken, towards the oldest, is its place. This creates a name, which a rotation racing
// it could overwrite; it is the fallback, never the rule.
func (l layout) restore(hidden string, slot int) error {
	if l.naming == Sequence {
		if err := atomicfile.RenameNoReplace(hidden, l.slotName(slot)); err != nil {
			return err
		}
		return atomicfile.SyncDir(filepath.Dir(l.path))
	}
	for k := max(slot, 1); k < l.maxFiles; k++ {
		err := atomicfile.RenameNoReplace(hidden, l.slotName(k))
		if err == nil {
			return atomicfile.SyncDir(filepath.Dir(l.path))
		}
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return fmt.Errorf("%w: kept as %s", errs.ErrNoSlot, hidden)
}

// locate returns the name that holds inode ino now, trying first the slot it was last seen in
// and the next older one (where one rotation moves it), then the whole set.
func (l layout) locate(ino uint64, slot int) (string, bool, error) {
	if l.naming == Suffix {
		for _, k := range []int{slot, slot + 1} {
			if k < 1 || k >= l.maxFiles {
				continue
			}
			if got, err := inodeOf(l.slotName(k)); err == nil && got == ino {
				return l.slotName(k), true, nil
			}
		}
	}
	m, found, err := l.nameOf(ino)
	return m.name, found, err
}

// neighbours returns where inode ino is in the set now and the inode of the next file on the
// newer side (0 if it is the newest).
func (l layout) neighbours(ino uint64) (m member, newer uint64, found bool, err error) {
	ms, _, err := l.members()
	if err != nil {
		return member{}, 0, false, err
	}
	for i, x := range ms { // oldest first
		if x.ino != ino {
			continue
		}
		if i+1 < len(ms) {
			newer = ms[i+1].ino
		}
		return x, newer, true, nil
	}
	return member{}, 0, false, nil
}

// remove deletes the rotated segment seg, wherever rotations have moved it: the step is
// journaled, then the segment's name is confirmed and at once renamed to a hidden name; if a
// rotation slid another file under the name in between, settleDelete trades that file for seg
// straight away.
func (l layout) remove(seg *segment, id string) (bool, error) {
	hidden := filepath.Join(filepath.Dir(l.path), atomicfile.HiddenPrefix(l.path)+id+".del")
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			backoff(attempt)
		}
		m, newer, found, err := l.neighbours(seg.ino)
		if err != nil {
			return false, err
		}
		if !found {
			return false, nil // the writer deleted it itself (logging-style rollover)
		}
		j := opJournal{Op: "delete", Slot: m.slot, SegIno: seg.ino, Hidden: hidden, Newer: newer}
		if err := l.saveOp(id, j); err != nil {
			return false, err
		}
		// The journal stays true wherever the segment has moved since: rotations move it and
		// its newer neighbour along together.
		slot, moved, err := l.follow(seg, m.slot, func(name string) error {
			if err := atomicfile.Rename(name, hidden); err != nil {
				if os.IsNotExist(err) {
					return errMovedAgain
				}
				return fmt.Errorf("move %s aside: %w", name, err)
			}
			return nil
		})
		if err != nil {
			return false, err
		}
		if !moved {
			if err := l.dropOp(id); err != nil {
				return false, err
			}
			continue // gone (the listing says so) or moving on: list the set again
		}
		j.Slot = slot
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
	}
	return false, fmt.Errorf("segment %s kept moving under a rotating writer; left for the next run", seg.name)
}

// errMovedAgain tells follow that the segment left the name it was just confirmed under.
var errMovedAgain = errors.New("the segment moved again")

// follow finds segment seg from slot on, wherever rotations have moved it since the step was
// journaled (that took milliseconds), and calls act with its name the moment the name is
// confirmed to hold it, so that only a rotation in the microseconds between those two system
// calls can get in the way. act returns errMovedAgain when the segment left the name in
// between, and the search goes on. done is false when the segment is gone from the set or
// kept moving; slot is where act succeeded.
func (l layout) follow(seg *segment, slot int, act func(name string) error) (at int, done bool, err error) {
	for range 10 {
		name, found, err := l.locate(seg.ino, slot)
		if err != nil || !found {
			return slot, false, err
		}
		if slot, err = l.rotatedSlot(name, seg); err != nil {
			return slot, false, err
		}
		if ino, err := inodeOf(name); err != nil || ino != seg.ino {
			continue // the last look, right before the call
		}
		switch err := act(name); {
		case errors.Is(err, errMovedAgain):
			continue
		case err != nil:
			return slot, false, err
		}
		return slot, true, nil
	}
	return slot, false, nil
}

// rotatedSlot returns the slot of name, which holds seg, and an error if that is the active
// file's: a rotated segment never becomes it again.
func (l layout) rotatedSlot(name string, seg *segment) (int, error) {
	slot, _ := l.slotOf(filepath.Base(name))
	if slot == 0 && l.naming == Suffix {
		return 0, fmt.Errorf("segment %s became the active file", seg.name)
	}
	return slot, nil
}

// settleDelete finishes a delete step whose rename may have happened: the hidden file is
// unlinked if it is the segment (deleted is true). If it is the segment's newer neighbour, a
// rotation moved the segment one slot older and slid the neighbour under the name: the
// neighbour is exchanged with the segment wherever that is now, which puts it in the only
// place it can belong once the segment is gone (nothing lies between them) and takes the
// segment out in the same step. Any other file goes back through restore.
func (l layout) settleDelete(j opJournal) (deleted bool, err error) {
	ino, err := inodeOf(j.Hidden)
	if os.IsNotExist(err) {
		return false, nil // the rename never happened
	}
	if err != nil {
		return false, err
	}
	if ino != j.SegIno {
		if ino != j.Newer || j.Newer == 0 {
			return false, l.restore(j.Hidden, j.Slot)
		}
		if back, err := l.putBack(j.Hidden, ino, j.SegIno, j.Slot+1, j.Slot); err != nil || !back {
			return false, err
		}
	}
	if err := atomicfile.Remove(j.Hidden); err != nil {
		return false, errs.Wrap("remove", j.Hidden, err)
	}
	return true, atomicfile.SyncDir(filepath.Dir(j.Hidden))
}

// putBack puts the file cur, which a rotation slid under a name in the instant papyrad took
// that name out of the set and which is now at hidden, back where it belongs, by exchanging it
// with partner, the file whose slot is its place: the new content of a segment being replaced
// (the exchange put it there), or the segment being deleted when cur is its newer neighbour.
// An exchange creates no name, so no rotation can overwrite the file put back, and rotations
// move every file along together, so partner's slot stays cur's place whatever rotates
// meanwhile. If a rotation lands inside the exchange too, so that it takes a third file, that
// file goes back the same way in exchange for the one that now stands in its place, and so
// on. back reports whether hidden holds partner at the end; if partner is gone (a
// logging-style writer removed it as its oldest segment), cur goes back through restore from
// takenAt, the slot it was taken from, and back is false. slot is where partner is expected.
func (l layout) putBack(hidden string, cur, partner uint64, slot, takenAt int) (back bool, err error) {
	// Files that stand in another's place: the last in cur's, each other one in the place of
	// the file after it.
	stands := []uint64{partner}
	for attempt := 0; attempt < 20; attempt++ {
		top := stands[len(stands)-1]
		name, found, err := l.locate(top, slot)
		if err != nil {
			return false, err
		}
		if !found {
			return false, l.restore(hidden, takenAt)
		}
		if k, ok := l.slotOf(filepath.Base(name)); ok {
			slot = k
		}
		err = atomicfile.Exchange(hidden, name)
		if atomicfile.IsUnsupported(err) {
			return false, l.restore(hidden, takenAt)
		}
		if os.IsNotExist(err) {
			continue // it moved again: look it up anew
		}
		if err != nil {
			return false, fmt.Errorf("put back the file moved aside by mistake: exchange %s and %s: %w", hidden, name, err)
		}
		got, err := inodeOf(hidden)
		if err != nil {
			return false, err
		}
		if got == top {
			stands = stands[:len(stands)-1]
			if len(stands) == 0 {
				return true, atomicfile.SyncDir(filepath.Dir(hidden))
			}
		} else {
			stands = append(stands, cur) // cur now stands in got's place
		}
		cur = got
	}
	return false, fmt.Errorf("%s: a file moved aside by mistake could not be put back under a rotating writer; left in place", hidden)
}

// replace puts the fsynced temp file tmp (inode newIno) in place of the rotated segment seg,
// wherever rotations have moved it: the step is journaled, then the segment's name is
// confirmed and at once exchanged with tmp; if what came out is not seg, it is exchanged back
// and the step tried again.
func (l layout) replace(seg *segment, tmp string, newIno uint64, id string) (bool, error) {
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			backoff(attempt)
		}
		m, found, err := l.nameOf(seg.ino)
		if err != nil {
			return false, err
		}
		if !found {
			// The writer deleted the segment itself; the rewrite is moot.
			if err := atomicfile.Remove(tmp); err != nil && !os.IsNotExist(err) {
				return false, err
			}
			return false, nil
		}
		if ino, err := inodeOf(tmp); err != nil || ino != newIno {
			return false, fmt.Errorf("the new content of %s is no longer at %s; the segment is left for the next run", seg.name, tmp)
		}
		j := opJournal{Op: "replace", Slot: m.slot, SegIno: seg.ino, Temp: tmp, NewIno: newIno}
		if err := l.saveOp(id, j); err != nil {
			return false, err
		}
		renamed := false // no exchange on this filesystem: the new content was renamed over
		slot, exchanged, err := l.follow(seg, m.slot, func(name string) error {
			err := atomicfile.Exchange(tmp, name)
			if atomicfile.IsUnsupported(err) {
				// No atomic exchange here: check, then rename. A rotation in between could be
				// clobbered; this is the best such a filesystem allows.
				if ino, _ := inodeOf(name); ino != seg.ino {
					return errMovedAgain
				}
				if err := atomicfile.Rename(tmp, name); err != nil {
					return fmt.Errorf("rename %s over %s: %w", tmp, name, err)
				}
				renamed = true
				return nil
			}
			if os.IsNotExist(err) {
				return errMovedAgain
			}
			if err != nil {
				return fmt.Errorf("exchange %s and %s: %w", tmp, name, err)
			}
			return nil
		})
		if err != nil {
			return false, err
		}
		if renamed {
			return true, l.dropOpSync(id) // the rename is the step's last change
		}
		if !exchanged {
			if err := l.dropOp(id); err != nil {
				return false, err
			}
			continue // gone (the listing says so) or moving on: list the set again
		}
		j.Slot = slot
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
	}
	// Every attempt ended with tmp holding the new content: nothing is left for recovery.
	_ = atomicfile.Remove(tmp)
	return false, fmt.Errorf("segment %s kept moving under a rotating writer; left for the next run", seg.name)
}

// settleReplace finishes a replace step whose exchange may have happened. It reports whether
// the segment now holds the new content. When the exchange took another file out (a rotation
// slid it under the name), putBack trades it for the new content, which stands in its place.
// keepTemp keeps the new content for another attempt; recovery, which will not retry, removes
// it.
func (l layout) settleReplace(j opJournal, keepTemp bool) (bool, error) {
	ino, err := inodeOf(j.Temp)
	if os.IsNotExist(err) {
		return true, nil // the old content was already removed after a good exchange
	}
	if err != nil {
		return false, err
	}
	switch ino {
	case j.SegIno:
		if err := atomicfile.Remove(j.Temp); err != nil {
			return false, err
		}
		return true, atomicfile.SyncDir(filepath.Dir(j.Temp))
	case j.NewIno:
		// Not exchanged.
	default:
		back, err := l.putBack(j.Temp, ino, j.NewIno, j.Slot, j.Slot)
		if err != nil || !back {
			return false, err
		}
	}
	if keepTemp {
		return false, nil
	}
	return false, atomicfile.Remove(j.Temp)
}

// recoverOps finishes or undoes the segment steps that crashed runs left journaled.
func (l layout) recoverOps() error {
	dir := filepath.Dir(l.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return errs.Wrap("list", dir, err)
	}
	prefix := atomicfile.HiddenPrefix(l.path)
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if atomicfile.IsTemp(e.Name()) || strings.HasSuffix(rest, opSuffix+".new") {
			// A step journal's temp file, left by a run killed while writing it (".seg.new":
			// by versions before atomicfile.WriteFile).
			_ = atomicfile.Remove(filepath.Join(dir, e.Name()))
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
			err = l.dropOpSync(id)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Deleted segments moved aside without a journal cannot exist: the journal is written
	// first. Leftover ".del" files are therefore only ever journaled ones, settled above.
	return errors.Join(errs...)
}

// journaledTemp reports whether a step journal beside the set names tmp as its temp: a step
// cut short by an error may have left a file of the set there (an exchange that took the
// wrong file and could not be undone), so only recovery, which reads the journal, may remove it.
func (l layout) journaledTemp(tmp string) bool {
	dir := filepath.Dir(l.path)
	entries, _ := os.ReadDir(dir)
	prefix := atomicfile.HiddenPrefix(l.path)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !strings.HasSuffix(e.Name(), opSuffix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var j opJournal
		if json.Unmarshal(b, &j) == nil && j.Temp == tmp {
			return true
		}
	}
	return false
}

// backoff waits a little longer after each attempt that a rotation got in the way of, so that a
// writer renaming many segments can finish.
func backoff(attempt int) {
	time.Sleep(time.Duration(attempt+1) * 2 * time.Millisecond)
}
