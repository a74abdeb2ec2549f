package livefile

import (
	"os"
	"path/filepath"

	"github.com/papyrad/papyrad/internal/errs"
)

// Unfinished is a forward that a run began and did not see through (it was killed): Block,
// whole lines of a replaced file, was being appended to the file whose inode is DestIno, which
// held DestSize bytes before. A SIGKILL between two pages of that write(2) leaves a prefix of
// Block there that ends mid-line, and a writer's next record may be glued to it; the next
// run's recovery completes the block and separates the record (see torn.go).
type Unfinished struct {
	DestIno  uint64
	DestSize int64
	Block    []byte
}

// UnfinishedForwards returns the forwards the journals beside the store at path record as begun
// and not finished: what a store may show, cut short, until recovery runs. It reads the
// journals of the papyrad that runs as uid, which need not be the caller (a test that runs
// papyrad as its own user), and refuses any other's, as recovery does.
func UnfinishedForwards(path string, uid int) ([]Unfinished, error) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errs.Wrap("list", dir, err)
	}
	var out []Unfinished
	for _, e := range entries {
		id, suffix, ok := parseOwn(path, e.Name())
		if !ok || suffix != suffixJournal {
			continue
		}
		j, err := loadJournalOf(journalPath(path, id), uid)
		if err != nil {
			return nil, err
		}
		fw := j.Forward
		if fw == nil {
			continue
		}
		oldName := hiddenName(path, id, suffixOld)
		old, err := os.OpenFile(oldName, os.O_RDONLY|syscallNoFollow, 0)
		if err != nil {
			return nil, errs.Wrap("open", oldName, err)
		}
		block, err := fw.block(old, oldName)
		old.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, Unfinished{DestIno: fw.DestIno, DestSize: fw.DestSize, Block: block})
	}
	return out, nil
}
