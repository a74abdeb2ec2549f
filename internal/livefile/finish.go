package livefile

import (
	"context"
)

// Catch-up rounds: each copies what arrived during the previous one, and they stop when one
// brings less than catchUpEnough, so that the commit leaves as little as possible to forward.
const (
	catchUpRounds = 8
	catchUpEnough = 64 << 10
)

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
	err := r.commit(ctx, copied)
	if opts.AfterCommit != nil {
		opts.AfterCommit(err)
	}
	if err != nil {
		return res, err
	}
	res.Committed, res.CarriedLines = true, r.carried
	res.Drain, res.DrainErr = r.drain(context.WithoutCancel(ctx), opts.Drain)
	return res, nil
}
