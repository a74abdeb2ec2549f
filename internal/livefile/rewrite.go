package livefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/lease"
)

// Rewrite is one replacement of a store file: a temp file being filled (Write), then
// committed over the store and the old inode drained (Finish). The caller owns the old
// descriptor and closes it after Finish or Abort.
type Rewrite struct {
	path      string
	id        string
	old       *os.File
	dev       uint64
	oldIno    uint64
	tmpName   string
	tmp       *os.File
	buf       *atomicfile.StreamWriter
	written   int64
	carried   int64
	sidecars  []Sidecar
	linked    bool
	j         *journal
	committed time.Time
	done      bool
	reopened  int
	unordered bool         // the commit that stood had no lease to guard it, and none could be had
	held      *lease.Lease // the commit's lease on the old file, handed to the drain
	scratch   []byte       // what catchUp reads the old file through (see prefaulted)
	newSize   int64        // the new file's size at the commit
}

// Begin creates the temp file that will replace the store at path, whose open descriptor is
// old. The temp gets the store's owner, group, mode and extended attributes before any
// content; if that is not possible the error says so and nothing is left behind.
func Begin(path string, old *os.File, runID string) (*Rewrite, error) {
	fi, err := old.Stat()
	if err != nil {
		return nil, errs.Wrap("stat", path, err)
	}
	st := statOf(fi)
	if st == nil {
		return nil, fmt.Errorf("stat %s: no inode information", path)
	}
	tmp, err := CreateTemp(path, old, runID)
	if err != nil {
		return nil, err
	}
	return &Rewrite{
		path:    path,
		id:      runID,
		old:     old,
		dev:     uint64(st.Dev),
		oldIno:  st.Ino,
		tmpName: tmp.Name(),
		tmp:     tmp,
		buf:     atomicfile.NewStreamWriter(tmp),
		scratch: prefaulted(make([]byte, scanBlock)),
	}, nil
}

// prefaulted writes to every page of b and returns it. The last catch-up reads into its
// buffer while it holds the commit's lease, and a writer that opens the file meanwhile undoes
// the commit: memory the process has not touched yet would cost a page fault per 4 KiB there,
// tens of microseconds each on a virtual machine, where the whole catch-up of a few records
// otherwise takes about as long.
func prefaulted(b []byte) []byte {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 0
	}
	return b
}

// CreateTemp creates papyrad's hidden temp file for run runID beside the store at path
// (".papyrad.<base>.<run>.tmp", O_EXCL, never following a link) with the owner, group, mode
// and extended attributes (ACLs included) of like, an open descriptor of the file it will
// replace. If they cannot all be given, the error names what could not, and nothing is left
// behind. Recover removes such a file when its run died before using it.
func CreateTemp(path string, like *os.File, runID string) (*os.File, error) {
	fi, err := like.Stat()
	if err != nil {
		return nil, errs.Wrap("stat", like.Name(), err)
	}
	st := statOf(fi)
	if st == nil {
		return nil, fmt.Errorf("stat %s: no inode information", path)
	}
	tmpName := hiddenName(path, runID, suffixTemp)
	tmp, err := atomicfile.Create(tmpName, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	fail := func(what string, err error) (*os.File, error) {
		_ = tmp.Close()
		_ = atomicfile.Remove(tmpName)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var tst unix.Stat_t
	if err := unix.Fstat(int(tmp.Fd()), &tst); err != nil {
		return fail("stat temp file", err)
	}
	// The mode first, while papyrad still owns the file (no privilege needed), then the owner
	// (CAP_CHOWN when it is another user), then set-id bits, which a chown clears. The
	// extended attributes last: setting an ACL sets the mode's group bits to its mask, and a
	// chmod after it would set the mask to the mode's group bits.
	mode := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if err := tmp.Chmod(mode &^ (os.ModeSetuid | os.ModeSetgid)); err != nil {
		return fail(fmt.Sprintf("give the rewritten file the store's mode %v", mode), err)
	}
	if tst.Uid != st.Uid || tst.Gid != st.Gid {
		if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil {
			return fail(fmt.Sprintf("give the rewritten file the store's owner %d:%d", st.Uid, st.Gid), err)
		}
	}
	if mode&(os.ModeSetuid|os.ModeSetgid) != 0 {
		if err := tmp.Chmod(mode); err != nil {
			return fail(fmt.Sprintf("give the rewritten file the store's mode %v", mode), err)
		}
	}
	if err := atomicfile.CopyXattrs(like, tmp); err != nil {
		return fail("give the rewritten file the store's extended attributes", err)
	}
	if err := unix.Fstat(int(tmp.Fd()), &tst); err != nil {
		return fail("stat temp file", err)
	}
	if tst.Mode&07777 != st.Mode&07777 {
		return fail("give the rewritten file the store's mode and ACL",
			fmt.Errorf("its mode is %#o after the extended attributes were copied, the store's is %#o", tst.Mode&07777, st.Mode&07777))
	}
	return tmp, nil
}

// Write appends p to the temp file.
func (r *Rewrite) Write(p []byte) (int, error) {
	n, err := r.buf.Write(p)
	r.written += int64(n)
	if err != nil {
		return n, errs.Wrap("write", r.tmpName, err)
	}
	return n, nil
}

// Written is the number of bytes written to the temp file so far.
func (r *Rewrite) Written() int64 { return r.written }

// AddSidecar registers a file, already written and fsynced under s.Pending, that must be
// renamed to s.Final when and only when the store is replaced.
func (r *Rewrite) AddSidecar(s Sidecar) { r.sidecars = append(r.sidecars, s) }

// catchUp copies into the temp file, byte for byte, every complete line appended to the old
// file between from and its current end, and returns the offset after the last line copied.
// A lone "\r" at the end is not taken as a terminator: it may be the first half of "\r\n".
// CarriedLines counts the lines copied this way.
func (r *Rewrite) catchUp(ctx context.Context, from int64) (int64, error) {
	fi, err := r.old.Stat()
	if err != nil {
		return from, errs.Wrap("stat", r.path, err)
	}
	end, err := lastLineEndIn(r.scratch, r.old, from, fi.Size(), false)
	if err != nil {
		return from, errs.Wrap("read", r.path, err)
	}
	if end <= from {
		return from, nil
	}
	if err := ctx.Err(); err != nil {
		return from, err
	}
	lc := &lineCounter{w: r}
	if _, err := io.CopyBuffer(lc, io.NewSectionReader(r.old, from, end-from), r.scratch); err != nil {
		return from, fmt.Errorf("copy lines appended during the run: %w", err)
	}
	r.carried += int64(lc.lines)
	return end, nil
}

// CarriedLines is the number of lines appended during the run that were copied into the temp
// file before the commit.
func (r *Rewrite) CarriedLines() int64 { return r.carried }

// lineCounter counts the lines written through it. Each chunk it sees ends wherever the copy
// cut it, so a "\r\n" split across chunks is remembered.
type lineCounter struct {
	w      io.Writer
	lines  int
	lastCR bool
}

func (c *lineCounter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		c.lines += countLines(p)
		if c.lastCR && p[0] == '\n' {
			c.lines--
		}
		c.lastCR = p[len(p)-1] == '\r'
	}
	return c.w.Write(p)
}

// Prepare writes what is buffered to the temp file and fsyncs it, so that a failure to write
// (ENOSPC) shows while the caller can still give up without having changed anything else.
// The commit does it too, for what the catch-up adds after.
func (r *Rewrite) Prepare() error {
	if err := r.buf.Flush(); err != nil {
		return errs.Wrap("write", r.tmpName, err)
	}
	if err := atomicfile.Sync(r.tmp); err != nil {
		return errs.Wrap("fsync", r.tmpName, err)
	}
	return nil
}

// commit makes the temp file the store. copied is the offset in the old file up to which its
// content is now in the temp file; what lies after it is forwarded by drain. On error before
// the exchange the store is untouched and the caller must call Abort.
//
// With ordered set, the last catch-up and the exchange happen under a read lease on the old
// file (see orderLease), and in as short a window as possible: everything slow (the fsync of
// the temp file, the ".old" name, the journal) happens before the lease is taken; the lines
// of the last catch-up are fsynced after the exchange, and until the journal says they are,
// recovery looks for them in the new file as for a forward. If a writer opens the old file
// for writing in that window, the exchange is undone and the error is
// errs.ErrOpenedDuringCommit: the store is the old file again, its record lands there in
// order, and the caller commits again from the offset returned.
func (r *Rewrite) commit(ctx context.Context, copied int64, ordered bool) (int64, error) {
	if err := ctx.Err(); err != nil {
		return copied, err
	}
	if err := r.buf.Flush(); err != nil {
		return copied, errs.Wrap("write", r.tmpName, err)
	}
	if err := atomicfile.Sync(r.tmp); err != nil {
		return copied, errs.Wrap("fsync", r.tmpName, err)
	}
	var tst unix.Stat_t
	if err := unix.Fstat(int(r.tmp.Fd()), &tst); err != nil {
		return copied, errs.Wrap("stat", r.tmpName, err)
	}
	oldName := hiddenName(r.path, r.id, suffixOld)
	if !r.linked {
		if err := atomicfile.LinkOpen(r.old, r.path, oldName); err != nil {
			return copied, errs.Wrap("keep the old inode reachable as", oldName, err)
		}
		r.linked = true
	}
	r.j = &journal{
		Version: 1, Store: r.path, RunID: r.id, Dev: r.dev,
		OldIno: r.oldIno, NewIno: tst.Ino, Copied: copied, Sidecars: r.sidecars,
		Final: &finalStep{DestSize: tst.Size},
	}
	if err := r.j.save(); err != nil {
		return copied, err
	}
	if ino, err := inodeOf(r.path); err != nil || ino != r.oldIno {
		return copied, errs.ErrReplaced
	}
	var l *lease.Lease
	noLease := !ordered
	if ordered {
		l, noLease = r.orderLease(ctx)
	}
	final := copied
	if l != nil {
		var err error
		final, err = r.catchUp(ctx, copied)
		if err == nil {
			err = r.buf.Flush()
		}
		if err != nil {
			_ = l.Release()
			return copied, errs.Wrap("write", r.tmpName, err)
		}
	}
	if broken(l) {
		// A writer is opening the old file already: let it write there first.
		_ = l.Release()
		return final, errs.ErrOpenedDuringCommit
	}
	if err := r.swapIn(l); err != nil {
		_ = l.Release()
		return final, err
	}
	// The lease stays held into the drain: any open of the old file for writing from before
	// the exchange on breaks it, so an unbroken lease proves at once what MinDrain's wait
	// only makes likely.
	r.held = l
	// The last catch-up copied old[copied:final] byte for byte; the application may have
	// appended since the exchange, so the size is not asked of the file.
	r.unordered, r.newSize = noLease, tst.Size+(final-copied)
	if final > copied {
		if err := atomicfile.Sync(r.tmp); err != nil {
			return final, errs.Wrap("fsync", r.path, err)
		}
	}
	r.buf.Release() // flushed before the fsync above
	if err := r.tmp.Close(); err != nil {
		return final, errs.Wrap("close", r.path, err)
	}
	r.tmp = nil
	r.j.Copied, r.j.Final = final, nil
	if len(r.sidecars) > 0 {
		if err := r.j.finalizeSidecars(); err != nil {
			return final, err
		}
	}
	return final, r.j.save()
}

// swapIn puts the temp file at the store's name. Where the filesystem can exchange two names
// atomically it does, and then checks that what it took out is the inode it read: if another
// program replaced the store in the instant since the check above, the exchange is undone and
// the run gives up. Elsewhere it renames. Once the store holds the temp file the run has
// committed, even if what follows fails: the journal then drives recovery.
//
// l, if not nil, is a read lease on the old file: if it was broken the exchange is undone
// (errs.ErrOpenedDuringCommit); otherwise it is released as soon as the exchange stands.
func (r *Rewrite) swapIn(l *lease.Lease) error {
	replaced, err := atomicfile.Replace(r.tmpName, r.path, func(out string) error {
		// out holds the old inode now, which ".old" keeps reachable.
		if ino, err := inodeOf(out); err != nil || ino != r.oldIno {
			return errs.ErrReplaced
		}
		if broken(l) {
			// A writer resolved the old name before the exchange and waits for the lease
			// to open it: its record goes to the old file, ahead of what is in the new.
			return errs.ErrOpenedDuringCommit
		}
		// The lease is not in the way of writers from here on: they find the new file.
		return nil
	})
	if replaced {
		r.committed = time.Now()
		r.done = true
	}
	if err != nil {
		return errs.Wrap("put the rewritten file at", r.path, err)
	}
	return nil
}

// broken reports whether the lease l (nil: none) was broken by an open for writing.
func broken(l *lease.Lease) bool {
	if l == nil {
		return false
	}
	b, err := l.Broken()
	return b || err != nil
}

// Committed reports whether the store has been replaced.
func (r *Rewrite) Committed() bool { return r.done }

// Abort removes everything the run created if it has not committed; after a commit it does
// nothing (the journal then drives recovery). It is safe to call more than once.
func (r *Rewrite) Abort() {
	_ = r.held.Release()
	r.held = nil
	if r.done {
		return
	}
	r.done = true
	if r.tmp != nil {
		r.buf.Release()
		_ = r.tmp.Close()
		r.tmp = nil
	}
	_ = atomicfile.Remove(r.tmpName)
	if r.linked {
		_ = atomicfile.Remove(hiddenName(r.path, r.id, suffixOld))
	}
	if r.j != nil {
		_ = r.j.remove()
	}
	discardSidecars(r.sidecars)
	_ = atomicfile.SyncDir(filepath.Dir(r.path))
}

// drain forwards what writers still add to the old inode after the commit, until none holds it.
func (r *Rewrite) drain(ctx context.Context, opts DrainOptions) (DrainResult, error) {
	if r.j == nil || !r.done {
		return DrainResult{}, errors.New("drain before commit")
	}
	d := &drainer{j: r.j, old: r.old, committed: r.committed, unordered: r.unordered, destEnd: r.newSize, held: r.held}
	r.held = nil
	return d.run(ctx, opts)
}

// lastLineEnd returns the offset just after the last line terminator in f[from:size], or from
// if there is none. finalCR says whether a "\r" at size counts as a terminator.
func lastLineEnd(f io.ReaderAt, from, size int64, finalCR bool) (int64, error) {
	return lastLineEndIn(make([]byte, scanBlock), f, from, size, finalCR)
}

// scanBlock is how much lastLineEnd reads at a time.
const scanBlock = 64 << 10

// lastLineEndIn is lastLineEnd reading through buf.
func lastLineEndIn(buf []byte, f io.ReaderAt, from, size int64, finalCR bool) (int64, error) {
	block := int64(len(buf))
	hi := size
	for hi > from {
		lo := max(from, hi-block)
		n, err := f.ReadAt(buf[:hi-lo], lo)
		if err != nil && !(errors.Is(err, io.EOF) && int64(n) == hi-lo) {
			return from, err
		}
		for i := n - 1; i >= 0; i-- {
			switch buf[i] {
			case '\n':
				return lo + int64(i) + 1, nil
			case '\r':
				pos := lo + int64(i)
				if pos+1 < size || finalCR {
					// pos+1 < size and the next byte is not "\n" (we would have stopped there).
					return pos + 1, nil
				}
			}
		}
		hi = lo
	}
	return from, nil
}
