package livefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/papyrad/papyrad/internal/atomicfile"
	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/lease"
)

// DrainOptions bound how long a run waits for writers that still hold the replaced inode.
type DrainOptions struct {
	// MinDrain is the shortest wait after the rename before the old inode may be released: a
	// writer that looked the path up just before the rename may not have opened it yet.
	MinDrain time.Duration
	// Timeout is how long to wait for holders to go. Past it the run leaves the old inode
	// pending: it is forwarded again by later runs.
	Timeout time.Duration
	// Poll is the interval between checks.
	Poll time.Duration
	// Locate, if set, finds the file that holds inode ino now, for stores whose files move
	// (a rotating set): a forward cut short by a crash is then looked for in the file it went
	// to even if a rotation renamed it since. Without it only the store's own name is looked at.
	Locate func(ino uint64) (string, bool)
	// Grace is the partial-line grace: when the drain ends on an unterminated line and the old
	// inode changed within it, the line is moved as it is (it stays at the end of the store,
	// like a write in progress); older, it gets a newline so it cannot swallow the next record.
	Grace time.Duration
}

func (o DrainOptions) withDefaults() DrainOptions {
	if o.MinDrain <= 0 {
		o.MinDrain = 50 * time.Millisecond
	}
	if o.Timeout < o.MinDrain {
		o.Timeout = o.MinDrain
	}
	if o.Poll <= 0 {
		o.Poll = 10 * time.Millisecond
	}
	return o
}

// DrainResult says what the drain forwarded and whether the old inode is still pending.
type DrainResult struct {
	ForwardedBytes int64
	ForwardedLines int
	// Pending is true when the old inode could not be let go by the deadline: a writer held
	// it open, or nothing could prove that none did. Holders names the writers papyrad could
	// see (possibly none: another user's or another PID namespace's processes are hidden
	// from it); Unproven says why no proof could be had, when that was the reason.
	Pending  bool
	Holders  []Holder
	Unproven string
	// Overtaken counts forwarded lines that went after lines the application had added to
	// the new file meanwhile, where no lease guarded the commit: a writer's records may be
	// out of order there (papyrad had no way to keep a writer from opening the old file
	// in the instant of the commit).
	Overtaken int
	// NoStore is true when the store's name was gone (moved away by the application) so that
	// nothing could be forwarded: papyrad never creates it.
	NoStore bool
}

// maxForward bounds one forwarded block, so a long backlog is journaled in steps.
const maxForward = 4 << 20

type drainer struct {
	j         *journal
	old       *os.File
	committed time.Time // zero when resumed by recovery: MinDrain has long passed
	// unordered says no lease could guard the commit (none can be had here, or writers kept
	// breaking it), so that a forward that follows lines the application added to the new
	// file may put a writer's records out of order. (Where a writer held the old file, the
	// commit went on without a lease too; what is forwarded then is that writer's, in its
	// own order, and is not counted.)
	// destEnd is the new file's size after papyrad's last write to it (0: unknown).
	unordered bool
	destEnd   int64
	// held is the commit's read lease on the old file, held since before the exchange; while
	// unbroken it proves that nobody has opened the old file for writing since, so the drain
	// need not wait MinDrain for a writer that resolved the store's name before the exchange.
	held *lease.Lease
}

func (d *drainer) oldName() string { return hiddenName(d.j.Store, d.j.RunID, suffixOld) }

func (d *drainer) run(ctx context.Context, opts DrainOptions) (DrainResult, error) {
	opts = opts.withDefaults()
	defer func() { _ = d.held.Release() }() // if the drain ends before release took it
	var res DrainResult
	deadline := time.Now().Add(opts.Timeout)
	for {
		err := d.forwardAll(ctx, false, opts.Grace, &res)
		if errors.Is(err, errs.ErrNoStore) {
			// Nowhere to forward to: the old inode keeps what arrives until a later run.
			res.Pending, res.NoStore = true, true
			return res, nil
		}
		if err != nil {
			return res, err
		}
		if d.held != nil || d.committed.IsZero() || time.Since(d.committed) >= opts.MinDrain {
			done, err := d.release(ctx, opts, &res)
			if errors.Is(err, errs.ErrNoStore) {
				res.Pending, res.NoStore = true, true
				return res, nil
			}
			if err != nil || done {
				return res, err
			}
		}
		if !time.Now().Before(deadline) {
			d.pending(&res)
			d.punch()
			return res, nil
		}
		select {
		case <-ctx.Done():
			d.pending(&res)
			return res, ctx.Err()
		case <-time.After(opts.Poll):
		}
	}
}

// release ends the drain if the kernel proves that nobody holds the old inode open for
// writing: under a read lease (which any open for writing, in any process, user or PID
// namespace, would have been refused or would break), it forwards what is left, removes the
// old inode's name and the journal. It reports false, with res.Unproven saying why when that
// is the reason, when a writer holds the inode or when no lease can be had (papyrad neither owns
// the file nor has CAP_LEASE, or the filesystem has no leases): then nothing is removed.
func (d *drainer) release(ctx context.Context, opts DrainOptions, res *DrainResult) (bool, error) {
	l, err := d.takeHeld()
	if l == nil {
		l, err = lease.Take(d.old, lease.Read)
	}
	switch {
	case errors.Is(err, errs.ErrHeld):
		res.Unproven = ""
		return false, nil
	case err != nil:
		res.Unproven = err.Error()
		return false, nil
	}
	defer l.Release()
	if err := d.forwardAll(ctx, true, opts.Grace, res); err != nil {
		return false, err
	}
	if broken, err := l.Broken(); err != nil || broken {
		return false, err // a writer opened it meanwhile: go on forwarding
	}
	if err := atomicfile.Remove(d.oldName()); err != nil && !os.IsNotExist(err) {
		return false, errs.Wrap("remove", d.oldName(), err)
	}
	if broken, err := l.Broken(); err != nil || broken {
		// A writer that had looked the store's name up before the exchange opened the old
		// inode in the instant before its name went. It is held back until the lease is
		// released, then writes to an inode only this process can still read: forward it
		// from here until it closes. (Only a crash in this window loses its lines.)
		l.Release()
		return false, d.drainUnlinked(ctx, opts, res)
	}
	if err := d.j.remove(); err != nil {
		return false, fmt.Errorf("remove journal: %w", err)
	}
	res.Holders, res.Unproven = nil, ""
	return true, nil
}

// takeHeld hands over the commit's lease if it is still unbroken, and otherwise lets it go (a
// writer opened the old file: the drain goes on as without it, MinDrain included).
func (d *drainer) takeHeld() (*lease.Lease, error) {
	l := d.held
	d.held = nil
	if l == nil {
		return nil, nil
	}
	if b, err := l.Broken(); err != nil || b {
		_ = l.Release()
		return nil, nil
	}
	return l, nil
}

// drainUnlinked forwards from the old inode, whose name is gone, until nobody holds it open
// for writing; the run waits for it, whatever its drain timeout.
func (d *drainer) drainUnlinked(ctx context.Context, opts DrainOptions, res *DrainResult) error {
	for {
		if err := d.forwardAll(ctx, false, opts.Grace, res); err != nil {
			return err
		}
		writing, err := lease.OpenForWriting(d.old)
		if err != nil {
			return err
		}
		if !writing {
			if err := d.forwardAll(ctx, true, opts.Grace, res); err != nil {
				return err
			}
			return d.j.remove()
		}
		time.Sleep(opts.Poll)
	}
}

// punch gives the space of the old inode's forwarded prefix back to the filesystem: from
// here on it is only read past Copied. fallocate needs a writable descriptor, so the old
// inode is opened for writing by its hidden name, and only while that is its one name: the
// other name of a hard-linked store must keep its content. Best effort.
func (d *drainer) punch() {
	if st := statOf(mustStat(d.old)); st == nil || st.Nlink != 1 {
		return
	}
	w, err := os.OpenFile(d.oldName(), os.O_WRONLY|syscallNoFollow, 0)
	if err != nil {
		return
	}
	defer w.Close()
	if st := statOf(mustStat(w)); st == nil || st.Ino != d.j.OldIno || st.Nlink != 1 {
		return
	}
	_ = punchHole(w, d.j.Copied)
}

// pending marks the drain as ending with the old inode kept, naming the writers this process
// can see: a hint for the operator, never a proof that there are no others. /proc is walked
// once, here, not at every poll: the lease alone decides.
func (d *drainer) pending(res *DrainResult) {
	res.Pending = true
	hs, _ := openers(d.j.Dev, d.j.OldIno, d.j.Store)
	res.Holders = writers(hs)
}

// forwardAll appends every complete line of the old inode past Copied to the store. With final
// set, no writer holds the old inode any more: a lone "\r" at its end is a terminator, and an
// unterminated remainder is moved too: as it is if the old inode changed within Grace (it stays
// at the end, like the write in progress it may be), otherwise with a newline added (a writer
// died mid-record: the newline keeps it from swallowing the application's next record, and the
// next run quarantines it).
func (d *drainer) forwardAll(ctx context.Context, final bool, grace time.Duration, res *DrainResult) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.old.Stat()
		if err != nil {
			return errs.Wrap("stat", d.oldName(), err)
		}
		size := fi.Size()
		if size <= d.j.Copied {
			return nil
		}
		limit := min(size, d.j.Copied+maxForward)
		end, err := lastLineEnd(d.old, d.j.Copied, limit, final && limit == size)
		if err != nil {
			return errs.Wrap("read", d.oldName(), err)
		}
		addNewline := false
		if end == d.j.Copied {
			if limit < size {
				// One line longer than maxForward: take it whole.
				end, err = lastLineEnd(d.old, d.j.Copied, size, final)
				if err != nil {
					return errs.Wrap("read", d.oldName(), err)
				}
			}
			if end == d.j.Copied {
				if !final {
					return nil
				}
				end, addNewline = size, time.Since(fi.ModTime()) >= grace
			}
		}
		block := make([]byte, end-d.j.Copied, end-d.j.Copied+1)
		if _, err := d.old.ReadAt(block, d.j.Copied); err != nil {
			return errs.Wrap("read", d.oldName(), err)
		}
		if addNewline {
			block = append(block, '\n')
		}
		overtaken, err := d.appendBlock(block, end, addNewline)
		if err != nil {
			return err
		}
		if overtaken {
			res.Overtaken += countLines(block)
		}
		res.ForwardedBytes += int64(len(block))
		res.ForwardedLines += countLines(block)
	}
}

func countLines(b []byte) int {
	return bytes.Count(b, []byte{'\n'}) + bytes.Count(b, []byte{'\r'}) - bytes.Count(b, []byte("\r\n"))
}

// openDest opens the store for appending. It never creates it: a store papyrad created would
// be papyrad's, with papyrad's owner, and the application could no longer write it. When the
// application has moved the store away, the error wraps errs.ErrNoStore and the lines wait in
// the old inode until the application makes the store again.
func (d *drainer) openDest() (*os.File, error) {
	f, err := os.OpenFile(d.j.Store, os.O_WRONLY|os.O_APPEND|syscallNoFollow, 0)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("forward late appends to %s: %w", d.j.Store, errs.ErrNoStore)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s to forward late appends: %w", d.j.Store, err)
	}
	return f, nil
}

// reserveSlack is reserved beyond a forwarded block: a writer that appends between the
// reservation and the forward's write takes its bytes from there, not from the block's.
const reserveSlack = 64 << 10

// appendBlock appends block (old[Copied:to], plus a newline if addNewline) to the store with
// one O_APPEND write, journaled before and after. The block's space is reserved first, so that
// a full disk refuses the forward whole rather than tearing it; a write cut short all the same
// is handled by untear. overtaken reports that the block went after lines the application
// added to the new file since papyrad last wrote to it, with no lease to prove their order.
func (d *drainer) appendBlock(block []byte, to int64, addNewline bool) (overtaken bool, err error) {
	dest, err := d.openDest()
	if err != nil {
		return false, err
	}
	defer dest.Close()
	fi, err := dest.Stat()
	if err != nil {
		return false, errs.Wrap("stat", d.j.Store, err)
	}
	if err := atomicfile.Reserve(dest, fi.Size(), int64(len(block))+reserveSlack); err != nil && !atomicfile.IsUnsupported(err) {
		return false, errs.Wrap("reserve space to forward late appends to", d.j.Store, err)
	}
	st := statOf(fi)
	d.j.Forward = &forwardStep{From: d.j.Copied, To: to, DestIno: st.Ino, DestSize: fi.Size(), AddNewline: addNewline}
	if err := d.j.save(); err != nil {
		return false, err
	}
	if n, err := writeAll(dest, block); err != nil {
		return false, d.untear(dest, n, errs.Wrap("append late lines to", d.j.Store, err))
	}
	if err := atomicfile.Sync(dest); err != nil {
		return false, errs.Wrap("fsync", d.j.Store, err)
	}
	overtaken = d.unordered && d.destEnd > 0 && fi.Size() > d.destEnd
	d.destEnd = fi.Size() + int64(len(block))
	d.j.Copied, d.j.Forward = to, nil
	return overtaken, d.j.save()
}

// writeAll writes b to f, returning how much was written.
func writeAll(f *os.File, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := atomicfile.Write(f, b[done:])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
