package livefile

import (
	"context"
	"errors"
	"time"

	"github.com/papyrad/papyrad/internal/errs"
	"github.com/papyrad/papyrad/internal/lease"
)

// Catch-up rounds: each copies what arrived during the previous one, and they stop when one
// brings less than catchUpEnough, so that the commit leaves as little as possible to forward.
const (
	catchUpRounds = 8
	catchUpEnough = 64 << 10
)

// A commit is tried under a lease at most orderedTries times; a writer that has the file open
// keeps the lease from being had for at most orderedWait before the commit goes on without:
// a long-lived writer's lines are forwarded in its own order anyway. A try is undone when a
// writer opens the file in the tenth of a millisecond between the lease and the exchange, or
// in a moment the scheduler takes from papyrad there: on two busy cores, a writer appending
// every millisecond undid 20 tries in a row about once in six test suites. Tries after the
// first cost a small fsync and a journal save each.
const (
	orderedTries = 100
	orderedWait  = 20 * time.Millisecond
)

// orderLease takes a read lease on the old file, waiting up to orderedWait for a writer that
// has it open to close it; noLease reports that none can be had here at all. While it is held, nobody can open the old file for writing without
// the kernel holding the opener back and telling (the lease breaks): the last catch-up then
// takes every line, and none that reaches the old file after it can be overtaken by a later
// one in the new file. It returns nil when no lease can be had: a writer holds the file, or
// leases are not available here.
func (r *Rewrite) orderLease(ctx context.Context) (l *lease.Lease, noLease bool) {
	deadline := time.Now().Add(orderedWait)
	for {
		l, err := lease.Take(r.old, lease.Read)
		if err == nil {
			return l, false
		}
		if !errors.Is(err, errs.ErrHeld) || !time.Now().Before(deadline) || ctx.Err() != nil {
			return nil, errors.Is(err, errs.ErrNoLease)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// FinishOptions bound the drain and let the caller act at the two moments of a replacement
// that concern files of its own.
type FinishOptions struct {
	// Drain bounds the wait for writers that still hold the replaced inode.
	Drain DrainOptions
	// BeforeCommit, if set, runs once the temp file holds everything appended so far, just
	// before the commit: the place to make durable what must exist before the store changes
	// (seal an archive, add a quarantine file with AddSidecar). An error stops the replacement
	// with the store untouched.
	BeforeCommit func() error
	// AfterCommit, if set, runs right after the commit, whatever its outcome (commitErr is
	// nil when the store was replaced), before the drain: the place to publish what the store
	// has lost.
	AfterCommit func(commitErr error)
}

// FinishResult says what Finish did past the commit.
type FinishResult struct {
	// Committed says the commit went through: the store is the new file.
	Committed bool
	// CarriedLines is the number of lines appended during the run and copied into the new
	// store before the commit.
	CarriedLines int64
	// Reopened counts the commits undone because a writer opened the store by its old name
	// in their instant (it then wrote there, in order, and the commit was tried again).
	Reopened int
	// Drain is what the drain forwarded, and whether the replaced inode is still pending.
	Drain DrainResult
	// DrainErr is the error that stopped the drain. The store is committed and whole; what
	// is left to forward is recorded in the journal, for recovery.
	DrainErr error
}

// Finish replaces the store with the temp file: from is the offset in the old file up to
// which its content is in the temp file. It copies the lines appended since in rounds, calls
// BeforeCommit, commits, calls AfterCommit, and drains the old inode.
//
// The error is that of the catch-up, of BeforeCommit or of the commit; the store is then
// untouched (errs.ErrReplaced when another program replaced it) and the caller must call
// Abort. The drain's outcome is in the result. The drain is not cut short when ctx is
// cancelled: it is bounded by its own timeout, and stopping it would hold back lines the
// application wrote into the replaced file until the next run.
func (r *Rewrite) Finish(ctx context.Context, from int64, opts FinishOptions) (FinishResult, error) {
	var res FinishResult
	copied := from
	for range catchUpRounds {
		next, err := r.catchUp(ctx, copied)
		if err != nil {
			return res, err
		}
		grew := next - copied
		copied = next
		if grew < catchUpEnough {
			break
		}
	}
	if opts.BeforeCommit != nil {
		if err := opts.BeforeCommit(); err != nil {
			return res, err
		}
	}
	var err error
	for try := 0; ; try++ {
		copied, err = r.commit(ctx, copied, try < orderedTries)
		if !errors.Is(err, errs.ErrOpenedDuringCommit) {
			break
		}
		r.reopened++
	}
	if opts.AfterCommit != nil {
		opts.AfterCommit(err)
	}
	if err != nil {
		_ = r.held.Release()
		r.held = nil
		return res, err
	}
	res.Committed, res.CarriedLines, res.Reopened = true, r.carried, r.reopened
	res.Drain, res.DrainErr = r.drain(context.WithoutCancel(ctx), opts.Drain)
	return res, nil
}
