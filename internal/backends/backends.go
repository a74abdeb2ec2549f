// Package backends holds what every store backend shares. Each kind of store has a package of
// its own below this one (jsonfile, memory, ...); only cmd/papyrad and the CLI wiring import
// them, everything else sees a store through the small interfaces it defines itself.
package backends

import (
	"time"

	"github.com/papyrad/papyrad/internal/archive"
	"github.com/papyrad/papyrad/internal/report"
	"github.com/papyrad/papyrad/internal/retention"
)

// Options modify one compaction run.
type Options struct {
	// DryRun reports what a run would do without writing anything.
	DryRun bool
	// Progress, if set, is called now and then with the phase, the bytes processed and the
	// total, for a progress display.
	Progress func(phase string, done, total int64)
	// Reserve, if set, must be called before a run writes a file, with the file's path and
	// the most it will write. It returns an error wrapping errs.ErrDiskRefused when the filesystem
	// cannot take it, and otherwise a function that gives the reservation back when the run
	// is over. A run that only deletes does not call it.
	Reserve func(path string, bytes int64) (release func(), err error)
}

// ReserveSpace calls o.Reserve if it is set.
func (o Options) ReserveSpace(path string, bytes int64) (release func(), err error) {
	if o.Reserve == nil {
		return func() {}, nil
	}
	return o.Reserve(path, bytes)
}

// SetCounts writes a run's retention figures into its report.
func SetCounts(rep *report.Report, c retention.Counts) {
	rep.RecordsBefore, rep.RecordsAfter = c.Records, c.Kept
	rep.RecordsDropped = c.DroppedAge + c.DroppedCount + c.DroppedBytes
	rep.DroppedByAge, rep.DroppedByCount, rep.DroppedByBytes = c.DroppedAge, c.DroppedCount, c.DroppedBytes
	rep.RecordsQuarantined, rep.BlankLines = c.NonRecords, c.Blanks
	rep.OldestRecordTimestamp = nil
	if c.HasOldestKept {
		ts := c.OldestKept
		rep.OldestRecordTimestamp = &ts
	}
}

// PruneArchive removes the store's archive files older than the archive's max_age after a
// successful run, and records it in rep. A failure to prune does not fail the run that has
// already compacted the store: it is a warning, and the next run tries again.
func PruneArchive(rep *report.Report, cfg *archive.Config, store string, now time.Time) {
	if cfg == nil || rep.DryRun {
		return
	}
	n, err := archive.Prune(*cfg, store, now)
	rep.ArchivesPruned = n
	if err != nil {
		rep.Warnings = append(rep.Warnings, "pruning old archive files: "+err.Error())
	}
}
