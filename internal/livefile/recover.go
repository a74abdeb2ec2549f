package livefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
)

// RecoverResult says what recovery found beside a store.
type RecoverResult struct {
	RemovedTemps   int // temp files and links of runs that died before their commit
	RolledBack     int // journaled runs that died before their commit
	Resumed        int // committed runs whose drain was finished now
	ForwardedBytes int64
	ForwardedLines int
	Pending        int // old inodes still held open by a writer, or not proven free of one
	Holders        []Holder
	Unproven       string // why no proof could be had, when that kept one pending
	NoStore        bool   // the store's name was gone: nothing could be forwarded
	// Glued counts lines a forward cut short by a crash left glued to another writer's
	// record, where the cut could not be told apart: the next run quarantines them.
	Glued int
}

// addDrain counts what a drain (or a repair's drain) did.
func (res *RecoverResult) addDrain(dr DrainResult) {
	res.ForwardedBytes += dr.ForwardedBytes
	res.ForwardedLines += dr.ForwardedLines
	if dr.Pending {
		res.Pending++
		res.Holders = append(res.Holders, dr.Holders...)
		if dr.Unproven != "" {
			res.Unproven = dr.Unproven
		}
		res.NoStore = res.NoStore || dr.NoStore
	}
}

// Recover finishes or undoes what earlier runs left beside the store at path. It must be called
// with the store's lock held, before anything else touches the store.
func Recover(ctx context.Context, path string, opts DrainOptions) (RecoverResult, error) {
	var res RecoverResult
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return res, errs.Wrap("list", dir, err)
	}
	type runFiles struct{ tmp, old, journal, journalTmp bool }
	runs := map[string]*runFiles{}
	var errs []error
	for _, e := range entries {
		if atomicfile.IsTemp(e.Name()) && strings.HasPrefix(e.Name(), atomicfile.HiddenPrefix(path)) {
			// A journal's temp file, left by a run killed while writing it.
			if err := atomicfile.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
			}
			continue
		}
		id, suffix, ok := parseOwn(path, e.Name())
		if !ok {
			continue
		}
		rf := runs[id]
		if rf == nil {
			rf = &runFiles{}
			runs[id] = rf
		}
		switch suffix {
		case suffixTemp:
			rf.tmp = true
		case suffixOld:
			rf.old = true
		case suffixJournal:
			rf.journal = true
		case suffixJournalTmp:
			rf.journalTmp = true
		}
	}
	ids := make([]string, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rf := runs[id]
		if rf.journalTmp {
			_ = atomicfile.Remove(hiddenName(path, id, suffixJournalTmp))
		}
		if !rf.journal {
			for _, s := range []string{suffixTemp, suffixOld} {
				if err := atomicfile.Remove(hiddenName(path, id, s)); err == nil {
					res.RemovedTemps++
				} else if !os.IsNotExist(err) {
					errs = append(errs, err)
				}
			}
			continue
		}
		if err := recoverRun(ctx, path, id, opts, &res); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", id, err))
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

func recoverRun(ctx context.Context, path, id string, opts DrainOptions, res *RecoverResult) error {
	j, err := loadJournal(journalPath(path, id))
	if err != nil {
		return err
	}
	if j.Store != path {
		// The store was configured under another name; the journal speaks for that one.
		j.Store = path
	}
	tmpName := hiddenName(path, id, suffixTemp)
	oldName := hiddenName(path, id, suffixOld)
	tmpIno, tmpErr := inodeOf(tmpName)
	switch {
	case tmpErr == nil && tmpIno == j.NewIno:
		// Died before the rename: the store is the old inode, untouched.
		_ = atomicfile.Remove(tmpName)
		_ = atomicfile.Remove(oldName)
		discardSidecars(j.Sidecars)
		res.RolledBack++
		return j.remove()
	case tmpErr == nil && tmpIno == j.OldIno:
		// Died right after the exchange: the temp name still holds the old inode.
		if err := atomicfile.Remove(tmpName); err != nil {
			return err
		}
	case tmpErr == nil:
		// Died right after an exchange that took another file: something (a rotating writer)
		// replaced the store between the run's check and its exchange. The new content is
		// still at the store's name: exchange back, and the store is as it was.
		if pathIno, err := inodeOf(path); err != nil || pathIno != j.NewIno {
			return fmt.Errorf("%s is not the file the journal describes, and %s does not hold the run's new content; left in place", tmpName, path)
		}
		if err := atomicfile.Exchange(tmpName, path); err != nil {
			return fmt.Errorf("undo the exchange of %s and %s: %w", tmpName, path, err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
			return err
		}
		_ = atomicfile.Remove(tmpName)
		_ = atomicfile.Remove(oldName)
		discardSidecars(j.Sidecars)
		res.RolledBack++
		return j.remove()
	case !os.IsNotExist(tmpErr):
		return tmpErr
	}
	// The rename happened: the store holds the new content, the old inode is at oldName.
	if err := j.finalizeSidecars(); err != nil {
		return err
	}
	old, err := os.OpenFile(oldName, os.O_RDONLY|syscallNoFollow, 0)
	if os.IsNotExist(err) {
		// The drain had finished and removed the old inode; only the journal was left.
		return j.remove()
	}
	if err != nil {
		return errs.Wrap("open", oldName, err)
	}
	defer old.Close()
	if st := statOf(mustStat(old)); st == nil || st.Ino != j.OldIno || uint64(st.Dev) != j.Dev {
		return fmt.Errorf("%s is not the inode the journal describes; left in place", oldName)
	}
	if j.Final != nil {
		// Died between the exchange and the journal's word that the last catch-up is
		// durable: its lines may be in the new file, whole, in part or not at all. They are
		// looked for there as for a forward, with every line of the old file since Copied.
		fi, err := old.Stat()
		if err != nil {
			return errs.Wrap("stat", oldName, err)
		}
		to, err := lastLineEnd(old, j.Copied, min(fi.Size(), j.Copied+maxForward), false)
		if err != nil {
			return errs.Wrap("read", oldName, err)
		}
		if to > j.Copied && j.Forward == nil {
			j.Forward = &forwardStep{From: j.Copied, To: to, DestIno: j.NewIno, DestSize: j.Final.DestSize}
		}
		j.Final = nil
	}
	d := &drainer{j: j, old: old}
	rdr, glued, err := d.resolveForward(ctx, opts)
	res.addDrain(rdr)
	res.Glued += glued
	if err != nil {
		return err
	}
	dr, err := d.run(ctx, opts)
	res.addDrain(dr)
	if !dr.Pending && err == nil {
		res.Resumed++
	}
	return err
}

func mustStat(f *os.File) os.FileInfo {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	return fi
}
